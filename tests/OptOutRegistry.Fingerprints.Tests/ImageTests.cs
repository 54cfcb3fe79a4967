using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.Json;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Imaging;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

public class ImageCodeConformanceTests
{
    public static TheoryData<string, string> Cases() => IsccConformanceTests.CasesOf("gen_image_code_v0");

    [Theory]
    [MemberData(nameof(Cases))]
    public void GenImageCodeV0_MatchesConformance(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var inputs = doc.RootElement.GetProperty("inputs");
        var pixels = inputs[0].EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var expected = doc.RootElement.GetProperty("outputs").GetProperty("iscc").GetString();
        Assert.True(expected == ImageCode.GenImageCodeV0(pixels, inputs[1].GetInt32()), name);
    }

    [Fact]
    public void GenImageCodeV0_WrongPixelCount_IsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => ImageCode.GenImageCodeV0(new byte[1000]));
        Assert.Contains("1024", ex.Message);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(96)]
    [InlineData(256)]
    public void GenImageCodeV0_AllLengths_ArePrefixesOfEachOther(int bits)
    {
        var pixels = Enumerable.Range(0, 1024).Select(i => (byte)((i * 7) ^ (i >> 5))).ToArray();
        var full = ImageCode.SoftHashImageV0(pixels, 256);
        Assert.Equal(full[..(bits / 8)], ImageCode.SoftHashImageV0(pixels, bits)[..(bits / 8)]);
    }
}

/// <summary>The imagehash corpus: PNG decoding, Pillow-equivalent grayscale + LANCZOS resize, and hash rules.</summary>
public class ImageHashCorpusTests
{
    private static readonly PngImage Image = PngDecoder.Decode(File.OpenRead(Corpus.PathOf("imagehash", "images", "imagehash.png")));

