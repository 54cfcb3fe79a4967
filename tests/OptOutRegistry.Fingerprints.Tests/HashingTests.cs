using System.Text;
using System.Text.Json;
using OptOutRegistry.Fingerprints.Hashing;

namespace OptOutRegistry.Fingerprints.Tests;

public class XxHashTests
{
    private static readonly byte[] SanityBuffer = BuildSanityBuffer();

    // HASHES.md §2: the xxhsum self-test buffer generator.
    private static byte[] BuildSanityBuffer()
    {
        var buf = new byte[2367];
        ulong g = 2654435761UL;
        for (var i = 0; i < buf.Length; i++)
        {
            buf[i] = (byte)(g >> 56);
            g = unchecked(g * 11400714785074694797UL);
        }

        return buf;
    }

    public static TheoryData<string, ulong, int, string> Cases()
    {
        var data = new TheoryData<string, ulong, int, string>();
        using var doc = Corpus.Load("xxhash", "xxhash_sanity_vectors.json");
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var alg = c.GetProperty("algorithm").GetString()!;
            if (alg is "XXH32" or "XXH64")
            {
                data.Add(alg, ulong.Parse(c.GetProperty("seed").GetString()!), c.GetProperty("input_len").GetInt32(),
                    c.GetProperty("expected_hex").GetString()!);
            }
        }

        return data;
    }

    [Fact]
    public void SanityBuffer_MatchesStoredCopy()
    {
        using var doc = Corpus.Load("xxhash", "xxhash_sanity_vectors.json");
        var hex = doc.RootElement.GetProperty("input_generation").GetProperty("sanity_buffer_hex").GetString();
        Assert.Equal(hex, Corpus.Hex(SanityBuffer));
    }

    [Fact]
    public void Corpus_HasAllXxh32AndXxh64Cases()
    {
        Assert.Equal(17, Cases().Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void OneShotAndStreaming_MatchUpstreamSelfTest(string algorithm, ulong seed, int length, string expectedHex)
    {
        var input = SanityBuffer.AsSpan(0, length);
        if (algorithm == "XXH32")
        {
            Assert.Equal(expectedHex, XxHash32.HashToUInt32(input, (uint)seed).ToString("x8"));
            foreach (var step in new[] { 1, 3, 15, 16, 17, 1000 })
            {
                var h = new XxHash32((uint)seed);
                for (var i = 0; i < length; i += step)
                {
                    h.Append(input.Slice(i, Math.Min(step, length - i)));
                }

                Assert.Equal(expectedHex, h.GetHashAndReset().ToString("x8"));
                h.Append(input);
                Assert.Equal(expectedHex, h.GetCurrentHashAsUInt32().ToString("x8"));
            }
        }
        else
        {
            Assert.Equal(expectedHex, XxHash64.HashToUInt64(input, seed).ToString("x16"));
            foreach (var step in new[] { 1, 7, 31, 32, 33, 1000 })
            {
                var h = new XxHash64(seed);
                for (var i = 0; i < length; i += step)
                {
                    h.Append(input.Slice(i, Math.Min(step, length - i)));
                }

                Assert.Equal(expectedHex, h.GetHashAndReset().ToString("x16"));
                h.Append(input);
                Assert.Equal(expectedHex, h.GetCurrentHashAsUInt64().ToString("x16"));
            }
        }
    }

    [Fact]
    public void HashStream_EqualsOneShot()
    {
        using var ms = new MemoryStream(SanityBuffer);
        Assert.Equal(XxHash32.HashToUInt32(SanityBuffer), XxHash32.HashStream(ms));
        ms.Position = 0;
        Assert.Equal(XxHash64.HashToUInt64(SanityBuffer, 7), XxHash64.HashStream(ms, 7));
    }
}

public class Blake3Tests
{
    private const int XofLength = 131;

    public static TheoryData<int, string, string, string> Cases()
    {
        var data = new TheoryData<int, string, string, string>();
        using var doc = Corpus.Load("blake3", "test_vectors.json");
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(c.GetProperty("input_len").GetInt32(), c.GetProperty("hash").GetString()!,
                c.GetProperty("keyed_hash").GetString()!, c.GetProperty("derive_key").GetString()!);
        }

        return data;
    }

    private static (byte[] Key, string Context) KeyAndContext()
    {
        using var doc = Corpus.Load("blake3", "test_vectors.json");
        return (Encoding.ASCII.GetBytes(doc.RootElement.GetProperty("key").GetString()!),
            doc.RootElement.GetProperty("context_string").GetString()!);
    }

    private static byte[] Input(int length)
    {
        var input = new byte[length];
        for (var i = 0; i < length; i++)
        {
            input[i] = (byte)(i % 251);
        }

        return input;
    }

    [Fact]
    public void Corpus_Has35Lengths()
    {
        Assert.Equal(35, Cases().Count);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllModes_AllOutputLengths_MatchOfficialVectors(int length, string hash, string keyedHash, string deriveKey)
    {
        var input = Input(length);
        var (key, context) = KeyAndContext();

        // Every prefix length of the 131-byte extended output must match (XOF output is a stream).
        foreach (var outLen in new[] { 0, 1, 31, 32, 33, 63, 64, 65, 128, XofLength })
        {
            var output = new byte[outLen];
            Blake3.Hash(input, output);
            Assert.Equal(hash[..(outLen * 2)], Corpus.Hex(output));
            Blake3.KeyedHashOf(key, input, output);
            Assert.Equal(keyedHash[..(outLen * 2)], Corpus.Hex(output));
            Blake3.DeriveKey(context, input, output);
            Assert.Equal(deriveKey[..(outLen * 2)], Corpus.Hex(output));
        }

        Assert.Equal(hash[..64], Corpus.Hex(Blake3.Hash(input)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Incremental_AnyChunking_EqualsOneShot(int length, string hash, string keyedHash, string deriveKey)
    {
        var input = Input(length);
        var (key, context) = KeyAndContext();
        foreach (var step in new[] { 1, 63, 64, 65, 1023, 1024, 1025, 4096 })
        {
            var plain = new Blake3();
            var keyed = Blake3.CreateKeyed(key);
            var derive = Blake3.CreateDeriveKey(context);
            for (var i = 0; i < length; i += step)
            {
                var part = input.AsSpan(i, Math.Min(step, length - i));
                plain.Append(part);
                keyed.Append(part);
                derive.Append(part);
            }

            var output = new byte[XofLength];
            plain.Finalize(output);
            Assert.Equal(hash, Corpus.Hex(output));
            keyed.Finalize(output);
            Assert.Equal(keyedHash, Corpus.Hex(output));
            derive.GetHashAndReset(output);
            Assert.Equal(deriveKey, Corpus.Hex(output));

            // After reset the hasher is reusable and still in derive-key mode.
            derive.Append(input);
            derive.Finalize(output);
            Assert.Equal(deriveKey, Corpus.Hex(output));
        }
    }

    [Fact]
    public void HashStream_EqualsOneShot()
    {
        var input = Input(102400);
        using var ms = new MemoryStream(input);
        Assert.Equal(Blake3.Hash(input), Blake3.HashStream(ms));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(33)]
    public void CreateKeyed_WrongKeyLength_Throws(int length)
    {
        var ex = Assert.Throws<ArgumentException>(() => Blake3.CreateKeyed(new byte[length]));
        Assert.Contains("32 bytes", ex.Message);
    }
}
