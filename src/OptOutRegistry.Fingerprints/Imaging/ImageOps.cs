namespace OptOutRegistry.Fingerprints.Imaging;

/// <summary>Resampling filters (Pillow's definitions).</summary>
public enum ResampleFilter
{
    /// <summary>Bicubic, a = −0.5, support 2 (Pillow <c>BICUBIC</c>).</summary>
    Bicubic,

    /// <summary>Lanczos-3 windowed sinc, support 3 (Pillow <c>LANCZOS</c>, formerly <c>ANTIALIAS</c>).</summary>
    Lanczos,
}

/// <summary>
/// Grayscale conversion and resampling that reproduce Pillow's integer arithmetic (libImaging
/// <c>Convert.c</c> L24 luma and <c>Resample.c</c> two-pass convolution with 22-bit fixed-point coefficients),
/// so hashes computed from the result match those computed with Pillow.
/// </summary>
public static class ImageOps
{
    // Resample.c: PRECISION_BITS = 32 - 8 - 2.
    private const int PrecisionBits = 22;

    /// <summary>
    /// Pillow <c>convert("L")</c> from RGB(A): L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16 (ITU-R 601-2
    /// luma); alpha is ignored, as Pillow does.
    /// </summary>
    public static byte[] ToGray(PngImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var rgba = image.Rgba;
        var gray = new byte[image.Width * image.Height];
        for (var i = 0; i < gray.Length; i++)
        {
            var o = i * 4;
            gray[i] = (byte)(((rgba[o] * 19595) + (rgba[o + 1] * 38470) + (rgba[o + 2] * 7471) + 0x8000) >> 16);
        }

        return gray;
    }

