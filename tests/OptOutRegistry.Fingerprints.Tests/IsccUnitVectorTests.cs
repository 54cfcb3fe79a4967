using System.Text.Json;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Hashing;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

/// <summary>The lower-level vectors of iscc_unit_vectors.json (asserts transcribed from iscc-core tests/*.py).</summary>
public class IsccUnitVectorTests
{
    public static TheoryData<string, int, string> Vectors()
    {
        var data = new TheoryData<string, int, string>();
        using var doc = Corpus.Load("iscc", "iscc_unit_vectors.json");
        foreach (var group in doc.RootElement.EnumerateObject())
        {
            if (group.Name.StartsWith('_'))
            {
                continue;
            }

            var i = 0;
            foreach (var v in group.Value.EnumerateArray())
            {
                data.Add(group.Name, i++, v.GetRawText());
            }
        }

        return data;
    }

    // tests/conftest.py static_bytes: little-endian uint32 counter 1, 2, 3, ... truncated to n bytes.
    internal static byte[] StaticBytes(int n)
    {
        var buffer = new byte[n + 4];
        for (var i = 0; i * 4 < n; i++)
        {
            BitConverter.TryWriteBytes(buffer.AsSpan(i * 4), (uint)(i + 1));
        }

        return buffer[..n];
    }

    private static byte[] DataOf(JsonElement v)
    {
        if (v.TryGetProperty("data_hex", out var hex))
        {
            return Convert.FromHexString(hex.GetString()!);
        }

        if (v.TryGetProperty("data_utf8", out var utf8))
        {
            return Encoding.UTF8.GetBytes(utf8.GetString()!);
        }

        var d = v.GetProperty("data").GetString()!;
        if (d == "empty")
        {
            return [];
        }

        Assert.StartsWith("static_bytes(", d);
        return StaticBytes(int.Parse(d["static_bytes(".Length..^1]));
    }

    private static uint[] UInts(JsonElement array) => array.EnumerateArray().Select(e => e.GetUInt32()).ToArray();

