using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Resolution;

namespace OptOutRegistry.Signals.Tests;

/// <summary>
/// The edge cases of standards.md §10 (cases 1–12, 15) as one table, through the same offline path as
/// <c>optout signals</c>: files and header lines in, one decision out.
/// </summary>
public sealed class StandardsCasesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("signals-cases").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string?, string?, string[], string?, string, string, string, Verdict> Cases() => new()
    {
        // case, robots.txt, tdmrep.json, headers, html, agent, purpose, url, expected
        { "1 case-insensitive tokens, merged groups", "User-agent: gptbot\nDisallow: /a\nUser-agent: other\nDisallow: /\nUser-agent: GPTBOT\nDisallow: /b\n", null, [], null, "GPTBot", "train-ai", "https://e.com/b/x", Verdict.Disallowed },
        { "1 * only when no specific group", "User-agent: *\nDisallow: /\nUser-agent: GPTBot\nAllow: /\n", null, [], null, "GPTBot", "train-ai", "https://e.com/x", Verdict.Allowed },
        { "1 versioned token", "User-agent: CCBot/2.0\nDisallow: /\n", null, [], null, "CCBot", "train-ai", "https://e.com/x", Verdict.Disallowed },
        { "2 longest match by octets", "User-agent: *\nAllow: /page\nDisallow: /*.html\n", null, [], null, "CCBot", "search", "https://e.com/page.html", Verdict.Disallowed },
        { "2 allow wins ties, * default says nothing about use", "User-agent: *\nAllow: /p\nDisallow: /p\n", null, [], null, "CCBot", "train-ai", "https://e.com/p", Verdict.Unknown },
        { "2 percent-encoding", "User-agent: *\nDisallow: /caf%C3%A9\n", null, [], null, "CCBot", "train-ai", "https://e.com/café", Verdict.Disallowed },
        { "4 tdmrep first match in order", null, """[{"location":"/","tdm-reservation":0},{"location":"/x/","tdm-reservation":1}]""", [], null, "CCBot", "train-ai", "https://e.com/x/1", Verdict.Allowed },
        { "4 tdmrep string \"1\" is unset", null, """[{"location":"/","tdm-reservation":"1"}]""", [], null, "CCBot", "train-ai", "https://e.com/x", Verdict.Unknown },
        { "5 header supersedes file", null, """[{"location":"/","tdm-reservation":1}]""", ["tdm-reservation: 0"], null, "CCBot", "train-ai", "https://e.com/x", Verdict.Allowed },
        { "5 HTML meta supersedes header", null, null, ["tdm-reservation: 0"], "<meta name=\"tdm-reservation\" content=\"1\">", "CCBot", "train-ai", "https://e.com/x", Verdict.Disallowed },
        { "5 absence never resets", null, """[{"location":"/","tdm-reservation":1}]""", ["Content-Type: text/html"], "<title>no meta</title>", "CCBot", "train-ai", "https://e.com/x", Verdict.Disallowed },
        { "6 Content-Usage header", null, null, ["Content-Usage: train-ai=n"], null, "CCBot", "train-genai", "https://e.com/x", Verdict.Disallowed },
        { "6 Content-Usage parse failure ⇒ unknown", null, null, ["Content-Usage: Train-AI=n"], null, "CCBot", "train-ai", "https://e.com/x", Verdict.Unknown },
        { "6 robots Content-Usage only on crawlable paths", "User-agent: *\nDisallow: /never/\nContent-Usage: train-ai=y\n", null, [], null, "CCBot", "train-ai", "https://e.com/ok", Verdict.Allowed },
        { "6 robots Content-Usage for search", "User-agent: *\nContent-Usage: search=n\n", null, [], null, "CCBot", "search", "https://e.com/ok", Verdict.Disallowed },
        { "7 Content-Signal misspelt, inside group", "User-agent: *\nContent-Signals: ai-train=no\nAllow: /\n", null, [], null, "CCBot", "train-ai", "https://e.com/x", Verdict.Disallowed },
        { "7 Content-Signal search=yes", "Content-Signal: search=yes, ai-train=no\nUser-agent: *\nAllow: /\n", null, [], null, "CCBot", "search", "https://e.com/x", Verdict.Allowed },
        { "8 X-Robots-Tag bot scope", null, null, ["X-Robots-Tag: img2dataset: noai", "Content-Type: image/jpeg"], null, "img2dataset", "train-ai", "https://e.com/a.jpg", Verdict.Disallowed },
        { "8 X-Robots-Tag other bot", null, null, ["X-Robots-Tag: img2dataset: noai"], null, "GPTBot", "train-ai", "https://e.com/a.jpg", Verdict.Unknown },
        { "8 bot-named meta", null, null, [], "<meta name=\"img2dataset\" content=\"noai\">", "img2dataset", "train-ai", "https://e.com/p", Verdict.Disallowed },
        { "8 noimageai on a page does not cover the page", null, null, [], "<meta name=\"robots\" content=\"noimageai\">", "CCBot", "train-ai", "https://e.com/p", Verdict.Unknown },
        { "11 nothing said ⇒ unknown", "User-agent: *\nAllow: /\n", """[]""", ["Content-Type: text/plain"], null, "CCBot", "all", "https://e.com/x", Verdict.Unknown },
        { "12 most restrictive across mechanisms", "User-agent: GPTBot\nAllow: /\n", null, ["X-Robots-Tag: noai"], null, "GPTBot", "train-ai", "https://e.com/x", Verdict.Disallowed },
        { "12 allow from one, unknown from others ⇒ allowed", "User-agent: GPTBot\nAllow: /\n", null, ["X-Robots-Tag: noarchive"], null, "GPTBot", "train-ai", "https://e.com/x", Verdict.Allowed },
        { "15 control token governs Googlebot training", "User-agent: Google-Extended\nDisallow: /\n", null, [], null, "Googlebot", "train-genai", "https://e.com/x", Verdict.Disallowed },
        { "15 control token does not govern search", "User-agent: Google-Extended\nDisallow: /\n", null, [], null, "Googlebot", "search", "https://e.com/x", Verdict.Unknown },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Offline_Case_GivesExpectedDecision(
        string name, string? robots, string? tdmrep, string[] headers, string? html, string agent, string purpose, string url, Verdict expected)
    {
        var files = new OfflineSignalsFiles
        {
            RobotsPath = Write("robots.txt", robots),
            TdmrepPath = Write("tdmrep.json", tdmrep),
            HtmlPath = Write("page.html", html),
            HeaderLines = headers,
        };
        Assert.True(UsageCategories.TryParse(purpose, out var p));
        var decision = new SiteSignalsEvaluator().Evaluate(new Uri(url), agent, p, OfflineSignals.Load(files));
        Assert.True(expected == decision.Decision,
            $"{name}: expected {expected}, got {decision.Decision}: " + string.Join(" | ", decision.Contributions.Select(c => $"{c.Mechanism} {c.Verdict} {c.Detail}")));
    }

    [Theory]
    [InlineData("Name value")]
    [InlineData(": value")]
    [InlineData("Bad Name: v")]
    public void HeaderLine_Invalid_IsRejectedWithReason(string line)
    {
        Assert.False(OfflineSignals.TryParseHeaderLine(line, out _, out var error));
        Assert.Contains(line, error);
    }

    [Fact]
    public void MissingFile_IsReportedWithOptionName()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => OfflineSignals.Load(new OfflineSignalsFiles { RobotsPath = Path.Combine(_dir, "nope.txt") }));
        Assert.Contains("--robots", ex.Message);
    }

    private string? Write(string name, string? content)
    {
        if (content is null)
        {
            return null;
        }

        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + name);
        File.WriteAllText(path, content);
        return path;
    }
}
