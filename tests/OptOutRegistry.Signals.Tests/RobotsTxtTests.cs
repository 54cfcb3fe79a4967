using System.Diagnostics;
using System.Text;
using OptOutRegistry.Signals.Robots;

namespace OptOutRegistry.Signals.Tests;

/// <summary>RFC 9309 parsing and matching (standards.md §6.1 and §10 cases 1–2), including Google's test examples.</summary>
public sealed class RobotsTxtTests
{
    public static TheoryData<string, string, string, string, bool> Cases() => new()
    {
        // name, robots.txt, agent, path, allowed
        { "directive names and tokens are case-insensitive", "USER-AGENT: FooBot\nDISALLOW: /x\n", "foobot", "/x", false },
        { "paths are case-sensitive", "user-agent: *\ndisallow: /X\n", "AnyBot", "/x", true },
        { "duplicate groups are merged (first part)", "user-agent: a\ndisallow: /x\nuser-agent: b\ndisallow: /y\nuser-agent: a\ndisallow: /z\n", "a", "/x", false },
        { "duplicate groups are merged (second part)", "user-agent: a\ndisallow: /x\nuser-agent: b\ndisallow: /y\nuser-agent: a\ndisallow: /z\n", "a", "/z", false },
        { "duplicate groups do not take other groups' rules", "user-agent: a\ndisallow: /x\nuser-agent: b\ndisallow: /y\nuser-agent: a\ndisallow: /z\n", "a", "/y", true },
        { "a specific group replaces * (Google example)", "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n", "FooBot", "/x/page", true },
        { "* applies when no specific group", "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n", "BarBot", "/x/page", false },
        { "consecutive user-agent lines share a group", "user-agent: a\nuser-agent: b\ndisallow: /\n", "b", "/p", false },
        { "rules before the first group are ignored", "disallow: /\nuser-agent: *\ndisallow: /x\n", "AnyBot", "/a", true },
        { "unknown lines do not close the agent run", "user-agent: a\ncrawl-delay: 5\nuser-agent: b\ndisallow: /\n", "a", "/p", false },
        { "sitemap does not end a group", "user-agent: a\ndisallow: /x\nsitemap: https://e.com/s.xml\ndisallow: /y\n", "a", "/y", false },
        { "content-usage does not break the group", "user-agent: *\ncontent-usage: train-ai=n\ndisallow: /y\n", "AnyBot", "/y", false },
        { "UTF-8 BOM is skipped", "\uFEFFuser-agent: *\ndisallow: /x\n", "AnyBot", "/x", false },
        { "CRLF line ends", "user-agent: *\r\ndisallow: /x\r\n", "AnyBot", "/x", false },
        { "CR-only line ends", "user-agent: *\rdisallow: /x\r", "AnyBot", "/x", false },
        { "comments are stripped", "user-agent: * # all\ndisallow: /x # not x\n", "AnyBot", "/x", false },
        { "versioned token in file matches product", "user-agent: CCBot/2.0\ndisallow: /\n", "CCBot", "/a", false },
        { "versioned agent matches token in file", "user-agent: CCBot\ndisallow: /\n", "CCBot/2.0", "/a", false },
        { "token with a space matches by its first word", "user-agent: Kangaroo Bot\ndisallow: /\n", "Kangaroo Bot", "/a", false },
        { "digits are token characters", "user-agent: AI2Bot\ndisallow: /\n", "AI", "/a", true },
        { "token match is exact, not prefix", "user-agent: GPT\ndisallow: /\n", "GPTBot", "/a", true },
        { "longest match wins: disallow longer (Google)", "user-agent: *\nallow: /page\ndisallow: /*.html\n", "AnyBot", "/page.html", false },
        { "longest match: /x disallowed", "user-agent: *\ndisallow: /x\nallow: /x/\n", "AnyBot", "/x", false },
        { "longest match: /x/ allowed", "user-agent: *\ndisallow: /x\nallow: /x/\n", "AnyBot", "/x/", true },
        { "allow wins ties", "user-agent: *\ndisallow: /p\nallow: /p\n", "AnyBot", "/p", true },
        { "* matches /", "user-agent: *\ndisallow: /*/private\n", "AnyBot", "/a/b/private", false },
        { "$ anchors the end", "user-agent: *\ndisallow: /*.php$\n", "AnyBot", "/x.php", false },
        { "$ anchored pattern does not match longer path", "user-agent: *\ndisallow: /*.php$\n", "AnyBot", "/x.php?y=1", true },
        { "$ is literal in the middle", "user-agent: *\ndisallow: /a$b\n", "AnyBot", "/a$b", false },
        { "$ in the middle does not anchor", "user-agent: *\ndisallow: /a$b\n", "AnyBot", "/ab", true },
        { "empty disallow allows all", "user-agent: *\ndisallow:\n", "AnyBot", "/a", true },
        { "no group at all: allowed", "sitemap: https://e.com/s.xml\n", "AnyBot", "/a", true },
        { "no matching rule: allowed", "user-agent: *\ndisallow: /x\n", "AnyBot", "/y", true },
        { "query is part of the path", "user-agent: *\ndisallow: /*?session=\n", "AnyBot", "/a?session=1", false },
        { "percent-encoded unreserved in pattern", "user-agent: *\ndisallow: /%7Efoo\n", "AnyBot", "/~foo", false },
        { "percent-encoded unreserved in path", "user-agent: *\ndisallow: /~foo\n", "AnyBot", "/%7efoo", false },
        { "non-ASCII pattern vs encoded path", "user-agent: *\ndisallow: /ä\n", "AnyBot", "/%C3%A4", false },
        { "non-ASCII path vs encoded pattern, lower-case hex", "user-agent: *\ndisallow: /%c3%a4\n", "AnyBot", "/ä", false },
        { "reserved characters stay encoded", "user-agent: *\ndisallow: /a%2Fb\n", "AnyBot", "/a/b", true },
        { "robots.txt itself is always allowed", "user-agent: *\ndisallow: /\n", "AnyBot", "/robots.txt", true },
        { "missing colon accepted (Google)", "user-agent *\ndisallow /\n", "AnyBot", "/a", false },
        { "misspelt disallow accepted (Google)", "user-agent: *\ndissallow: /a\n", "AnyBot", "/a", false },
        { "pattern not starting with / is ignored", "user-agent: *\ndisallow: a\n", "AnyBot", "/a", true },
        { "pattern starting with * is used", "user-agent: *\ndisallow: *.gif\n", "AnyBot", "/x.gif", false },
        { "generic allow ties a bucketed disallow", "user-agent: *\ndisallow: /ax\nallow: /*x\n", "AnyBot", "/ax", true },
        { "generic allow shorter than bucketed disallow", "user-agent: *\ndisallow: /abc\nallow: /*c\n", "AnyBot", "/abc", false },
        { "generic disallow longer than bucketed allow", "user-agent: *\nallow: /a\ndisallow: /*/secret\n", "AnyBot", "/a/secret", false },
        { "empty path means /", "user-agent: *\ndisallow: /\n", "AnyBot", "", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsAllowed_Case_MatchesRfc9309(string name, string robots, string agent, string path, bool allowed)
    {
        var parsed = RobotsTxt.Parse(robots);
        Assert.True(allowed == parsed.IsAllowed(path, agent), name);
    }

    [Fact]
    public void Parse_FileLargerThan500KiB_ParsesThePrefixOnly()
    {
        var sb = new StringBuilder("user-agent: *\ndisallow: /early\n");
        while (sb.Length < 600 * 1024)
        {
            sb.Append("# padding padding padding padding padding padding padding padding\n");
        }

        sb.Append("disallow: /late\n");
        var robots = RobotsTxt.Parse(sb.ToString());
        Assert.False(robots.IsAllowed("/early", "AnyBot"));
        Assert.True(robots.IsAllowed("/late", "AnyBot"));
        Assert.Contains(robots.Warnings, w => w.Message.Contains("500", StringComparison.Ordinal) || w.Message.Contains("512000", StringComparison.Ordinal));
    }

    [Fact]
    public void IsAllowed_PathologicalWildcards_FinishesQuickly()
    {
        var robots = RobotsTxt.Parse("user-agent: *\ndisallow: /" + string.Concat(Enumerable.Repeat("*a", 200)) + "*b\n");
        var path = "/" + new string('a', 100_000);
        var sw = Stopwatch.StartNew();
        Assert.True(robots.IsAllowed(path, "AnyBot"));
        Assert.False(robots.IsAllowed(path + "b", "AnyBot"));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"took {sw.Elapsed}");
    }

    [Fact]
    public void Check_ReturnsDecidingRuleWithLine()
    {
        var robots = RobotsTxt.Parse("user-agent: GPTBot\nallow: /public/\ndisallow: /\n");
        var match = robots.Check("/private/x", "GPTBot");
        Assert.False(match.Allowed);
        Assert.Equal(3, match.Rule!.Line);
        Assert.Equal(RobotsRuleKind.Disallow, match.Rule.Kind);
        Assert.True(robots.Check("/public/x", "gptbot").Allowed);
    }

    [Fact]
    public void Parse_InvalidUtf8AndBinary_DoesNotThrowAndKeepsValidLines()
    {
        var bytes = new List<byte>();
        bytes.AddRange("user-agent: *\ndisallow: /a"u8.ToArray());
        bytes.AddRange(new byte[] { 0xFF, 0xFE, 0xC3 });
        bytes.AddRange("\n\0\0\0garbage\x01\x02\ndisallow: /b\n"u8.ToArray());
        var robots = RobotsTxt.Parse(bytes.ToArray());
        Assert.False(robots.IsAllowed("/b", "AnyBot"));
        Assert.False(robots.IsAllowed("/a%FF%FE%C3", "AnyBot"));
    }

    [Fact]
    public void Licenses_GroupScopedOverrideGlobal()
    {
        var robots = RobotsTxt.Parse("License: https://e.com/global.xml\nuser-agent: GPTBot\nLicense: https://e.com/gpt.xml\ndisallow:\nuser-agent: *\ndisallow:\n");
        Assert.Equal("https://e.com/gpt.xml", Assert.Single(robots.GetLicenses("GPTBot")).Url);
        Assert.Equal("https://e.com/global.xml", Assert.Single(robots.GetLicenses("OtherBot")).Url);
    }

    [Fact]
    public void Sitemaps_AreCollected()
    {
        var robots = RobotsTxt.Parse("sitemap: https://e.com/a.xml\nuser-agent: *\nSitemap: https://e.com/b.xml\n");
        Assert.Equal(["https://e.com/a.xml", "https://e.com/b.xml"], robots.Sitemaps);
    }
}
