using System.Globalization;
using System.Text;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// The match key must equal what its documented rule gives from the WHATWG parse: host (no trailing dot), port
/// unless 80/443, then pathname and search with the percent rule. This oracle is computed here from
/// <see cref="WhatwgUrl"/>'s public components, independently of both key writers (the single-pass one and the full
/// parser), over every http(s) input of urltestdata.json and a grid of tricky and ordinary URLs.
/// </summary>
public sealed class MatchKeyOracleTests
{
    private static readonly string[] s_tricky =
    [
        "http://A.B:080/", "http://a.b:8080x/", "http://1password.com/", "http://a.b/./", "http://a.b/%2e/", "http://a.b/a/%2E%2e",
        "http://a.b/a?%", "http://a.b/a%", "http://a.b/a%4", "http://a.b/a%zz", "http://a.b/%7E%7e", "http://a.b/?%41", "HTTP://A.B",
        "http://a.b?x", "http://a.b#x", "http://a.b:/x", "http://a.b:65536/", "http://a.b:65535/", "http://a.b:0/", "http://a_b.c/",
        "http://a..b/", "http://.a.b/", "http://a.b./", "http://./", "http://../", "http://a.b/a\\b", "http://a.b/a?b\\c",
        "http://a.b/'x'?'y'", "http://a.b/{x}?{y}", "http://a.b/^?^", "http://a.b/`?`", "http://a.b/|?|", "http://a.b/\"?\"",
        "http://a.b/<>?<>", "http://a.b/a b?c d", "https://a.b/.%2e/x", "https://a.b/x/..", "https://a.b/x/.", "https://a.b/...",
        "https://a.b/x?", "https://a.b/x?#", "https://a.b/x#?", "https://a.b:443", "http://a.b:443/", "https://a.b:80/",
        "https://0x7f.1/", "https://a.0x1/", "https://a.09/", "https://a.b.1/", "https://a.1b/", "https://user@a.b/",
        "https:/a.b/", "https:a.b/", "https:///a.b/", "https://a.b/%2f%2F", "https://a.b/%C3%A9?%c3%a9", "https://a.b/é?é",
        "https://xn--e1afmkfd.xn--p1ai/", "https://XN--E1AFMKFD.xn--p1ai/", "https://пример.рф/путь?к=в", "https://a.b/\t/x",
        " https://a.b/ ", "https://a.b/x\n", "https://[::1]/", "https://a.b/a%2e", "https://a.b/%2ea", "https://a.b/.a",
        "https://a.b/a./", "https://a.b//x", "https://a.b/x//", "https://a-.b/", "https://-a.b/", "https://a.b/~/!$&()*+,;=:@",
        "https://a.b/?!$&()*+,;=:@/?", "https://a.b/%", "https://a.b/%%41", "https://a.b/%4%41",
        "https://a.b/x/.hidden/file", "https://a.b/a/..b/c", "https://a.b/a/b./c", "https://a.b/a/..?q", "https://a.b/a/.#f",
        "https://a.b/..", "https://a.b/./", "https://a.b/a/b/./", "https://a.b/a/...?x", "https://a.b/.well-known/x",
        "https://A.B.C/UPPER/Case?Q=V", "https://a.b?", "https://a.b/?#", "https://a.b/x?y#z?w", "https://a.b/x#y/../z",
    ];

    private static readonly string[] s_hosts = ["example.com", "WWW.Example.COM", "shop.example.kz", "a.b.c.d.example.co.uk", "example.com.", "ex_ample.org"];
    private static readonly string[] s_ports = [string.Empty, ":80", ":443", ":8080", ":1"];
    private static readonly string[] s_paths = [string.Empty, "/", "/a", "/a/b/", "/a/./b", "/a/../b", "/%7Euser/x%2fy", "/photos/2024/cat.jpg", "/a%20b/c d"];
    private static readonly string[] s_queries = [string.Empty, "?", "?q=1", "?a=%41&b=%e2%82%ac", "?x=y z"];
    private static readonly string[] s_fragments = [string.Empty, "#", "#top"];

    public static TheoryData<string> Tricky() => [.. s_tricky];

