using System.Text.Json;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

/// <summary>Every case of iscc-core's ISO 24138 conformance file (data.json) for the implemented gen_* functions.</summary>
public class IsccConformanceTests
{
    public static TheoryData<string, string> CasesOf(string function)
    {
        var data = new TheoryData<string, string>();
        using var doc = Corpus.Load("iscc", "data.json");
        foreach (var t in doc.RootElement.GetProperty(function).EnumerateObject())
        {
            data.Add(t.Name, t.Value.GetRawText());
        }

        return data;
    }

    public static TheoryData<string, string> MetaCases() => CasesOf("gen_meta_code_v0");

    public static TheoryData<string, string> TextCases() => CasesOf("gen_text_code_v0");

    public static TheoryData<string, string> DataCases() => CasesOf("gen_data_code_v0");

    public static TheoryData<string, string> InstanceCases() => CasesOf("gen_instance_code_v0");

    public static TheoryData<string, string> IsccCodeCases() => CasesOf("gen_iscc_code_v0");

    private static byte[] Stream(JsonElement input)
    {
        var s = input.GetString()!;
        Assert.StartsWith("stream:", s);
        return Convert.FromHexString(s["stream:".Length..]);
    }

    [Fact]
    public void ConformanceFile_HasTheDocumentedCaseCounts()
    {
        Assert.Equal(20, MetaCases().Count);
        Assert.Equal(5, TextCases().Count);
        Assert.Equal(4, DataCases().Count);
        Assert.Equal(3, InstanceCases().Count);
        Assert.Equal(5, IsccCodeCases().Count);
    }

    [Theory]
    [MemberData(nameof(MetaCases))]
    public void GenMetaCodeV0_MatchesConformance(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var inputs = doc.RootElement.GetProperty("inputs");
        var outputs = doc.RootElement.GetProperty("outputs");
        JsonElement? meta = inputs[2].ValueKind == JsonValueKind.Null ? null : inputs[2];
        var result = IsccGenerator.GenMetaCodeV0(inputs[0].GetString()!, inputs[1].GetString(), meta, inputs[3].GetInt32());
        Assert.True(outputs.GetProperty("iscc").GetString() == result.Iscc, name);
        Assert.Equal(outputs.GetProperty("name").GetString(), result.Name);
        Assert.Equal(outputs.TryGetProperty("description", out var d) ? d.GetString() : null, result.Description);
        Assert.Equal(outputs.TryGetProperty("meta", out var m) ? m.GetString() : null, result.Meta);
        Assert.Equal(outputs.GetProperty("metahash").GetString(), result.MetaHash);
    }

    [Theory]
    [MemberData(nameof(TextCases))]
    public void GenTextCodeV0_MatchesConformance(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var inputs = doc.RootElement.GetProperty("inputs");
        var outputs = doc.RootElement.GetProperty("outputs");
        var result = IsccGenerator.GenTextCodeV0(inputs[0].GetString()!, inputs[1].GetInt32());
        Assert.True(outputs.GetProperty("iscc").GetString() == result.Iscc, name);
        Assert.Equal(outputs.GetProperty("characters").GetInt32(), result.Characters);
    }

    [Theory]
    [MemberData(nameof(DataCases))]
    public void GenDataCodeV0_MatchesConformance_OneShotAndStreamed(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var inputs = doc.RootElement.GetProperty("inputs");
        var expected = doc.RootElement.GetProperty("outputs").GetProperty("iscc").GetString();
        var data = Stream(inputs[0]);
        var bits = inputs[1].GetInt32();
        Assert.True(expected == IsccGenerator.GenDataCodeV0(data, bits), name);
        using var ms = new MemoryStream(data);
        Assert.Equal(expected, IsccGenerator.GenDataCodeV0(ms, bits));
        foreach (var step in new[] { 1, 7, 1000, 8193 })
        {
            var hasher = new DataCodeHasher();
            for (var i = 0; i < data.Length; i += step)
            {
                hasher.Append(data.AsSpan(i, Math.Min(step, data.Length - i)));
            }

            Assert.Equal(expected, hasher.Code(bits));
        }
    }

    [Theory]
    [MemberData(nameof(InstanceCases))]
    public void GenInstanceCodeV0_MatchesConformance(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var inputs = doc.RootElement.GetProperty("inputs");
        var outputs = doc.RootElement.GetProperty("outputs");
        var data = Stream(inputs[0]);
        var result = IsccGenerator.GenInstanceCodeV0(data, inputs[1].GetInt32());
        Assert.True(outputs.GetProperty("iscc").GetString() == result.Iscc, name);
        Assert.Equal(outputs.GetProperty("datahash").GetString(), result.DataHash);
        Assert.Equal(outputs.GetProperty("filesize").GetInt64(), result.FileSize);
        using var ms = new MemoryStream(data);
        Assert.Equal(result, IsccGenerator.GenInstanceCodeV0(ms, inputs[1].GetInt32()));
    }

    [Theory]
    [MemberData(nameof(IsccCodeCases))]
    public void GenIsccCodeV0_MatchesConformance_AndDecomposesBack(string name, string json)
    {
        using var doc = JsonDocument.Parse(json);
        var codes = doc.RootElement.GetProperty("inputs")[0].EnumerateArray().Select(e => e.GetString()!).ToList();
        var expected = doc.RootElement.GetProperty("outputs").GetProperty("iscc").GetString()!;
        Assert.True(expected == IsccGenerator.GenIsccCodeV0(codes), name);

        // Decoding gives one 64-bit unit per input, in MainType order, equal to the inputs' first 64 bits.
        var parsed = IsccCode.Decode(expected);
        Assert.Equal(IsccMainType.Iscc, parsed.MainType);
        var inputUnits = codes.Select(IsccCode.Decode).OrderBy(c => c.MainType).ToList();
        Assert.Equal(inputUnits.Count, parsed.Units.Count);
        for (var i = 0; i < inputUnits.Count; i++)
        {
            Assert.Equal(inputUnits[i].MainType, parsed.Units[i].MainType);
            Assert.Equal(inputUnits[i].Units[0].Head, parsed.Units[i].Head);
        }

        // Recomposing the decomposed units gives the same ISCC-CODE.
        Assert.Equal(expected, IsccGenerator.GenIsccCodeV0(IsccCodec.Decompose(parsed)));
    }
}
