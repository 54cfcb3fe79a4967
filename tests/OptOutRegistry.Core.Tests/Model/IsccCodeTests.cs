using System.Buffers.Binary;
using System.Text.Json;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Tests.Model;

/// <summary>Decoding ISCC strings, checked against the iscc-core conformance data (corpora/iscc/data.json).</summary>
public class IsccCodeTests
{
    public static TheoryData<string, string[]> CompositeCases()
    {
        var data = new TheoryData<string, string[]>();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpora", "iscc", "data.json")));
        foreach (var test in doc.RootElement.GetProperty("gen_iscc_code_v0").EnumerateObject())
        {
            var inputs = test.Value.GetProperty("inputs")[0].EnumerateArray().Select(e => e.GetString()!).ToArray();
            data.Add(test.Value.GetProperty("outputs").GetProperty("iscc").GetString()!, inputs);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CompositeCases))]
    public void Composite_DecodesToTheUnitsItWasBuiltFrom(string composite, string[] inputUnits)
    {
        var code = IsccCode.Parse(composite);
        Assert.Equal(composite, code.Text);
        foreach (var input in inputUnits)
        {
            // Each input unit is a standalone code; its first 64 body bits must be a unit of the composite.
            var unit = Assert.Single(IsccCode.Parse(input).Units);
            var found = code.Units.Where(u => u.MainType == unit.MainType).ToList();
            var match = Assert.Single(found);
            Assert.Equal(unit.Head, match.Head);
        }
    }

    [Fact]
    public void StandaloneUnit_DecodesHeaderAndBody()
    {
        // gen_iscc_code_v0 input: a 256-bit Data-Code "GABVVC5DMJJGYKZ4ZBYVNYABFFYXG".
        var unit = Assert.Single(IsccCode.Parse("GABVVC5DMJJGYKZ4ZBYVNYABFFYXG").Units);
        Assert.Equal(IsccMainType.Data, unit.MainType);
        Assert.Equal(128, unit.BitLength);
        Assert.Equal("iscc:GABVVC5DMJJGYKZ4ZBYVNYABFFYXG".ToUpperInvariant()[5..], IsccCode.Parse("iscc:gabvvc5dmjjgykz4zbyvnyabffyxg").Text[5..]);
    }

    [Fact]
    public void HyphenatedSequence_DecodesEveryUnit()
    {
        var code = IsccCode.Parse("AAAYPXW445FTYNJ3-EAARMJLTQCUWAND2");
        Assert.Equal([IsccMainType.Meta, IsccMainType.Content], code.Units.Select(u => u.MainType));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("ISCC:KACT!", "base32")]
    [InlineData("ISCC:KA", "too short")]
    [InlineData("ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AE", "announces")]
    [InlineData("ISCC:EAARMJLT", "truncated")]
    [InlineData("ISCC:MAACAJINXFXA2SQX", "ISCC-ID")]
    public void Invalid_IsRefusedWithAReason(string value, string reason)
    {
        Assert.False(IsccCode.TryParse(value, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Head_IsTheFirst64BodyBitsBigEndian()
    {
        // Meta-Code "AAAYPXW445FTYNJ3": header 0x00 0x01, body follows.
        var bytes = Convert.FromBase64String(Convert.ToBase64String(Base32Decode("AAAYPXW445FTYNJ3")));
        var unit = Assert.Single(IsccCode.Parse("AAAYPXW445FTYNJ3").Units);
        Assert.Equal(BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(2)), unit.Head);
    }

    private static byte[] Base32Decode(string s)
    {
        var output = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in s)
        {
            buffer = (buffer << 5) | (c >= 'A' ? c - 'A' : c - '2' + 26);
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output.Add((byte)(buffer >> bits));
            }
        }

        return [.. output];
    }
}