    public static TheoryData<string, string, int, string> DerivedCases()
    {
        var data = new TheoryData<string, string, int, string>();
        using var doc = Corpus.Load("imagehash", "imagehash_derived_generated.json");
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.TryGetProperty("gray_resized", out _))
            {
                data.Add(c.GetProperty("image").GetString()!, c.GetProperty("func").GetString()!, c.GetProperty("hash_size").GetInt32(), c.GetRawText());
            }
        }

        return data;
    }

    [Fact]
    public void Decode_ImagehashPng_IsRgba1200x600()
    {
        Assert.Equal(1200, Image.Width);
        Assert.Equal(600, Image.Height);
        Assert.True(Image.HasAlpha);
    }

    [Theory]
    [MemberData(nameof(DerivedCases))]
    public void HashRule_OnPillowThumbnail_MatchesImagehash(string image, string func, int hashSize, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var c = doc.RootElement;
        var thumb = c.GetProperty("gray_resized").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var wh = c.GetProperty("gray_resized_wh");
        var hash = func switch
        {
            "average_hash" => ImageHashes.AverageHashOfThumbnail(thumb),
            "dhash" => ImageHashes.DifferenceHashOfThumbnail(thumb, hashSize),
            _ => ImageHashes.PerceptualHashOfThumbnail(thumb, wh[0].GetInt32(), hashSize),
        };
        Assert.True(c.GetProperty("hash").GetString() == Corpus.Hex(hash), $"{image} {func} {hashSize}");
    }

    [Theory]
    [MemberData(nameof(DerivedCases))]
    public void DecodeGrayResize_ReproducesPillowThumbnail(string image, string func, int hashSize, string json)
    {
        if (image != "imagehash.png")
        {
            return; // peppers.png is not in the corpus; its thumbnails are covered by the hash-rule test
        }

        using var doc = JsonDocument.Parse(json);
        var c = doc.RootElement;
        var expected = c.GetProperty("gray_resized").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        var w = c.GetProperty("gray_resized_wh")[0].GetInt32();
        var h = c.GetProperty("gray_resized_wh")[1].GetInt32();
        var actual = ImageOps.Resize(ImageOps.ToGray(Image), Image.Width, Image.Height, w, h, ResampleFilter.Lanczos);
        var differing = expected.Zip(actual).Count(p => p.First != p.Second);
        Assert.True(differing == 0, $"{func} {hashSize}: {differing} of {expected.Length} pixels differ from Pillow");
    }

    [Theory]
    [InlineData("average_hash", 8, "ffd7918181c9ffff")]
    [InlineData("phash", 8, "ba8c84536bd3c366")]
    [InlineData("dhash", 8, "0026273b2b19550e")]
    [InlineData("average_hash", 16, "fffffffff7bfe30feb27df27c083c003c003c003c003fdfffdf7fdfffc3fffff")]
    [InlineData("dhash", 16, "042010000430467c126c966d95a69b8f949795bf136b2b331266127600b00000")]
    [InlineData("phash", 16, "fa418c6984ee53b46b3293cec34d6663992638b43cd1e4f0c66c67cd919cda56")]
    public void FullPipeline_FromPng_MatchesImagehash(string func, int hashSize, string expected)
    {
        var hash = func switch
        {
            "average_hash" => ImageHashes.AverageHash(Image, hashSize),
            "dhash" => ImageHashes.DifferenceHash(Image, hashSize),
            _ => ImageHashes.PerceptualHash(Image, hashSize),
        };
        Assert.Equal(expected, Corpus.Hex(hash));
    }

    [Fact]
    public void Hamming_ReadmeExample_Is33()
    {
        Assert.Equal(33, IsccSimilarity.HammingDistance(Convert.FromHexString("ffd7918181c9ffff"), Convert.FromHexString("9f172786e71f1e00")));
    }

    [Fact]
    public void IsccImageCode_FromPng_IsStableUnderRescaling()
    {
        var code = IsccCode.Decode(ImageHashes.IsccImageCode(Image));
        Assert.Equal(IsccMainType.Content, code.MainType);
        Assert.Equal(IsccSubType.Image, code.SubType);

        // A half-size copy of the same picture is a near-duplicate.
        var gray = ImageOps.Resize(ImageOps.ToGrayOnBackground(Image), Image.Width, Image.Height, 600, 300, ResampleFilter.Bicubic);
        var rgba = new byte[gray.Length * 4];
        for (var i = 0; i < gray.Length; i++)
        {
            rgba[i * 4] = rgba[(i * 4) + 1] = rgba[(i * 4) + 2] = gray[i];
            rgba[(i * 4) + 3] = 255;
        }

        var small = IsccCode.Decode(ImageHashes.IsccImageCode(new PngImage(600, 300, rgba, false)));
        Assert.True(IsccSimilarity.Distance(code.Units[0], small.Units[0]) <= IsccSimilarity.DefaultNearDuplicateThreshold);
    }
}

