using System.Text.Json;
using System.Text.RegularExpressions;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// The web-platform-tests URL parsing suite (corpora/whatwg-url/urltestdata.json).
/// In scope: every case whose input has a special scheme (http, https, ws, wss, ftp, file), or has no scheme and
/// a special base or none (then it must fail) — 620 of 891. Out of scope, and asserted to be refused with <see cref="UrlError.UnsupportedScheme"/>
/// instead of being mis-parsed: non-special schemes (<c>data:</c>, <c>javascript:</c>, <c>blob:</c>, <c>mailto:</c>,
/// <c>sc:</c> …) and relative inputs against a non-special base. They have opaque paths or opaque hosts and name no
/// web resource that can carry an opt-out, so the registry never needs to parse them.
/// </summary>
public sealed class WhatwgUrlCorpusTests
{
    private static readonly HashSet<string> s_special = ["http", "https", "ws", "wss", "ftp", "file"];
    private static readonly List<JsonElement> s_cases = CorpusJson.LoadObjects("whatwg-url", "urltestdata.json");

    public static TheoryData<int, string> InScope() => Select(inScope: true);

    public static TheoryData<int, string> OutOfScope() => Select(inScope: false);

    [Fact]
    public void Corpus_SplitsIntoExpectedScope()
    {
        Assert.Equal(891, s_cases.Count);
        Assert.Equal(620, InScope().Count);
        Assert.Equal(271, OutOfScope().Count);
    }

    [Theory]
    [MemberData(nameof(InScope))]
    public void TryParse_SpecialSchemeCase_MatchesBrowserResult(int index, string display)
    {
        var c = s_cases[index];
        var input = c.GetString("input")!;
        var baseUrl = c.GetString("base");
        var ok = WhatwgUrl.TryParse(input, baseUrl, out var url, out var error);
        if (c.TryGetProperty("failure", out var failure) && failure.GetBoolean())
        {
            Assert.False(ok, $"case {index} {display}: expected failure, got {url?.Href}");
            Assert.NotEqual(UrlError.None, error);
            Assert.False(string.IsNullOrEmpty(UrlErrors.Describe(error)));
            return;
        }

        Assert.True(ok, $"case {index} {display}: expected {c.GetString("href")}, got error {error}");
        Assert.Equal(c.GetString("href"), url!.Href);
        Assert.Equal(c.GetString("protocol"), url.Protocol);
        Assert.Equal(c.GetString("username"), url.Username);
        Assert.Equal(c.GetString("password"), url.Password);
        Assert.Equal(c.GetString("host"), url.Host);
        Assert.Equal(c.GetString("hostname"), url.Hostname);
        Assert.Equal(c.GetString("port"), url.Port);
        Assert.Equal(c.GetString("pathname"), url.Pathname);
        Assert.Equal(c.GetString("search"), url.Search);
        Assert.Equal(c.GetString("hash"), url.Hash);
        if (c.TryGetProperty("origin", out var origin))
        {
            Assert.Equal(c.GetString("origin"), url.Origin);
        }
    }

    [Theory]
    [MemberData(nameof(OutOfScope))]
    public void TryParse_NonSpecialCase_IsRefusedAsUnsupportedScheme(int index, string display)
    {
        var c = s_cases[index];
        var input = c.GetString("input")!;
        var baseUrl = c.GetString("base");
        Assert.False(WhatwgUrl.TryParse(input, baseUrl, out _, out var error), $"case {index} {display}");
        Assert.Equal(UrlError.UnsupportedScheme, error);
    }

    private static TheoryData<int, string> Select(bool inScope)
    {
        var data = new TheoryData<int, string>();
        for (var i = 0; i < s_cases.Count; i++)
        {
            var c = s_cases[i];
            var input = c.GetString("input")!;
            var baseUrl = c.GetString("base");
            var scheme = SchemeOf(input);
            var special = scheme.Length > 0 ? s_special.Contains(scheme) : baseUrl is null || s_special.Contains(SchemeOf(baseUrl));
            if (special == inScope)
            {
                // Display text only (JSON-escaped so control characters and lone surrogates survive test discovery).
                data.Add(i, CorpusJson.Display(input) + (baseUrl is null ? string.Empty : " against " + CorpusJson.Display(baseUrl)));
            }
        }

        return data;
    }

    /// <summary>The scheme as the URL standard's scheme state would find it (after stripping and tab/newline removal), or "".</summary>
    private static string SchemeOf(string input)
    {
        var s = input.Trim(Enumerable.Range(0, 33).Select(i => (char)i).ToArray()).Replace("\t", string.Empty).Replace("\n", string.Empty).Replace("\r", string.Empty);
        var m = Regex.Match(s, "^([a-zA-Z][a-zA-Z0-9+.-]*):");
        return m.Success ? m.Groups[1].Value.ToLowerInvariant() : string.Empty;
    }

}
