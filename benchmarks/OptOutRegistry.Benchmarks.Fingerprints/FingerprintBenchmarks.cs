using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using OptOutRegistry.Fingerprints.Hashing;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Benchmarks.Fingerprints;

/// <summary>
/// Text-Code throughput on 1 MiB of text (UTF-8 size), split into its stages so the time can be attributed:
/// normalisation (collapse), feature hashing (xxh32 of 13-character windows) and the 64-permutation MinHash.
/// MB/s = 1 MiB / mean time.
/// </summary>
[MemoryDiagnoser]
public class TextCodeBenchmarks
{
    private string _text = string.Empty;
    private string _collapsed = string.Empty;
    private uint[] _features = [];

    /// <summary>English (ASCII fast path) or Russian/Kazakh (multi-byte path).</summary>
    [Params("en", "ru")]
    public string Language { get; set; } = "en";

    [GlobalSetup]
    public void Setup()
    {
        _text = Inputs.Text(1 << 20, Language == "ru");
        _collapsed = TextNormalization.Collapse(_text);
        var bytes = Encoding.UTF8.GetBytes(_collapsed);
        var n = Math.Max(bytes.Length - 12, 1);
        _features = new uint[n];
        for (var i = 0; i < n; i++)
        {
            _features[i] = (uint)i * 2654435761U;
        }
    }

    [Benchmark(Baseline = true, Description = "GenTextCodeV0 (whole)")]
    public string TextCode() => IsccGenerator.GenTextCodeV0(_text).Iscc;

    [Benchmark(Description = "stage 1: Collapse")]
    public int Collapse() => TextNormalization.Collapse(_text).Length;

    [Benchmark(Description = "stage 2+3: SoftHashTextV0 (xxh32 windows + MinHash)")]
    public byte[] SoftHash() => IsccGenerator.SoftHashTextV0(_collapsed, out _);

    [Benchmark(Description = "stage 3: MinHash only (AVX2)")]
    public uint MinHashOnly()
    {
        var m = new MinHash();
        m.Add(_features);
        return m.Values[0];
    }

    [Benchmark(Description = "stage 3: MinHash only (scalar)")]
    public uint MinHashScalar()
    {
        var min = new uint[MinHash.Permutations];
        Array.Fill(min, uint.MaxValue);
        MinHash.AddScalar(_features, min);
        return min[0];
    }
}

/// <summary>Byte-stream fingerprints over 16 MiB of random data. MB/s = 16 MiB / mean time.</summary>
[MemoryDiagnoser]
public class ByteHashBenchmarks
{
    private byte[] _data = [];

    [GlobalSetup]
    public void Setup() => _data = Inputs.Bytes(16 << 20);

    [Benchmark(Baseline = true, Description = "SHA-256 (BCL)")]
    public byte[] Sha256() => SHA256.HashData(_data);

    [Benchmark(Description = "BLAKE3")]
    public byte[] Blake3Hash() => Blake3.Hash(_data);

    [Benchmark(Description = "Instance-Code (BLAKE3)")]
    public string InstanceCode() => IsccGenerator.GenInstanceCodeV0(_data).Iscc;

    [Benchmark(Description = "Data-Code (CDC + xxh32 + MinHash)")]
    public string DataCode() => IsccGenerator.GenDataCodeV0(_data);

    [Benchmark(Description = "xxHash64")]
    public ulong XxHash64() => OptOutRegistry.Fingerprints.Hashing.XxHash64.HashToUInt64(_data);

    [Benchmark(Description = "xxHash32")]
    public uint XxHash32() => OptOutRegistry.Fingerprints.Hashing.XxHash32.HashToUInt32(_data);
}