/// <summary>PNG decoding of every colour type, bit depth, filter and interlacing, against images built here.</summary>
public class PngDecoderTests
{
    // Minimal PNG writer for the tests: chosen filter per row, optional Adam7.
    private static byte[] Encode(int width, int height, int colorType, int bitDepth, Func<int, int, int[]> samples,
        bool interlace = false, byte[]? palette = null, byte[]? trns = null)
    {
        var channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        var bpp = channels * bitDepth;
        var raw = new MemoryStream();
        int[][] passes = interlace
            ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
            : [[0, 0, 1, 1]];
        foreach (var p in passes)
        {
            var pw = (width - p[0] + p[2] - 1) / p[2];
            var ph = (height - p[1] + p[3] - 1) / p[3];
            if (pw <= 0 || ph <= 0)
            {
                continue;
            }

            var rowBytes = ((pw * bpp) + 7) / 8;
            var prev = new byte[rowBytes];
            for (var y = 0; y < ph; y++)
            {
                var row = new byte[rowBytes];
                for (var x = 0; x < pw; x++)
                {
                    var s = samples(p[0] + (x * p[2]), p[1] + (y * p[3]));
                    for (var c = 0; c < channels; c++)
                    {
                        var bit = ((x * channels) + c) * bitDepth;
                        if (bitDepth == 16)
                        {
                            BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(bit / 8), (ushort)s[c]);
                        }
                        else if (bitDepth == 8)
                        {
                            row[bit / 8] = (byte)s[c];
                        }
                        else
                        {
                            row[bit / 8] |= (byte)(s[c] << (8 - bitDepth - (bit % 8)));
                        }
                    }
                }

                var filter = (byte)(y % 5);
                var unit = Math.Max(1, bpp / 8);
                var filtered = new byte[rowBytes];
                for (var i = 0; i < rowBytes; i++)
                {
                    int a = i >= unit ? row[i - unit] : 0, b = prev[i], c = i >= unit ? prev[i - unit] : 0;
                    int pr = a + b - c, pa = Math.Abs(pr - a), pb = Math.Abs(pr - b), pc = Math.Abs(pr - c);
                    var predictor = filter switch
                    {
                        0 => 0,
                        1 => a,
                        2 => b,
                        3 => (a + b) >> 1,
                        _ => pa <= pb && pa <= pc ? a : pb <= pc ? b : c,
                    };
                    filtered[i] = (byte)(row[i] - predictor);
                }

                raw.WriteByte(filter);
                raw.Write(filtered);
                prev = row;
            }
        }

        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlace ? 1 : 0);
        WriteChunk(png, "IHDR", ihdr);
        if (palette is not null)
        {
            WriteChunk(png, "PLTE", palette);
        }

        if (trns is not null)
        {
            WriteChunk(png, "tRNS", trns);
        }

        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true))
        {
            zs.Write(raw.ToArray());
        }

        var zbytes = z.ToArray();
        // Split IDAT in two to check that chunks are concatenated.
        WriteChunk(png, "IDAT", zbytes[..(zbytes.Length / 2)]);
        WriteChunk(png, "tEXt", Encoding.ASCII.GetBytes("Comment\0test"));
        WriteChunk(png, "IDAT", zbytes[(zbytes.Length / 2)..]);
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    internal static void WriteChunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        s.Write(header);
        s.Write(data);
        var crcInput = header[4..].Concat(data).ToArray();
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, PngDecoder.Crc32(crcInput));
        s.Write(crc);
    }

    public static TheoryData<int, int, bool> Formats() => new()
    {
        { 0, 1, false }, { 0, 2, false }, { 0, 4, true }, { 0, 8, false }, { 0, 16, true },
        { 2, 8, false }, { 2, 16, true }, { 3, 1, false }, { 3, 2, true }, { 3, 4, false }, { 3, 8, true },
        { 4, 8, false }, { 4, 16, false }, { 6, 8, true }, { 6, 16, false },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Decode_EveryColourTypeDepthAndInterlace_GivesTheEncodedPixels(int colorType, int bitDepth, bool interlace)
    {
        const int width = 13, height = 11;
        var max = (1 << bitDepth) - 1;
        var palette = colorType == 3 ? Enumerable.Range(0, 3 << bitDepth).Select(i => (byte)(i * 7)).ToArray() : null;
        var trns = colorType == 3 ? new byte[] { 10, 20 } : null;
        int[] Sample(int x, int y) => colorType switch
        {
            0 or 3 => [((x * 3) + y) % (max + 1)],
            2 => [(x * 2311) % (max + 1), (y * 977) % (max + 1), ((x + y) * 131) % (max + 1)],
            4 => [(x * 37) % (max + 1), (y * 53) % (max + 1)],
            _ => [(x * 37) % (max + 1), (y * 53) % (max + 1), ((x * y) + 7) % (max + 1), (x + (y * 13)) % (max + 1)],
        };

        var png = Encode(width, height, colorType, bitDepth, Sample, interlace, palette, trns);
        Assert.True(PngDecoder.TryDecode(png, out var image, out var error), error);
        Assert.Equal(width, image.Width);
        Assert.Equal(height, image.Height);
        byte Scale(int v) => bitDepth == 16 ? (byte)(v >> 8) : (byte)(v * 255 / max);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var s = Sample(x, y);
                byte[] expected = colorType switch
                {
                    0 => [Scale(s[0]), Scale(s[0]), Scale(s[0]), 255],
                    2 => [Scale(s[0]), Scale(s[1]), Scale(s[2]), 255],
                    3 => [palette![s[0] * 3], palette[(s[0] * 3) + 1], palette[(s[0] * 3) + 2], s[0] < trns!.Length ? trns[s[0]] : (byte)255],
                    4 => [Scale(s[0]), Scale(s[0]), Scale(s[0]), Scale(s[1])],
                    _ => [Scale(s[0]), Scale(s[1]), Scale(s[2]), Scale(s[3])],
                };
                Assert.Equal(expected, image.Rgba.AsSpan(((y * width) + x) * 4, 4).ToArray());
            }
        }
    }

    public static TheoryData<string, byte[], string> Hostile()
    {
        var good = Encode(4, 4, 2, 8, (x, y) => [x, y, 0]);
        var badCrc = (byte[])good.Clone();
        badCrc[20] ^= 1; // inside IHDR data
        var huge = new MemoryStream();
        huge.Write(good.AsSpan(0, 8));
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, 100_000);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), 100_000);
        ihdr[8] = 8;
        ihdr[9] = 2;
        WriteChunk(huge, "IHDR", ihdr);
        var badDepth = new MemoryStream();
        badDepth.Write(good.AsSpan(0, 8));
        ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, 4);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), 4);
        ihdr[8] = 4;
        ihdr[9] = 2;
        WriteChunk(badDepth, "IHDR", ihdr);
        WriteChunk(badDepth, "IEND", []);
        var corruptZlib = new MemoryStream();
        corruptZlib.Write(good.AsSpan(0, 33));
        WriteChunk(corruptZlib, "IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0x00, 0x12]);
        WriteChunk(corruptZlib, "IEND", []);
        var shortData = new MemoryStream();
        shortData.Write(good.AsSpan(0, 33));
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true))
        {
            zs.Write(new byte[5]);
        }

        WriteChunk(shortData, "IDAT", z.ToArray());
        WriteChunk(shortData, "IEND", []);
        var badFilter = new MemoryStream();
        badFilter.Write(good.AsSpan(0, 33));
        z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true))
        {
            var raw = new byte[4 * 13];
            raw[13] = 9;
            zs.Write(raw);
        }

        WriteChunk(badFilter, "IDAT", z.ToArray());
        WriteChunk(badFilter, "IEND", []);
        var noPalette = Encode(2, 2, 3, 8, (x, y) => [0], palette: null);
        return new TheoryData<string, byte[], string>
        {
            { "empty", [], "signature" },
            { "not a png", Encoding.ASCII.GetBytes("GIF89a........"), "signature" },
            { "truncated", good[..(good.Length - 20)], "past the end" },
            { "bad crc", badCrc, "CRC" },
            { "huge", huge.ToArray(), "IHDR: size" },
            { "bad depth", badDepth.ToArray(), "bit depth 4" },
            { "corrupt zlib", corruptZlib.ToArray(), "IDAT" },
            { "short data", shortData.ToArray(), "ends after" },
            { "bad filter", badFilter.ToArray(), "filter type 9" },
            { "no palette", noPalette, "PLTE" },
        };
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Decode_HostileInput_FailsWithReason(string name, byte[] data, string reason)
    {
        Assert.False(PngDecoder.TryDecode(data, out var image, out var error), name);
        Assert.Null(image);
        Assert.Contains(reason, error);
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(new MemoryStream(data)));
    }
}
