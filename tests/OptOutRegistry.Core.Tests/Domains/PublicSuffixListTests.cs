using System.Text.Json;
using OptOutRegistry.Core.Domains;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Domains;

/// <summary>
/// The Public Suffix List's own registrable-domain tests (corpora/publicsuffix/tests.txt and tests.json, 78 each)
/// against the embedded list, plus what a registry needs from it: refusing <c>domain</c> selectors on suffixes.
/// Expected values in Unicode are compared in punycode (the API speaks lower-case punycode).
/// </summary>
public sealed class PublicSuffixListTests
{
    public static TheoryData<string?, string?> TextCases()
    {
        var data = new TheoryData<string?, string?>();
        foreach (var line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "corpora", "publicsuffix", "tests.txt")))
        {
            var text = line.Trim();
            if (text.Length == 0 || text.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            data.Add(parts[0] == "null" ? null : parts[0], parts[1] == "null" ? null : parts[1]);
        }

        return data;
    }

    public static TheoryData<string?, string?> JsonCases()
    {
        var data = new TheoryData<string?, string?>();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpora", "publicsuffix", "tests.json")));
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            data.Add(e.GetProperty("input").GetString(), e.GetProperty("registrable_domain").GetString());
        }

        return data;
    }

    [Fact]
    public void Corpora_HaveAll78Cases()
    {
        Assert.Equal(78, TextCases().Count);
        Assert.Equal(78, JsonCases().Count);
    }

    [Theory]
    [MemberData(nameof(TextCases))]
    public void GetRegistrableDomain_TestsTxtCase_MatchesExpected(string? host, string? expected) => AssertRegistrable(host, expected);

    [Theory]
    [MemberData(nameof(JsonCases))]
    public void GetRegistrableDomain_TestsJsonCase_MatchesExpected(string? host, string? expected) => AssertRegistrable(host, expected);

    private static void AssertRegistrable(string? host, string? expected)
    {
        var expectedPunycode = expected is null ? null : UrlCanonicalizer.NormalizeHost(expected);
        Assert.Equal(expectedPunycode, PublicSuffixList.Default.GetRegistrableDomain(host));
    }

    [Theory]
    [InlineData("co.uk")]
    [InlineData("github.io")]
    [InlineData("com")]
    [InlineData("kz")]
    [InlineData("com.kz")]
    [InlineData("қаз")]
    [InlineData("рф")]
    [InlineData("CO.UK")]
    [InlineData("blogspot.com")]
    [InlineData("unlisted-tld")]
    public void IsPublicSuffix_Suffix_IsTrueSoDomainSelectorIsRefused(string host) =>
        Assert.True(PublicSuffixList.Default.IsPublicSuffix(host));

    [Theory]
    [InlineData("example.co.uk")]
    [InlineData("octocat.github.io")]
    [InlineData("www.example.com")]
    [InlineData("example.kz")]
    [InlineData("пример.рф")]
    [InlineData("192.168.0.1")]
    [InlineData("[::1]")]
    public void IsPublicSuffix_RegistrableOrDeeperOrIp_IsFalse(string host) =>
        Assert.False(PublicSuffixList.Default.IsPublicSuffix(host));

    [Theory]
    [InlineData("www.bbc.co.uk", "bbc.co.uk", "co.uk")]
    [InlineData("octocat.github.io", "octocat.github.io", "github.io")]
    [InlineData("shop.example.kz", "example.kz", "kz")]
    [InlineData("www.example.com.kz", "example.com.kz", "com.kz")]
    [InlineData("www.пример.рф", "xn--e1afmkfd.xn--p1ai", "xn--p1ai")]
    [InlineData("сайт.қаз", "xn--80aswg.xn--80ao21a", "xn--80ao21a")]
    [InlineData("WWW.Example.COM.", "example.com", "com")]
    public void Lookups_RealHosts_GiveRegistrableDomainAndSuffix(string host, string registrable, string suffix)
    {
        Assert.Equal(registrable, PublicSuffixList.Default.GetRegistrableDomain(host));
        Assert.Equal(suffix, PublicSuffixList.Default.GetPublicSuffix(host));
    }

    [Theory]
    [InlineData("192.168.0.1")]
    [InlineData("[2001:db8::1]")]
    [InlineData("a..example.com")]
    [InlineData("")]
    [InlineData("exa mple.com")]
    public void GetRegistrableDomain_NotADomain_IsNull(string host) =>
        Assert.Null(PublicSuffixList.Default.GetRegistrableDomain(host));

    [Fact]
    public void Default_LoadsTheWholeEmbeddedList() =>
        Assert.InRange(PublicSuffixList.Default.RuleCount, 9000, 20000);

    [Fact]
    public void Parse_CustomList_AppliesWildcardAndExceptionRules()
    {
        const string list = """
            // comment
            test
            *.wild.test
            !except.wild.test
            公司.cn   trailing text is ignored
            """;
        var psl = PublicSuffixList.Parse(new StringReader(list));
        Assert.Equal("a.test", psl.GetRegistrableDomain("b.a.test"));
        Assert.Null(psl.GetRegistrableDomain("x.wild.test"));
        Assert.Equal("y.x.wild.test", psl.GetRegistrableDomain("z.y.x.wild.test"));
        Assert.Equal("except.wild.test", psl.GetRegistrableDomain("www.except.wild.test"));
        Assert.True(psl.IsPublicSuffix("xn--55qx5d.cn"));
        Assert.Equal(4, psl.RuleCount);
    }

    [Fact]
    public void Parse_InvalidRule_NamesTheLine()
    {
        var ex = Assert.Throws<FormatException>(() => PublicSuffixList.Parse(new StringReader("com\nbad<rule\n")));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lookups_RandomHosts_NeverThrow()
    {
        const string alphabet = "abc.-_09ыққ[]:%Ω\uD800 ";
        string[] suffixes = ["", ".com", ".co.uk", ".github.io", ".рф", ".kz", "."];
        var random = new Random(3);
        var psl = PublicSuffixList.Default;
        for (var n = 0; n < 20000; n++)
        {
            var chars = new char[random.Next(0, 12)];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            var host = new string(chars) + suffixes[random.Next(suffixes.Length)];
            var registrable = psl.GetRegistrableDomain(host);
            var isSuffix = psl.IsPublicSuffix(host);
            Assert.False(isSuffix && registrable is not null, host);
        }
    }
}