    public static TheoryData<string> Corpus()
    {
        var data = new TheoryData<string>();
        foreach (var c in CorpusJson.LoadObjects("whatwg-url", "urltestdata.json"))
        {
            var input = c.GetString("input")!;
            if (c.GetString("base") is null || input.TrimStart().StartsWith("http", StringComparison.OrdinalIgnoreCase))
            {
                data.Add(input);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Tricky))]
    [MemberData(nameof(Corpus))]
    public void TryWriteMatchKey_Url_EqualsRuleAppliedToWhatwgComponents(string url) => AssertMatchesOracle(url);

    [Fact]
    public void TryWriteMatchKey_GridOfOrdinaryUrls_EqualsRuleAppliedToWhatwgComponents()
    {
        var count = 0;
        foreach (var scheme in (string[])["http://", "HTTPS://"])
        {
            foreach (var host in s_hosts)
            {
                foreach (var port in s_ports)
                {
                    foreach (var path in s_paths)
                    {
                        foreach (var query in s_queries)
                        {
                            foreach (var fragment in s_fragments)
                            {
                                AssertMatchesOracle(scheme + host + port + path + query + fragment);
                                count++;
                            }
                        }
                    }
                }
            }
        }

        Assert.Equal(2 * 6 * 5 * 9 * 5 * 3, count);
    }

    /// <summary>
    /// Differential fuzzing with a fixed seed: random URLs over an alphabet of the characters that matter to the
    /// parser (delimiters, escapes, dots, digits, Cyrillic, lone surrogates, whitespace) must never throw and must
    /// always agree with the oracle — whichever of the two key writers handles them.
    /// </summary>
    [Fact]
    public void TryWriteMatchKey_RandomUrls_NeverThrowAndAgreeWithOracle()
    {
        const string alphabet = "aZ09.-_/\\?#%:@[]2eEfF7 \t~'\"<>^`{}|!$&=+;,ыҚ\uD800";
        string[] prefixes = ["http://", "https://", "HTTP://a.b", "https://x.y/", "https://[", "http://1.", "https://пример.рф/", ""];
        var random = new Random(1122);
        for (var n = 0; n < 20000; n++)
        {
            var sb = new StringBuilder(prefixes[random.Next(prefixes.Length)]);
            var length = random.Next(0, 24);
            for (var i = 0; i < length; i++)
            {
                sb.Append(alphabet[random.Next(alphabet.Length)]);
            }

            AssertMatchesOracle(sb.ToString());
        }
    }

    private static void AssertMatchesOracle(string url)
    {
        var destination = new char[(url.Length * 9) + 64];
        var ok = UrlCanonicalizer.TryWriteMatchKey(url, destination, out var written, out var parts, out var error);
        if (!WhatwgUrl.TryParse(url, null, out var parsed, out var parseError))
        {
            Assert.False(ok, $"{url}: parser refuses it ({parseError}) but the key is {new string(destination, 0, written)}");
            Assert.Equal(parseError, error);
            return;
        }

        if (parsed.Protocol is not ("http:" or "https:"))
        {
            Assert.False(ok);
            Assert.Equal(UrlError.UnsupportedScheme, error);
            return;
        }

        var host = parsed.Hostname.Length > 1 && parsed.Hostname.EndsWith('.') ? parsed.Hostname[..^1] : parsed.Hostname;
        var port = parsed.Port is "" or "80" or "443" ? string.Empty : ":" + parsed.Port;
        var query = parsed.Search.Length > 1 ? "?" + Normalize(parsed.Search[1..]) : string.Empty;
        var expected = host + port + Normalize(parsed.Pathname) + query;
        Assert.True(ok, $"{url}: {error}");
        Assert.Equal(expected, new string(destination, 0, written));
        Assert.Equal(host.Length, parts.HostLength);
        Assert.Equal(host.Length + port.Length, parts.PathStart);
        Assert.Equal(query.Length == 0 ? -1 : written - query.Length, parts.QueryStart);
    }

    /// <summary>The documented percent rule, written independently: unreserved decoded, hex upper-cased, stray % → %25.</summary>
    private static string Normalize(string s)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                var value = (char)int.Parse(s.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (char.IsAsciiLetterOrDigit(value) || value is '-' or '.' or '_' or '~')
                {
                    sb.Append(value);
                }
                else
                {
                    sb.Append('%').Append(char.ToUpperInvariant(s[i + 1])).Append(char.ToUpperInvariant(s[i + 2]));
                }

                i += 2;
            }
            else if (s[i] == '%')
            {
                sb.Append("%25");
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }
}
