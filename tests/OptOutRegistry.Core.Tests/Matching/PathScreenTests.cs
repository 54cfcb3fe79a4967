using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Matching.Internal;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>
/// The per-host screen of prefix/pattern rules (<see cref="PathScreen"/>): a check may skip a host's rules only when
/// none of them can match. Pinned three ways: a table of rules and paths through every check form, a randomised
/// comparison of the matcher with a brute-force walk of the rules, and the screen's own no-false-negative property
/// (plus that it actually rejects most unrelated paths — otherwise it would be dead weight in every host slot).
/// </summary>
public sealed class PathScreenTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(30);

    [Theory]
    // Prefixes at and around the cut lengths (1–8, 10, 12, 14, 16, 20, 24, 32, 40) and longer.
    [InlineData("prefix", "/", "/anything", true)]
    [InlineData("prefix", "/a", "/a", true)]
    [InlineData("prefix", "/a", "/b", false)]
    [InlineData("prefix", "/abcdefghi", "/abcdefghi/x", true)]
    [InlineData("prefix", "/abcdefghi", "/abcdefgh", false)]
    [InlineData("prefix", "/abcdefghi", "/abcdefghX", false)]
    [InlineData("prefix", "/gallery/p12345/", "/gallery/p12345/x.jpg", true)]
    [InlineData("prefix", "/gallery/p12345/", "/gallery/p12346/x.jpg", false)]
    [InlineData("prefix", "/gallery/p12345/", "/gallery/", false)]
    [InlineData("prefix", "/0123456789012345678901234567890123456789-tail", "/0123456789012345678901234567890123456789-tail/x", true)]
    [InlineData("prefix", "/0123456789012345678901234567890123456789-tail", "/0123456789012345678901234567890123456789-tais", false)]
    [InlineData("prefix", "/search?q=", "/search?q=cats", true)]
    [InlineData("prefix", "/search?q=", "/search?r=cats", false)]
    // Patterns with a literal prefix of two or more characters.
    [InlineData("pattern", "/private*", "/private-notes", true)]
    [InlineData("pattern", "/private*", "/public", false)]
    [InlineData("pattern", "/a*b$", "/a/x/b", true)]
    [InlineData("pattern", "/a*b$", "/c/x/b", false)]
    [InlineData("pattern", "/exact$", "/exact", true)]
    [InlineData("pattern", "/exact$", "/exactly", false)]
    // Patterns screened by a whole segment they require.
    [InlineData("pattern", "/*/private/", "/x/private/y", true)]
    [InlineData("pattern", "/*/private/", "/private/y", false)]
    [InlineData("pattern", "/*/private/", "/x/privately/y", false)]
    [InlineData("pattern", "/*/private/", "/x/private", false)]
    [InlineData("pattern", "/*/q12/*.png$", "/gallery/q12/a.png", true)]
    [InlineData("pattern", "/*/q12/*.png$", "/gallery/q13/a.png", false)]
    [InlineData("pattern", "/*/q12/*.png$", "/gallery/123/q12.png", false)]
    [InlineData("pattern", "/*/a/b/*", "/x/a/b/y", true)]
    [InlineData("pattern", "/*x/seg/", "/ax/seg/", true)]
    [InlineData("pattern", "/*/seg/", "/a?next=/seg/", true)]
    // Patterns without a screen: every path goes to the rule walk.
    [InlineData("pattern", "/*.pdf$", "/docs/a.pdf", true)]
    [InlineData("pattern", "/*.pdf$", "/docs/a.pdf?x", false)]
    [InlineData("pattern", "/*private", "/x/private", true)]
    [InlineData("pattern", "/*", "/anything", true)]
    public void Rule_CoversExactlyTheMatchingPaths_InEveryCheckForm(string kind, string rule, string path, bool covered)
    {
        var selector = kind == "prefix" ? Prefix("example.com" + rule) : Pattern("example.com" + rule);
        // Url selectors on the host too, so that the host slot has both kinds of entry.
        var index = MatcherIndex.Build([Disallow("holder", selector, Url("https://example.com/registered.jpg"))]);
        var url = "https://example.com" + path;
        var expected = covered ? Verdict.Disallowed : Verdict.Unknown;

        Assert.Equal(expected, index.CheckUrl(url, UsageCategory.TrainAi, Now));
        Assert.Equal(expected, index.Check(CheckQuery.Url(url, UsageCategory.TrainAi, Now)).Verdict);
        var verdicts = new Verdict[1];
        index.CheckUrls([url], UsageCategory.TrainAi, Now, verdicts, new UrlError[1]);
        Assert.Equal(expected, verdicts[0]);
    }

    [Fact]
    public void RuleAddedAfterBuild_IsSeenByTheNextCheck()
    {
        var index = MatcherIndex.Build([Disallow("holder", Prefix("example.com/a/"))]);
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/b/1", UsageCategory.TrainAi, Now));

        index.Apply(ReservationChange.Add(Disallow("holder", Prefix("example.com/b/"))));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/b/1", UsageCategory.TrainAi, Now));
        index.Apply(ReservationChange.Add(Disallow("holder", Pattern("example.com/*/c/"))));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/x/c/1", UsageCategory.TrainAi, Now));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 12)]
    [InlineData(4, 60)]
    [InlineData(5, 100)]
    public void RandomRules_MatcherAgreesWithBruteForceWalk(int seed, int ruleCount)
    {
        var random = new Random(seed);
        var rules = new List<(bool Pattern, string Path)>();
        var selectors = new List<ReservationSelector>();
        for (var i = 0; i < ruleCount; i++)
        {
            var pattern = random.Next(2) == 0;
            var selector = pattern ? Pattern("example.com" + RandomPattern(random)) : Prefix("example.com" + RandomPath(random, 5, 12));
            selectors.Add(selector);
            rules.Add((pattern, selector.Selector.Path!));
        }

        var index = MatcherIndex.Build(selectors.Select(s => Disallow("holder", s)));
        var urls = new string[2000];
        for (var i = 0; i < urls.Length; i++)
        {
            urls[i] = "https://example.com" + RandomPath(random, 1, 14);
        }

        var verdicts = new Verdict[urls.Length];
        index.CheckUrls(urls, UsageCategory.TrainAi, Now, verdicts, new UrlError[urls.Length]);
        var covered = 0;
        for (var i = 0; i < urls.Length; i++)
        {
            var path = UrlCanonicalizer.GetMatchKey(urls[i])["example.com".Length..];
            var expected = rules.Exists(r => r.Pattern ? PathPattern.IsMatch(path, r.Path) : path.StartsWith(r.Path, StringComparison.Ordinal))
                ? Verdict.Disallowed : Verdict.Unknown;
            covered += expected == Verdict.Disallowed ? 1 : 0;
            Assert.True(expected == index.CheckUrl(urls[i], UsageCategory.TrainAi, Now), $"{urls[i]} against {string.Join(' ', rules)}");
            Assert.Equal(expected, verdicts[i]);
        }

        // The table must exercise both answers, or it proves nothing about the screen.
        Assert.InRange(covered, 1, urls.Length - 1);
    }

    [Fact]
    public void Screen_NeverRejectsAMatchingPath_AndRejectsMostOthers()
    {
        var random = new Random(7);
        int rejected = 0, nonMatching = 0;
        for (var round = 0; round < 3000; round++)
        {
            // One host with 1–4 rules, screened as the host slot screens them.
            uint screen = 0, low = 0;
            ulong high = 0;
            var rules = new List<(bool Pattern, string Path)>();
            for (var i = random.Next(1, 5); i > 0; i--)
            {
                var pattern = random.Next(3) == 0;
                var path = pattern ? "/*/" + RandomSegment(random) + "/*" : RandomPath(random, 2, 20);
                rules.Add((pattern, path));
                screen |= PathScreen.Describe(path, pattern, out var key);
                PathScreen.Bits(key, out var l, out var h);
                low |= l;
                high |= h;
            }

            for (var j = 0; j < 20; j++)
            {
                // Half the paths extend a rule's literal, half are unrelated.
                var rule = rules[random.Next(rules.Count)];
                var path = random.Next(2) == 0 && !rule.Pattern ? rule.Path + RandomPath(random, 0, 6) : RandomPath(random, 1, 24);
                var matches = rules.Exists(r => r.Pattern ? PathPattern.IsMatch(path, r.Path) : path.StartsWith(r.Path, StringComparison.Ordinal));
                var may = PathScreen.MayMatch(screen, low, high, path);
                Assert.True(may || !matches, $"screen rejected {path}, matched by {string.Join(' ', rules)}");
                if (!matches)
                {
                    nonMatching++;
                    rejected += may ? 0 : 1;
                }
            }
        }

        Assert.True(rejected > nonMatching * 0.9, $"rejected only {rejected} of {nonMatching} non-matching paths");
    }

    private static string RandomPath(Random random, int minSegments, int maxLength)
    {
        var chars = new System.Text.StringBuilder("/");
        var length = random.Next(minSegments, maxLength + 1);
        while (chars.Length < length)
        {
            chars.Append("ab/-c?="[random.Next(7)]);
        }

        // No dot segments or percent signs: the oracle compares with the canonical key's path as is.
        return chars.ToString();
    }

    private static string RandomSegment(Random random) => new([.. Enumerable.Range(0, random.Next(1, 4)).Select(_ => "abc"[random.Next(3)])]);

    private static string RandomPattern(Random random) => random.Next(4) switch
    {
        0 => "/*/" + RandomSegment(random) + "/" + (random.Next(2) == 0 ? "*" : string.Empty),
        1 => RandomPath(random, 2, 6) + "*" + RandomSegment(random) + (random.Next(2) == 0 ? "$" : string.Empty),
        2 => "/*" + RandomSegment(random) + "$",
        _ => "/" + RandomSegment(random) + "*/" + RandomSegment(random) + "/",
    };
}
