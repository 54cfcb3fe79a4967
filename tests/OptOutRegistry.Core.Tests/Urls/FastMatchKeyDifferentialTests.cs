using System.Text;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Core.Urls.Internal;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// The single-pass key writer (<see cref="FastMatchKey"/>) against the full WHATWG parser
/// (<see cref="UrlCanonicalizer.TryWriteMatchKeyFull"/>): whenever the fast path answers, the full parser must give the
/// same key and the same parts; when it declines (-1) the full parser decides. Inputs: every http(s) input of
/// urltestdata.json, crawler-style URLs, and random single- and double-character mutations of both. And the fast path
/// must actually take the ordinary URLs — otherwise every check pays for the full parser.
/// </summary>
public sealed class FastMatchKeyDifferentialTests
{
    private static readonly string[] s_ordinary =
    [
        "https://s123.gallery23.com/news/123456/other-5.jpg", "http://example.com/", "https://example.com", "https://www.example.co.uk/a/b/c?x=1&y=2",
        "https://shop.example.kz/catalog/item-42?color=red#reviews", "http://cdn.example.org:8080/img/a.png", "https://a.b/x?q=a/b/c&z=%7E",
        "https://xn--e1afmkfd.xn--p1ai/путь", "https://example.com/a/b/../c", "https://example.com/~user/index.html", "HTTPS://WWW.EXAMPLE.COM/Path",
        "https://example.com/search?q=cats+dogs&page=2", "https://example.com/a%20b/c", "https://example.com/a'b/c^d", "https://example.com/#only-fragment",
        "https://example.com?only-query", "https://example.com/a?b#c?d", "https://example.com./x", "https://example.com:443/x", "http://example.com:80/x",
    ];

    private const string Mutations = "%2eE./\\?#:@'^`{}|\"<> \tAZé9";

    public static TheoryData<string> Corpus() => [.. CorpusInputs()];

    private static IEnumerable<string> CorpusInputs()
    {
        foreach (var c in CorpusJson.LoadObjects("whatwg-url", "urltestdata.json"))
        {
            var input = c.GetString("input")!;
            if (c.GetString("base") is null || input.TrimStart().StartsWith("http", StringComparison.OrdinalIgnoreCase))
            {
                yield return input;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void CorpusUrl_FastPathAgreesWithFullParser(string url) => AssertAgree(url);

    [Fact]
    public void OrdinaryUrls_TakeTheFastPath_AndAgree()
    {
        var fast = 0;
        foreach (var url in s_ordinary)
        {
            fast += AssertAgree(url) ? 1 : 0;
        }

        // All but the ones with dot segments, non-ASCII, upper-case escapes to normalise or quote/caret characters.
        Assert.True(fast >= 15, $"only {fast} of {s_ordinary.Length} ordinary URLs took the fast path");
    }

    [Fact]
    public void MutatedUrls_FastPathAgreesWithFullParser()
    {
        var random = new Random(2026);
        var corpus = CorpusInputs().ToArray();

        var fast = 0;
        for (var n = 0; n < 30000; n++)
        {
            // Half from the ordinary URLs (mostly fast-path material), half from the corpus (mostly edge cases).
            var sb = new StringBuilder(random.Next(2) == 0 ? s_ordinary[random.Next(s_ordinary.Length)] : corpus[random.Next(corpus.Length)]);
            for (var edits = random.Next(1, 3); edits > 0; edits--)
            {
                var at = random.Next(sb.Length + 1);
                var c = Mutations[random.Next(Mutations.Length)];
                switch (random.Next(3))
                {
                    case 0:
                        sb.Insert(at, c);
                        break;
                    case 1 when at < sb.Length:
                        sb[at] = c;
                        break;
                    default:
                        if (at < sb.Length)
                        {
                            sb.Remove(at, 1);
                        }

                        break;
                }
            }

            fast += AssertAgree(sb.ToString()) ? 1 : 0;
        }

        // The mutations must leave many URLs on the fast path, or the comparison tests little.
        Assert.True(fast > 5000, $"only {fast} mutated URLs took the fast path");
    }

    /// <summary>True when the fast path answered (and agreed).</summary>
    private static bool AssertAgree(string url)
    {
        var fastKey = new char[(url.Length * 9) + 64];
        var n = FastMatchKey.TryWrite(url, fastKey, out var fastParts);
        if (n < 0)
        {
            return false;
        }

        var fullKey = new char[(url.Length * 9) + 64];
        Assert.True(UrlCanonicalizer.TryWriteMatchKeyFull(url, fullKey, out var written, out var parts, out var error), $"{url}: fast path keyed it, full parser refused ({error})");
        Assert.Equal(new string(fullKey, 0, written), new string(fastKey, 0, n));
        Assert.Equal(parts, fastParts);
        return true;
    }
}
