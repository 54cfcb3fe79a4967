using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Compression;

namespace OptOutRegistry.Fingerprints.Imaging;

/// <summary>A decoded image as 8-bit RGBA, row-major.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Rgba">Width × Height × 4 bytes.</param>
/// <param name="HasAlpha">True when the PNG carried alpha (colour type 4/6 or a tRNS chunk).</param>
public sealed record PngImage(int Width, int Height, byte[] Rgba, bool HasAlpha);

/// <summary>
/// A PNG decoder without native dependencies (W3C PNG, 3rd edition): all colour types (gray, RGB, palette,
/// gray+alpha, RGBA), bit depths 1–16, tRNS transparency, Adam7 interlacing; zlib through
/// <see cref="ZLibStream"/>. Every chunk CRC is checked. 16-bit samples keep their high byte.
/// Untrusted input gives an error naming the chunk/field, never an exception from deep inside.
/// </summary>
public static class PngDecoder
{
    /// <summary>Largest accepted width or height.</summary>
    public const int MaxDimension = 16384;

    /// <summary>Largest accepted pixel count (bounds memory: 4 bytes per pixel in the result).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>Largest accepted PNG file.</summary>
    public const int MaxInputBytes = 256 * 1024 * 1024;

    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly uint[] CrcTable = BuildCrcTable();

    /// <summary>Decodes a PNG from a stream (read to the end).</summary>
    /// <exception cref="InvalidDataException">The data is not a valid PNG; the message says why.</exception>
    public static PngImage Decode(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var ms = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (ms.Length + read > MaxInputBytes)
            {
                throw new InvalidDataException($"png: input is larger than {MaxInputBytes} bytes");
            }

            ms.Write(buffer, 0, read);
        }