    /// <summary>
    /// Composites RGBA over an opaque gray background (iscc-core: "Add gray background to image if it has alpha
    /// transparency (gray value 126)") and returns the 8-bit luma.
    /// </summary>
    public static byte[] ToGrayOnBackground(PngImage image, byte background = 126)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!image.HasAlpha)
        {
            return ToGray(image);
        }

        var rgba = image.Rgba;
        var flat = new byte[rgba.Length];
        for (var i = 0; i < rgba.Length; i += 4)
        {
            var a = rgba[i + 3];
            for (var c = 0; c < 3; c++)
            {
                // Pillow alpha_composite rounding: (src·a + dst·(255 − a) + 127) / 255.
                flat[i + c] = (byte)(((rgba[i + c] * a) + (background * (255 - a)) + 127) / 255);
            }

            flat[i + 3] = 255;
        }

        return ToGray(image with { Rgba = flat, HasAlpha = false });
    }

    /// <summary>Pillow <c>Image.resize((w, h), filter)</c> of an 8-bit single-channel image.</summary>
    public static byte[] Resize(ReadOnlySpan<byte> gray, int width, int height, int newWidth, int newHeight, ResampleFilter filter)
    {
        if (gray.Length != width * height)
        {
            throw new ArgumentException($"gray: {gray.Length} bytes for a {width}x{height} image.", nameof(gray));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(newWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(newHeight, 1);
        var (boundsH, kh, ksizeH) = Coefficients(width, newWidth, filter);
        var (boundsV, kv, ksizeV) = Coefficients(height, newHeight, filter);

        // Resample.c ImagingResampleInner: horizontal pass over the rows the vertical pass needs, then vertical.
        var needHorizontal = newWidth != width;
        var needVertical = newHeight != height;
        var firstRow = boundsV[0];
        var lastRow = boundsV[(newHeight * 2) - 2] + boundsV[(newHeight * 2) - 1];
        byte[] temp;
        if (needHorizontal)
        {
            var tempRows = lastRow - firstRow;
            temp = new byte[newWidth * tempRows];
            for (var y = 0; y < tempRows; y++)
            {
                var src = gray.Slice((y + firstRow) * width, width);
                for (var x = 0; x < newWidth; x++)
                {
                    int xmin = boundsH[x * 2], xmax = boundsH[(x * 2) + 1];
                    var ss = 1 << (PrecisionBits - 1);
                    for (var i = 0; i < xmax; i++)
                    {
                        ss += src[xmin + i] * kh[(x * ksizeH) + i];
                    }

                    temp[(y * newWidth) + x] = Clip8(ss);
                }
            }

            for (var i = 0; i < newHeight; i++)
            {
                boundsV[i * 2] -= firstRow;
            }
        }
        else
        {
            temp = gray.ToArray();
        }

        if (!needVertical)
        {
            return needHorizontal ? temp : gray.ToArray();
        }

        var output = new byte[newWidth * newHeight];
        for (var y = 0; y < newHeight; y++)
        {
            int ymin = boundsV[y * 2], ymax = boundsV[(y * 2) + 1];
            for (var x = 0; x < newWidth; x++)
            {
                var ss = 1 << (PrecisionBits - 1);
                for (var i = 0; i < ymax; i++)
                {
                    ss += temp[((ymin + i) * newWidth) + x] * kv[(y * ksizeV) + i];
                }

                output[(y * newWidth) + x] = Clip8(ss);
            }
        }

        return output;
    }

    private static byte Clip8(int v) =>
        v >= (1 << PrecisionBits << 8) ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    // Resample.c precompute_coeffs + normalize_coeffs_8bpc.
    private static (int[] Bounds, int[] Kernel, int KSize) Coefficients(int inSize, int outSize, ResampleFilter filter)
    {
        var support0 = filter == ResampleFilter.Lanczos ? 3.0 : 2.0;
        double scale = (double)inSize / outSize, filterScale = Math.Max(scale, 1.0);
        var support = support0 * filterScale;
        var ksize = ((int)Math.Ceiling(support) * 2) + 1;
        var bounds = new int[outSize * 2];
        var pre = new double[outSize * ksize];
        for (var xx = 0; xx < outSize; xx++)
        {
            var center = (xx + 0.5) * scale;
            var ww = 0.0;
            var ss = 1.0 / filterScale;
            var xmin = (int)(center - support + 0.5);
            if (xmin < 0)
            {
                xmin = 0;
            }

            var xmax = (int)(center + support + 0.5);
            if (xmax > inSize)
            {
                xmax = inSize;
            }

            xmax -= xmin;
            for (var x = 0; x < xmax; x++)
            {
                var w = Filter(filter, (x + xmin - center + 0.5) * ss);
                pre[(xx * ksize) + x] = w;
                ww += w;
            }

            for (var x = 0; x < xmax; x++)
            {
                if (ww != 0.0)
                {
                    pre[(xx * ksize) + x] /= ww;
                }
            }

            bounds[xx * 2] = xmin;
            bounds[(xx * 2) + 1] = xmax;
        }

        var kernel = new int[pre.Length];
        for (var i = 0; i < pre.Length; i++)
        {
            kernel[i] = pre[i] < 0
                ? (int)(-0.5 + (pre[i] * (1 << PrecisionBits)))
                : (int)(0.5 + (pre[i] * (1 << PrecisionBits)));
        }

        return (bounds, kernel, ksize);
    }

    private static double Filter(ResampleFilter filter, double x)
    {
        if (filter == ResampleFilter.Lanczos)
        {
            return x >= -3.0 && x < 3.0 ? Sinc(x) * Sinc(x / 3) : 0.0;
        }

        const double a = -0.5;
        if (x < 0.0)
        {
            x = -x;
        }

        if (x < 1.0)
        {
            return ((((a + 2.0) * x) - (a + 3.0)) * x * x) + 1;
        }

        return x < 2.0 ? ((((((x - 5) * x) + 8) * x) - 4) * a) : 0.0;
    }

    private static double Sinc(double x)
    {
        if (x == 0.0)
        {
            return 1.0;
        }

        x *= Math.PI;
        return Math.Sin(x) / x;
    }
}
