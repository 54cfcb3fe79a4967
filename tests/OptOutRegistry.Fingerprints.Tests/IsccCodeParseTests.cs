using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

public class IsccCodeParseTests
{
    [Theory]
    [InlineData("ISCC:AAAZXZ6OU74YAZIM", IsccMainType.Meta, 0, 64)]
    [InlineData("iscc:eaaskdnznyguuf5a", IsccMainType.Content, IsccSubType.Text, 64)]
    [InlineData("EADSKDNZNYGUUF5AMFEJLZ5P66CP5YKCOA3X7F36RWE4CIRCBTUWXYY", IsccMainType.Content, IsccSubType.Text, 256)]
    [InlineData("ISCC:GABXOD4P2IS6YHS2XOK6IBVPVXPPG", IsccMainType.Data, 0, 128)]
    [InlineData("ISCC:IAAJHFKU6M", IsccMainType.Instance, 0, 32)]
    [InlineData("ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY", IsccMainType.Iscc, IsccSubType.Text, 256)]
    [InlineData("ISCC:KUAFVC5DMJJGYKZ4MQV6B6THIBBUG", IsccMainType.Iscc, IsccSubType.Sum, 128)]
    public void Parse_ValidCodes_GivesHeaderFields(string text, IsccMainType mainType, byte subType, int bits)
    {
        var code = IsccCode.Decode(text);
        Assert.Equal(mainType, code.MainType);
        Assert.Equal(subType, code.SubType);
        Assert.Equal(0, code.Version);
        Assert.Equal(bits, code.BitLength);
        Assert.StartsWith("ISCC:", code.Text);
        Assert.Equal(code.Text, IsccCode.Decode(code.Text).Text);
    }

    [Fact]
    public void Parse_IsccCode_GivesFour64BitUnitsInMainTypeOrder()
    {
        var code = IsccCode.Decode("ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY");
        Assert.Equal([IsccMainType.Meta, IsccMainType.Content, IsccMainType.Data, IsccMainType.Instance], code.Units.Select(u => u.MainType));
        Assert.Equal(IsccCode.Decode("AAAYPXW445FTYNJ3").Units[0].Head, code.Units[0].Head);
        Assert.Equal(IsccCode.Decode("EAARMJLTQCUWAND2").Units[0].Head, code.Units[1].Head);
        Assert.All(code.Units, u => Assert.Equal(64, u.BitLength));
    }

    [Fact]
    public void Units_32BitBody_FillsTheHighHalf()
    {
        var full = IsccCode.Decode("ISCC:EAAZHFKU6PNI7UVW").Units[0];
        var half = IsccCode.Decode("ISCC:EAAJHFKU6M").Units[0];
        Assert.Equal(full.Head & 0xFFFFFFFF00000000UL, half.Head);
        Assert.Equal(0, IsccSimilarity.Distance(full, half));
    }

    private static string Code(params byte[] bytes) => "ISCC:" + IsccCodec.EncodeBase32(bytes);

    private static readonly byte[] Body8 = [1, 2, 3, 4, 5, 6, 7, 8];

