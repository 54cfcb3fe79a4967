using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Imaging;

/// <summary>
/// Perceptual image hashes compatible with the Python <c>imagehash</c> library (average, difference and DCT
/// hashes over a Pillow-equivalent LANCZOS-resized grayscale image), and the ISCC Image-Code pipeline from a
/// decoded PNG. Hashes are returned as bytes, bits row-major and most significant first (imagehash's hex form).
/// </summary>
public static class ImageHashes
{
    /// <summary>imagehash <c>average_hash</c>: bit = pixel &gt; mean, over a hashSize × hashSize thumbnail.</summary>
    public static byte[] AverageHash(PngImage image, int hashSize = 8)
    {
        var gray = ImageOps.Resize(ImageOps.ToGray(image), image.Width, image.Height, hashSize, hashSize, ResampleFilter.Lanczos);
        return AverageHashOfThumbnail(gray);
    }

    /// <summary>The bit rule of <c>average_hash</c> on an already resized thumbnail.</summary>
    public static byte[] AverageHashOfThumbnail(ReadOnlySpan<byte> thumbnail)
    {
        double sum = 0;
        foreach (var p in thumbnail)
        {
            sum += p;
        }

        var mean = sum / thumbnail.Length;
        var bits = new bool[thumbnail.Length];
        for (var i = 0; i < bits.Length; i++)
        {
            bits[i] = thumbnail[i] > mean;
        }

        return Pack(bits);
    }

    /// <summary>imagehash <c>dhash</c>: bit[r][c] = px[r][c+1] &gt; px[r][c] over a (hashSize+1) × hashSize thumbnail.</summary>
    public static byte[] DifferenceHash(PngImage image, int hashSize = 8)
    {
        var gray = ImageOps.Resize(ImageOps.ToGray(image), image.Width, image.Height, hashSize + 1, hashSize, ResampleFilter.Lanczos);
        return DifferenceHashOfThumbnail(gray, hashSize);
    }

    /// <summary>The bit rule of <c>dhash</c> on an already resized (hashSize+1) × hashSize thumbnail.</summary>
    public static byte[] DifferenceHashOfThumbnail(ReadOnlySpan<byte> thumbnail, int hashSize)
    {
        var bits = new bool[hashSize * hashSize];
        for (var r = 0; r < hashSize; r++)
        {
            for (var c = 0; c < hashSize; c++)
            {
                bits[(r * hashSize) + c] = thumbnail[(r * (hashSize + 1)) + c + 1] > thumbnail[(r * (hashSize + 1)) + c];
            }
        }

        return Pack(bits);
    }

    /// <summary>imagehash <c>phash</c> (highfreq_factor 4): DCT-II of a 4·hashSize square thumbnail.</summary>
    public static byte[] PerceptualHash(PngImage image, int hashSize = 8)
    {
        var side = hashSize * 4;
        var gray = ImageOps.Resize(ImageOps.ToGray(image), image.Width, image.Height, side, side, ResampleFilter.Lanczos);
        return PerceptualHashOfThumbnail(gray, side, hashSize);
    }

    /// <summary>
    /// The bit rule of <c>phash</c>: unnormalised DCT-II along columns then rows (scipy.fftpack.dct), keep the
    /// top-left hashSize × hashSize block, bit = coefficient &gt; median of the block.
    /// </summary>
    public static byte[] PerceptualHashOfThumbnail(ReadOnlySpan<byte> thumbnail, int side, int hashSize)
    {
        var cos = new double[side * side];
        for (var k = 0; k < side; k++)
        {
            for (var n = 0; n < side; n++)
            {
                cos[(k * side) + n] = Math.Cos(Math.PI * k * ((2 * n) + 1) / (2.0 * side));
            }
        }

        // Only the first hashSize outputs of each transform are needed.
        var colDct = new double[hashSize * side]; // [k][x]: DCT over y of column x
        for (var k = 0; k < hashSize; k++)
        {
            for (var x = 0; x < side; x++)
            {
                double s = 0;
                for (var y = 0; y < side; y++)
                {
                    s += thumbnail[(y * side) + x] * cos[(k * side) + y];
                }

                colDct[(k * side) + x] = 2 * s;
            }
        }

        var low = new double[hashSize * hashSize];
        for (var k = 0; k < hashSize; k++)
        {
            for (var j = 0; j < hashSize; j++)
            {
                double s = 0;
                for (var x = 0; x < side; x++)
                {
                    s += colDct[(k * side) + x] * cos[(j * side) + x];
                }

                low[(k * hashSize) + j] = 2 * s;
            }
        }

        var sorted = (double[])low.Clone();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        var median = sorted.Length % 2 == 0 ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[mid];
        var bits = new bool[low.Length];
        for (var i = 0; i < low.Length; i++)
        {
            bits[i] = low[i] > median;
        }

        return Pack(bits);
    }

    /// <summary>
    /// ISCC Image-Code v0 from a decoded image: transparency composited on gray 126, Pillow luma, BICUBIC resize
    /// to 32×32, then <see cref="ImageCode.GenImageCodeV0"/>. EXIF orientation and border trimming (done by
    /// iscc-sdk before this step) are not applied.
    /// </summary>
    public static string IsccImageCode(PngImage image, int bits = 64)
    {
        ArgumentNullException.ThrowIfNull(image);
        var gray = ImageOps.ToGrayOnBackground(image);
        var pixels = ImageOps.Resize(gray, image.Width, image.Height, ImageCode.Size, ImageCode.Size, ResampleFilter.Bicubic);
        return ImageCode.GenImageCodeV0(pixels, bits);
    }

    private static byte[] Pack(bool[] bits)
    {
        // imagehash hex: the bit string as one big number, padded to whole hex digits on the left.
        var pad = ((bits.Length + 3) / 4 * 4) - bits.Length;
        var total = bits.Length + pad;
        var output = new byte[(total + 7) / 8];
        var shift = (output.Length * 8) - total;
        for (var i = 0; i < bits.Length; i++)
        {
            if (bits[i])
            {
                var p = shift + pad + i;
                output[p >> 3] |= (byte)(0x80 >> (p & 7));
            }
        }

        return output;
    }
}
