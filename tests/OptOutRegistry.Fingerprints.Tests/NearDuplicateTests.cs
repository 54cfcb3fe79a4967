using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

/// <summary>Near-duplicate text is caught by the Text-Code within <see cref="IsccSimilarity.DefaultNearDuplicateThreshold"/>.</summary>
public class NearDuplicateTests
{
    private static readonly string Original = BuildText();

    // A deterministic ~3 KB English text plus a Russian paragraph (no external data needed).
    private static string BuildText()
    {
        string[] words = ["the", "registry", "keeps", "opt", "out", "declarations", "from", "rights", "holders", "and",
            "checks", "every", "crawled", "document", "against", "them", "before", "it", "enters", "a", "training",
            "set", "while", "crawler", "fetches", "pages", "at", "high", "rates", "filter", "must", "decide", "quickly",
            "whether", "content", "was", "reserved", "publishers", "archive", "novel", "chapter", "photograph"];
        var rng = new Random(7);
        var sb = new StringBuilder();
        for (var s = 0; s < 45; s++)
        {
            for (var w = 0; w < 12; w++)
            {
                sb.Append(words[rng.Next(words.Length)]).Append(w == 11 ? ". " : " ");
            }
        }

        sb.Append("Правообладатели регистрируют отказ от использования своих произведений для обучения моделей; ");
        sb.Append("фильтр проверяет каждый документ перед тем, как он попадёт в набор данных.");
        return sb.ToString();
    }

    private static int Distance(string a, string b)
    {
        var ua = IsccCode.Decode(IsccGenerator.GenTextCodeV0(a).Iscc).Units[0];
        var ub = IsccCode.Decode(IsccGenerator.GenTextCodeV0(b).Iscc).Units[0];
        return IsccSimilarity.Distance(ua, ub);
    }

    public static TheoryData<string, string> Variants()
    {
        var o = Original;
        return new TheoryData<string, string>
        {
            { "whitespace doubled and re-wrapped", o.Replace(" ", "  \n") },
            { "CRLF and tabs", o.Replace(". ", ".\r\n\t") },
            { "NFD re-encoded", o.Normalize(NormalizationForm.FormD) },
            { "UTF-16 round trip", Encoding.Unicode.GetString(Encoding.Unicode.GetBytes(o)) },
            { "upper-cased", o.ToUpperInvariant() },
            { "punctuation changed", o.Replace(". ", "; ").Replace(",", " -") },
            { "truncated to 90 %", o[..(o.Length * 9 / 10)] },
            { "truncated to 95 %", o[..(o.Length * 95 / 100)] },
            { "first 5 % dropped", o[(o.Length / 20)..] },
        };
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void TextCode_NearDuplicate_IsWithinThreshold(string variant, string text)
    {
        var d = Distance(Original, text);
        Assert.True(d <= IsccSimilarity.DefaultNearDuplicateThreshold, $"{variant}: distance {d}");
    }

    [Fact]
    public void TextCode_RussianReencodedThroughWindows1251AndKoi8r_IsIdentical()
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var russian = Original[Original.IndexOf("Правообладатели", StringComparison.Ordinal)..];
        foreach (var name in new[] { "windows-1251", "koi8-r" })
        {
            var legacy = Encoding.GetEncoding(name);
            Assert.True(Distance(russian, legacy.GetString(legacy.GetBytes(russian))) == 0, name);
        }
    }

    [Theory]
    [InlineData("whitespace", " ", "   ")]
    [InlineData("line breaks", " ", "\n")]
    public void TextCode_WhitespaceOnlyChange_IsIdentical(string variant, string from, string to)
    {
        Assert.True(Distance(Original, Original.Replace(from, to)) == 0, variant);
    }

    [Fact]
    public void TextCode_UnrelatedText_IsBeyondThreshold()
    {
        var unrelated = string.Concat(Enumerable.Range(0, 300).Select(i => $"item{i * 7919 % 1000} value{i * 104729 % 997} "));
        Assert.True(Distance(Original, unrelated) > IsccSimilarity.DefaultNearDuplicateThreshold);
    }

    [Fact]
    public void Distance_DifferentUnitKinds_IsNotComparable()
    {
        var text = IsccCode.Decode(IsccGenerator.GenTextCodeV0(Original).Iscc).Units[0];
        var data = IsccCode.Decode(IsccGenerator.GenDataCodeV0(Encoding.UTF8.GetBytes(Original))).Units[0];
        Assert.Equal(-1, IsccSimilarity.Distance(text, data));
        Assert.False(IsccSimilarity.IsNearDuplicate(text, data));
    }

    [Theory]
    [InlineData(0UL, 0UL, 0)]
    [InlineData(0UL, ulong.MaxValue, 64)]
    [InlineData(0xF0F0UL, 0x0F0FUL, 16)]
    public void HammingDistance_CountsDifferingBits(ulong a, ulong b, int expected)
    {
        Assert.Equal(expected, IsccSimilarity.HammingDistance(a, b));
        Assert.Equal(expected, IsccSimilarity.HammingDistance(BitConverter.GetBytes(a), BitConverter.GetBytes(b)));
    }
}