        return TryDecode(ms.GetBuffer().AsSpan(0, (int)ms.Length), out var image, out var error)
            ? image
            : throw new InvalidDataException(error);
    }

    /// <summary>Decodes a PNG; on failure returns false and a reason.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out PngImage? image, [NotNullWhen(false)] out string? error)
    {
        image = null;
        if (data.Length < 8 || !data[..8].SequenceEqual(Signature))
        {
            error = "png: missing PNG signature";
            return false;
        }

        var pos = 8;
        var header = default(Header);
        var seenHeader = false;
        byte[]? palette = null;
        byte[]? transparency = null;
        var idat = new MemoryStream();
        var seenEnd = false;
        while (!seenEnd)
        {
            if (pos + 12 > data.Length)
            {
                error = "png: truncated before IEND";
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            if (length > int.MaxValue || pos + 12 + (long)length > data.Length)
            {
                error = $"png: chunk at offset {pos} declares {length} bytes, past the end of the data";
                return false;
            }

            var type = data.Slice(pos + 4, 4);
            var body = data.Slice(pos + 8, (int)length);
            var crc = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]);
            if (Crc32(data.Slice(pos + 4, 4 + (int)length)) != crc)
            {
                error = $"png: CRC mismatch in chunk {ChunkName(type)}";
                return false;
            }

            pos += 12 + (int)length;
            var name = ChunkName(type);
            if (!seenHeader && name != "IHDR")
            {
                error = $"png: first chunk is {name}, not IHDR";
                return false;
            }

            switch (name)
            {
                case "IHDR":
                    if (seenHeader)
                    {
                        error = "png: IHDR: repeated";
                        return false;
                    }

                    if (!TryReadHeader(body, out header, out error))
                    {
                        return false;
                    }

                    seenHeader = true;
                    break;
                case "PLTE":
                    if (body.Length == 0 || body.Length % 3 != 0 || body.Length / 3 > 256)
                    {
                        error = $"png: PLTE: length {body.Length} is not 3 × (1..256)";
                        return false;
                    }

                    palette = body.ToArray();
                    break;
                case "tRNS":
                    transparency = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    seenEnd = true;
                    break;
                default:
                    // Ancillary chunks (lower-case first letter) are skipped; unknown critical chunks are fatal.
                    if ((type[0] & 0x20) == 0)
                    {
                        error = $"png: unknown critical chunk {name}";
                        return false;
                    }

                    break;
            }
        }

        if (header.ColorType == 3 && palette is null)
        {
            error = "png: PLTE: missing for a palette image";
            return false;
        }

        if (idat.Length == 0)
        {
            error = "png: IDAT: no image data";
            return false;
        }

        return TryDecodePixels(header, palette, transparency, idat, out image, out error);
    }

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColorType, bool Interlaced)
    {
        public int Channels => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };

        public int BitsPerPixel => Channels * BitDepth;

        public int FilterUnit => Math.Max(1, BitsPerPixel / 8);

        public int RowBytes(int width) => (int)(((long)width * BitsPerPixel + 7) / 8);
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> body, out Header header, [NotNullWhen(false)] out string? error)
    {
        header = default;
        if (body.Length != 13)
        {
            error = $"png: IHDR: length {body.Length}, expected 13";
            return false;
        }

        var width = BinaryPrimitives.ReadUInt32BigEndian(body);
        var height = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
        int bitDepth = body[8], colorType = body[9];
        if (width == 0 || height == 0 || width > MaxDimension || height > MaxDimension || (long)width * height > MaxPixels)
        {
            error = $"png: IHDR: size {width}x{height} is outside 1..{MaxDimension} per side or {MaxPixels} pixels";
            return false;
        }

        var validDepth = colorType switch
        {
            0 => bitDepth is 1 or 2 or 4 or 8 or 16,
            3 => bitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => bitDepth is 8 or 16,
            _ => false,
        };
        if (!validDepth)
        {
            error = $"png: IHDR: colour type {colorType} with bit depth {bitDepth} is not allowed";
            return false;
        }

        if (body[10] != 0 || body[11] != 0 || body[12] > 1)
        {
            error = $"png: IHDR: compression {body[10]}, filter {body[11]}, interlace {body[12]} (expected 0, 0, 0|1)";
            return false;
        }

        header = new Header((int)width, (int)height, bitDepth, colorType, body[12] == 1);
        error = null;
        return true;
    }

    // Adam7 passes: x start, y start, x step, y step (PNG spec §8.2).
    private static ReadOnlySpan<byte> Adam7 => [0, 0, 8, 8, 4, 0, 8, 8, 0, 4, 4, 8, 2, 0, 4, 4, 0, 2, 2, 4, 1, 0, 2, 2, 0, 1, 1, 2];

    private static bool TryDecodePixels(
        Header h, byte[]? palette, byte[]? trns, MemoryStream idat, [NotNullWhen(true)] out PngImage? image, [NotNullWhen(false)] out string? error)
    {
        image = null;
        var passes = h.Interlaced ? 7 : 1;
        long expected = 0;
        for (var p = 0; p < passes; p++)
        {
            var (pw, ph) = PassSize(h, p);
            if (pw > 0 && ph > 0)
            {
                expected += (long)ph * (1 + h.RowBytes(pw));
            }
        }

        var raw = new byte[expected];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            var read = 0;
            while (read < raw.Length)
            {
                var n = z.Read(raw, read, raw.Length - read);
                if (n == 0)
                {
                    error = $"png: IDAT: image data ends after {read} of {raw.Length} bytes";
                    return false;
                }

                read += n;
            }
        }
        catch (InvalidDataException ex)
        {
            error = $"png: IDAT: zlib stream is corrupt ({ex.Message})";
            return false;
        }

        var rgba = new byte[(long)h.Width * h.Height * 4];
        var hasAlpha = h.ColorType is 4 or 6 || trns is not null;
        var offset = 0;
        for (var p = 0; p < passes; p++)
        {
            var (pw, ph) = PassSize(h, p);
            if (pw == 0 || ph == 0)
            {
                continue;
            }

            int x0 = 0, y0 = 0, dx = 1, dy = 1;
            if (h.Interlaced)
            {
                x0 = Adam7[p * 4];
                y0 = Adam7[(p * 4) + 1];
                dx = Adam7[(p * 4) + 2];
                dy = Adam7[(p * 4) + 3];
            }

            var rowBytes = h.RowBytes(pw);
            var previous = new byte[rowBytes];
            var current = new byte[rowBytes];
            for (var y = 0; y < ph; y++)
            {
                var filter = raw[offset];
                raw.AsSpan(offset + 1, rowBytes).CopyTo(current);
                offset += 1 + rowBytes;
                if (!Unfilter(filter, current, previous, h.FilterUnit))
                {
                    error = $"png: IDAT: row {y} of pass {p} has filter type {filter} (0-4 allowed)";
                    return false;
                }

                if (!WriteRow(h, current, pw, palette, trns, rgba, y0 + (y * dy), x0, dx, out error))
                {
                    return false;
                }

                (previous, current) = (current, previous);
            }
        }

        image = new PngImage(h.Width, h.Height, rgba, hasAlpha);
        error = null;
        return true;
    }

    private static (int Width, int Height) PassSize(Header h, int pass)
    {
        if (!h.Interlaced)
        {
            return (h.Width, h.Height);
        }

        int x0 = Adam7[pass * 4], y0 = Adam7[(pass * 4) + 1], dx = Adam7[(pass * 4) + 2], dy = Adam7[(pass * 4) + 3];
        return ((h.Width - x0 + dx - 1) / dx, (h.Height - y0 + dy - 1) / dy);
    }

    // PNG spec §7.3 / §9: filter types None, Sub, Up, Average, Paeth.
    private static bool Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> prior, int bpp)
    {
        switch (filter)
        {
            case 0:
                return true;
            case 1:
                for (var i = bpp; i < row.Length; i++)
                {
                    row[i] += row[i - bpp];
                }

                return true;
            case 2:
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] += prior[i];
                }

                return true;
            case 3:
                for (var i = 0; i < row.Length; i++)
                {
                    var left = i >= bpp ? row[i - bpp] : 0;
                    row[i] += (byte)((left + prior[i]) >> 1);
                }

                return true;
            case 4:
                for (var i = 0; i < row.Length; i++)
                {
                    int a = i >= bpp ? row[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                    row[i] += (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
                }

                return true;
            default:
                return false;
        }
    }

    private static bool WriteRow(
        Header h, ReadOnlySpan<byte> row, int count, byte[]? palette, byte[]? trns, byte[] rgba, int y, int x0, int dx, [NotNullWhen(false)] out string? error)
    {
        var depth = h.BitDepth;
        var maxSample = (1 << depth) - 1;
        for (var i = 0; i < count; i++)
        {
            var o = (((long)y * h.Width) + x0 + ((long)i * dx)) * 4;
            byte r, g, b, a = 255;
            switch (h.ColorType)
            {
                case 0:
                    {
                        var v = Sample(row, i, depth);
                        r = g = b = Scale(v, depth, maxSample);
                        if (trns is { Length: >= 2 } && v == BinaryPrimitives.ReadUInt16BigEndian(trns))
                        {
                            a = 0;
                        }

                        break;
                    }

                case 2:
                    {
                        int rv = Sample(row, i * 3, depth), gv = Sample(row, (i * 3) + 1, depth), bv = Sample(row, (i * 3) + 2, depth);
                        r = Scale(rv, depth, maxSample);
                        g = Scale(gv, depth, maxSample);
                        b = Scale(bv, depth, maxSample);
                        if (trns is { Length: >= 6 } && rv == BinaryPrimitives.ReadUInt16BigEndian(trns)
                            && gv == BinaryPrimitives.ReadUInt16BigEndian(trns.AsSpan(2)) && bv == BinaryPrimitives.ReadUInt16BigEndian(trns.AsSpan(4)))
                        {
                            a = 0;
                        }

                        break;
                    }

                case 3:
                    {
                        var index = Sample(row, i, depth);
                        if (index * 3 + 2 >= palette!.Length)
                        {
                            error = $"png: IDAT: palette index {index} is outside the {palette.Length / 3}-entry PLTE";
                            return false;
                        }

                        r = palette[index * 3];
                        g = palette[(index * 3) + 1];
                        b = palette[(index * 3) + 2];
                        if (trns is not null && index < trns.Length)
                        {
                            a = trns[index];
                        }

                        break;
                    }

                case 4:
                    r = g = b = Scale(Sample(row, i * 2, depth), depth, maxSample);
                    a = Scale(Sample(row, (i * 2) + 1, depth), depth, maxSample);
                    break;
                default:
                    r = Scale(Sample(row, i * 4, depth), depth, maxSample);
                    g = Scale(Sample(row, (i * 4) + 1, depth), depth, maxSample);
                    b = Scale(Sample(row, (i * 4) + 2, depth), depth, maxSample);
                    a = Scale(Sample(row, (i * 4) + 3, depth), depth, maxSample);
                    break;
            }

            rgba[o] = r;
            rgba[o + 1] = g;
            rgba[o + 2] = b;
            rgba[o + 3] = a;
        }

        error = null;
        return true;
    }

    // Sample n of a row at the given bit depth (sub-byte samples are packed MSB first).
    private static int Sample(ReadOnlySpan<byte> row, int n, int depth) => depth switch
    {
        8 => row[n],
        16 => (row[n * 2] << 8) | row[(n * 2) + 1],
        _ => (row[n * depth / 8] >> (8 - depth - (n * depth % 8))) & ((1 << depth) - 1),
    };

    private static byte Scale(int v, int depth, int maxSample) => depth switch
    {
        8 => (byte)v,
        16 => (byte)(v >> 8),
        _ => (byte)(v * 255 / maxSample),
    };

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> c = stackalloc char[4];
        for (var i = 0; i < 4; i++)
        {
            var b = type[i];
            c[i] = b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' ? (char)b : '?';
        }

        return new string(c);
    }

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }

    /// <summary>CRC-32 (ISO 3309 / PNG Annex D) of <paramref name="data"/>.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        }

        return c ^ 0xFFFFFFFFu;
    }
}