    public static TheoryData<string, string> Hostile() => new()
    {
        { "", "empty" },
        { "ISCC:", "no code" },
        { "ISBN:AAAZXZ6OU74YAZIM", "scheme" },
        { "ISCC:AAAZXZ6OU74YAZI!", "alphabet" },
        { "ISCC:AAAZXZ6OU74YAZ1M", "alphabet" },
        { "ISCC:AAAZXZ6OU74YAZI\u00e9", "alphabet" },
        { "ISCC:AAAZXZ6OU74YAZIM====", "padding" },
        { "ISCC:AAAZXZ6OU74YAZ", "impossible" },
        { "ISCC:A", "impossible" },
        { "ISCC:AAAAB", "trailing bits" },
        { Code(0x00, 0x01, 1, 2, 3, 4, 5, 6, 7), "body: 7 bytes" },
        { Code([0x00, 0x01, .. Body8, 9]), "body: 9 bytes" },
        { Code([0x00, 0x11, .. Body8]), "Version 1" },
        { Code([0x01, 0x01, .. Body8]), "SubType 1" },
        { Code([0x80, 0x00, 0x10, .. Body8]), "MainType 8" },
        { Code(0xF0), "varnibble" },
        { Code(0x00), "varnibble" },
        { Code([0x50, 0x00, .. Body8, .. Body8]), "requires a Content" },
        { Code([0x57, 0x01, .. Body8, .. Body8, .. Body8]), "wide" },
        { Code([0x55, 0x00, .. Body8]), "body: 8 bytes but the header declares 16" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Parse_HostileStrings_AreRejectedWithReason(string text, string reasonFragment)
    {
        Assert.False(IsccCode.TryDecode(text, out var code, out var error));
        Assert.Null(code);
        Assert.Contains(reasonFragment, error, StringComparison.OrdinalIgnoreCase);
        var ex = Assert.Throws<ModelValidationException>(() => IsccCode.Decode(text));
        Assert.Equal(error, ex.Reason);
    }

    [Theory]
    [InlineData("ISCC:IAAJHFKU6M", "32-bit Instance unit")]
    [InlineData("ISCC:MAACAJINXFXA2SQX", "ISCC-ID")]
    public void Decode_AcceptsWhatMatchingRefuses_WithTheMatchersReason(string text, string reasonFragment)
    {
        // One decoder: Decode reads every well-formed ISCC; Parse (selectors, the matcher) adds the matching rules.
        Assert.True(IsccCode.TryDecode(text, out var decoded, out _));
        Assert.Equal(text, decoded.Text);
        Assert.False(IsccCode.TryParse(text, out _, out var error));
        Assert.Contains(reasonFragment, error, StringComparison.Ordinal);
        Assert.Equal(error, Assert.Throws<ModelValidationException>(() => IsccCode.Parse(text)).Reason);
    }

    [Fact]
    public void Decode_HyphenatedSequence_GivesEveryCodesUnits()
    {
        var code = IsccCode.Decode("ISCC:AAAYPXW445FTYNJ3-EAARMJLTQCUWAND2");
        Assert.Equal([IsccMainType.Meta, IsccMainType.Content], code.Units.Select(u => u.MainType));
        Assert.Equal(IsccMainType.Meta, code.MainType);
    }

    [Fact]
    public void Parse_OverlongInput_IsRejectedBeforeDecoding()
    {
        Assert.False(IsccCode.TryDecode("ISCC:" + new string('A', 10_000), out _, out var error));
        Assert.Contains("longer than", error);
        Assert.False(IsccCode.TryDecode(null, out _, out error));
        Assert.Contains("empty", error);
    }

    [Fact]
    public void Parse_RandomBytes_NeverThrowsUnexpectedly()
    {
        var rng = new Random(12345);
        var buffer = new byte[40];
        for (var i = 0; i < 20_000; i++)
        {
            var len = rng.Next(0, buffer.Length);
            rng.NextBytes(buffer);
            var text = "ISCC:" + IsccCodec.EncodeBase32(buffer.AsSpan(0, len));
            if (IsccCode.TryDecode(text, out var code, out var error))
            {
                Assert.Equal(text, code.Text);
                Assert.NotEmpty(code.Units);
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
            }
        }
    }

    [Theory]
    [InlineData(IsccMainType.Meta, 0, 64)]
    [InlineData(IsccMainType.Content, IsccSubType.Image, 128)]
    [InlineData(IsccMainType.Data, 0, 256)]
    [InlineData(IsccMainType.Instance, 0, 32)]
    public void EncodeUnit_ThenParse_RoundTrips(IsccMainType mainType, byte subType, int bits)
    {
        var digest = Enumerable.Range(0, 32).Select(i => (byte)(i * 37)).ToArray();
        var code = IsccCode.Decode(IsccCodec.EncodeUnit(mainType, subType, 0, bits, digest));
        Assert.Equal(mainType, code.MainType);
        Assert.Equal(subType, code.SubType);
        Assert.Equal(digest[..(bits / 8)], code.Body.ToArray());
    }

    [Fact]
    public void GenIsccCode_MissingInstance_IsRejectedWithReason()
    {
        var ex = Assert.Throws<ArgumentException>(() => IsccGenerator.GenIsccCodeV0(["AAAYPXW445FTYNJ3", "GABVVC5DMJJGYKZ4ZBYVNYABFFYXG"]));
        Assert.Contains("Instance", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => IsccGenerator.GenIsccCodeV0(["EAAJHFKU6M", "GABVVC5DMJJGYKZ4ZBYVNYABFFYXG", "IADWIK7A7JTUAQ2D6QARX7OBEIK3OOUAM42LOBLCZ4ZOGDLRHMDL6TQ"]));
        Assert.Contains("shorter than 64 bits", ex.Message);
    }

    [Fact]
    public void GenIsccCode_Wide_Keeps128BitDataAndInstance()
    {
        var wide = IsccGenerator.GenIsccCodeV0(["GABVVC5DMJJGYKZ4ZBYVNYABFFYXG", "IADWIK7A7JTUAQ2D6QARX7OBEIK3OOUAM42LOBLCZ4ZOGDLRHMDL6TQ"], wide: true);
        var code = IsccCode.Decode(wide);
        Assert.Equal(IsccSubType.Wide, code.SubType);
        Assert.Equal(256, code.BitLength);
        Assert.Equal(IsccCode.Decode("GABVVC5DMJJGYKZ4ZBYVNYABFFYXG").Body.ToArray(), code.Body[..16].ToArray());
    }
}
