using OptOutRegistry.Core.Model;
namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Image-Code v0 (iscc-core <c>code_content_image.py</c>, <c>dct.py</c>): a 2-D DCT over 32×32 normalised
/// grayscale pixels; each 8×8 block of low frequencies at (0,0), (1,0), (0,1), (1,1) gives 64 bits, one per
/// coefficient, set when it is above the block's median.
/// </summary>
/// <remarks>
/// The DCT is the same recursive (Lee / nayuki "fast DCT") algorithm with the same operation order as
/// iscc-core, in IEEE doubles, so the comparisons against the median agree bit for bit with Python.
/// </remarks>
public static class ImageCode
{
    /// <summary>Side of the normalised image.</summary>
    public const int Size = 32;

    /// <summary>Image-Code v0 from 1024 grayscale pixels (32×32, row-major).</summary>
    /// <exception cref="ArgumentException">Not exactly 1024 pixels, or bits not a multiple of 32 in 32..256.</exception>
    public static string GenImageCodeV0(ReadOnlySpan<byte> pixels, int bits = 64) =>
        IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Content, IsccSubType.Image, 0, bits, SoftHashImageV0(pixels, bits));

    /// <summary><c>soft_hash_image_v0</c>: the similarity digest (bits/8 bytes, at most 32).</summary>
    public static byte[] SoftHashImageV0(ReadOnlySpan<byte> pixels, int bits = 64)
    {
        if (pixels.Length != Size * Size)
        {
            throw new ArgumentException($"pixels: expected {Size * Size} grayscale values (32x32), got {pixels.Length}.", nameof(pixels));
        }

        if (bits < 32 || bits > 256 || bits % 32 != 0)
        {
            throw new ArgumentException($"bits: must be a multiple of 32 between 32 and 256, got {bits}.", nameof(bits));
        }

        // DCT per row, then per column of the row-transformed matrix.
        var matrix = new double[Size, Size];
        var row = new double[Size];
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                row[x] = pixels[(y * Size) + x];
            }

            var t = Dct(row);
            for (var x = 0; x < Size; x++)
            {
                matrix[y, x] = t[x];
            }
        }

        var column = new double[Size];
        for (var x = 0; x < Size; x++)
        {
            for (var y = 0; y < Size; y++)
            {
                column[y] = matrix[y, x];
            }

            var t = Dct(column);
            for (var y = 0; y < Size; y++)
            {
                matrix[y, x] = t[y];
            }
        }

        var digest = new byte[(bits + 63) / 64 * 8]; // whole 64-bit blocks, as the Python bit string
        var bit = 0;
        Span<double> block = stackalloc double[64];
        Span<double> sorted = stackalloc double[64];
        ReadOnlySpan<(int X, int Y)> slices = [(0, 0), (1, 0), (0, 1), (1, 1)];
        foreach (var (sx, sy) in slices)
        {
            for (var y = 0; y < 8; y++)
            {
                for (var x = 0; x < 8; x++)
                {
                    block[(y * 8) + x] = matrix[sy + y, sx + x];
                }
            }

            block.CopyTo(sorted);
            sorted.Sort();
            var median = (sorted[31] + sorted[32]) / 2; // statistics.median of 64 values
            foreach (var v in block)
            {
                if (v > median)
                {
                    digest[bit >> 3] |= (byte)(0x80 >> (bit & 7));
                }

                bit++;
            }

            if (bit >= bits)
            {
                break;
            }
        }

        return digest;
    }

    /// <summary>iscc-core <c>dct.dct</c>: recursive fast DCT-II (unscaled), input length a power of two.</summary>
    internal static double[] Dct(ReadOnlySpan<double> v)
    {
        var n = v.Length;
        if (n == 1)
        {
            return [v[0]];
        }

        if (n == 0 || n % 2 != 0)
        {
            throw new ArgumentException("dct: length must be a power of two.", nameof(v));
        }

        var half = n / 2;
        var alpha = new double[half];
        var beta = new double[half];
        for (var i = 0; i < half; i++)
        {
            alpha[i] = v[i] + v[n - 1 - i];
            beta[i] = (v[i] - v[n - 1 - i]) / (Math.Cos((i + 0.5) * Math.PI / n) * 2.0);
        }

        var a = Dct(alpha);
        var b = Dct(beta);
        var result = new double[n];
        var k = 0;
        for (var i = 0; i < half - 1; i++)
        {
            result[k++] = a[i];
            result[k++] = b[i] + b[i + 1];
        }

        result[k++] = a[half - 1];
        result[k] = b[half - 1];
        return result;
    }
}