    [Fact]
    public void Corpus_Has66Vectors()
    {
        Assert.Equal(66, Vectors().Count);
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void UnitVector_Matches(string function, int index, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var v = doc.RootElement;
        _ = index;
        switch (function)
        {
            case "alg_simhash":
                var digests = v.GetProperty("inputs_hex").EnumerateArray().Select(e => Convert.FromHexString(e.GetString()!)).ToList();
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(SimHash.Of(digests)));
                break;
            case "alg_minhash":
                var mh = new MinHash();
                mh.Add(UInts(v.GetProperty("features")));
                Assert.Equal(v.GetProperty("len").GetInt32(), mh.Values.Length);
                Assert.Equal(v.GetProperty("first").GetUInt32(), mh.Values[0]);
                Assert.Equal(v.GetProperty("last").GetUInt32(), mh.Values[^1]);
                break;
            case "alg_minhash_compress":
                if (v.TryGetProperty("mhash", out var raw))
                {
                    var bytes = MinHash.Compress(UInts(raw), v.GetProperty("lsb").GetInt32());
                    var value = 0UL;
                    foreach (var b in bytes)
                    {
                        value = (value << 8) | b;
                    }

                    Assert.Equal(v.GetProperty("output_int").GetUInt64(), value);
                }
                else
                {
                    var m = new MinHash();
                    m.Add(UInts(v.GetProperty("minhash_of_features")));
                    Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(MinHash.Compress(m.Values, v.GetProperty("lsb").GetInt32())));
                }

                break;
            case "alg_minhash_64":
                var m64 = new MinHash();
                m64.Add(UInts(v.GetProperty("features")));
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(m64.Digest64()));
                break;
            case "text_collapse":
                Assert.Equal(v.GetProperty("output").GetString(), TextNormalization.Collapse(v.GetProperty("input").GetString()!));
                break;
            case "soft_hash_text_v0":
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(IsccGenerator.SoftHashTextV0(v.GetProperty("input_raw").GetString()!, out _)));
                break;
            case "gen_text_code_v0":
                var text = IsccGenerator.GenTextCodeV0(v.GetProperty("text").GetString()!, v.GetProperty("bits").GetInt32());
                Assert.Equal(v.GetProperty("iscc").GetString(), text.Iscc);
                Assert.Equal(v.GetProperty("characters").GetInt32(), text.Characters);
                break;
            case "alg_cdc_params":
                var p = Cdc.ParametersFor(v.GetProperty("avg_size").GetInt32());
                Assert.Equal(UInts(v.GetProperty("output")), new[] { (uint)p.MinSize, (uint)p.MaxSize, (uint)p.CenterSize, p.MaskS, p.MaskL });
                break;
            case "alg_cdc_chunks":
                CheckChunks(v);
                break;
            case "soft_hash_data_v0":
                var dh = new DataCodeHasher();
                dh.Append(DataOf(v));
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(dh.Digest()));
                break;
            case "gen_data_code_v0":
                Assert.Equal(v.GetProperty("iscc").GetString(), IsccGenerator.GenDataCodeV0(DataOf(v), v.GetProperty("bits").GetInt32()));
                break;
            case "hash_instance_v0":
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(Blake3.Hash(DataOf(v))));
                break;
            case "gen_instance_code_v0":
                var inst = IsccGenerator.GenInstanceCodeV0(DataOf(v), v.GetProperty("bits").GetInt32());
                Assert.Equal(v.GetProperty("iscc").GetString(), inst.Iscc);
                Assert.Equal(v.GetProperty("datahash").GetString(), inst.DataHash);
                Assert.Equal(v.GetProperty("filesize").GetInt64(), inst.FileSize);
                break;
            case "gen_meta_code_v0":
                CheckMeta(v);
                break;
            case "soft_hash_meta_v0":
                var extra = v.TryGetProperty("extra", out var e) ? e.GetString() : null;
                Assert.Equal(v.GetProperty("output_hex").GetString(), Corpus.Hex(IsccGenerator.SoftHashMetaV0(v.GetProperty("name").GetString()!, extra)));
                break;
            case "text_clean":
                Assert.Equal(v.GetProperty("output").GetString(), TextNormalization.Clean(v.GetProperty("input").GetString()!));
                break;
            case "text_remove_newlines":
                Assert.Equal(v.GetProperty("output").GetString(), TextNormalization.RemoveNewlines(v.GetProperty("input").GetString()!));
                break;
            case "text_trim":
                var trimmed = TextNormalization.Trim(v.GetProperty("input").GetString()!, v.GetProperty("nbytes").GetInt32());
                Assert.Equal(v.GetProperty("out_chars").GetInt32(), TextNormalization.CodePointCount(trimmed));
                Assert.Equal(v.GetProperty("out_utf8_bytes").GetInt32(), Encoding.UTF8.GetByteCount(trimmed));
                Assert.StartsWith(trimmed, v.GetProperty("input").GetString()!, StringComparison.Ordinal);
                break;
            default:
                Assert.Fail($"no check written for vector group {function}");
                break;
        }
    }

    private static void CheckChunks(JsonElement v)
    {
        var data = DataOf(v);
        var utf32 = v.GetProperty("utf32").GetBoolean();
        var avg = v.TryGetProperty("avg_chunk_size", out var a) ? a.GetInt32() : Cdc.DefaultAverageSize;
        var chunks = Cdc.Chunks(data, utf32, avg).Select(c => data.AsSpan(c.Offset, c.Length).ToArray()).ToList();
        if (v.TryGetProperty("chunks", out var plain))
        {
            Assert.Equal(plain.EnumerateArray().Select(x => Encoding.UTF8.GetBytes(x.GetString()!)).ToList(), chunks);
        }
        else if (v.TryGetProperty("chunks_hex", out var hex))
        {
            Assert.Equal(hex.EnumerateArray().Select(x => x.GetString()!).ToList(), chunks.Select(c => Corpus.Hex(c)).ToList());
        }
        else if (v.TryGetProperty("chunk_blake3_hex", out var b3))
        {
            Assert.Equal(b3.EnumerateArray().Select(x => x.GetString()!).ToList(), chunks.Select(c => Corpus.Hex(Blake3.Hash(c))).ToList());
        }
        else
        {
            var expect = v.GetProperty("expect").GetString();
            if (expect == "one chunk == whole input")
            {
                Assert.Equal([data], chunks);
            }
            else
            {
                Assert.Equal("two chunks: data[:-1], data[-1:]", expect);
                Assert.Equal([data[..^1], data[^1..]], chunks);
            }
        }
    }

    private static void CheckMeta(JsonElement v)
    {
        var name = v.GetProperty("name").ValueKind == JsonValueKind.Null ? null : v.GetProperty("name").GetString();
        var description = v.TryGetProperty("description", out var d) ? d.GetString() : null;
        JsonElement? meta = v.TryGetProperty("meta", out var m) ? m : null;
        if (v.TryGetProperty("raises", out _))
        {
            var ex = Assert.Throws<ArgumentException>(() => IsccGenerator.GenMetaCodeV0(name!, description, meta));
            Assert.Contains("name", ex.Message);
            return;
        }

        var result = IsccGenerator.GenMetaCodeV0(name!, description, meta);
        Assert.Equal(v.GetProperty("iscc").GetString(), result.Iscc);
        Assert.Equal(v.GetProperty("out_name").GetString(), result.Name);
        Assert.Equal(v.TryGetProperty("out_description", out var od) ? od.GetString() : null, result.Description);
        Assert.Equal(v.TryGetProperty("out_meta", out var om) ? om.GetString() : null, result.Meta);
        Assert.Equal(v.GetProperty("metahash").GetString(), result.MetaHash);
    }
}
