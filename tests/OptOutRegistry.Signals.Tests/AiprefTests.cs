using System.Text.Json.Nodes;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;
using OptOutRegistry.Signals.Robots;

namespace OptOutRegistry.Signals.Tests;

/// <summary>The aipref examples with their stated outcomes (corpora/tdmrep-aipref/aipref_examples.json), plus Content-Signal.</summary>
public sealed class AiprefTests
{
    private static readonly JsonNode Examples = JsonNode.Parse(Corpus.Read("tdmrep-aipref", "aipref_examples.json"))!;

    private static Verdict FromWord(string? word) => word switch
    {
        "allow" => Verdict.Allowed,
        "disallow" => Verdict.Disallowed,
        _ => Verdict.Unknown,
    };

    public static TheoryData<int> VocabParseIndexes() => [.. Enumerable.Range(0, Examples["vocab_parse"]!.AsArray().Count)];

    [Theory]
    [MemberData(nameof(VocabParseIndexes))]
    public void ContentUsage_VocabExample_GivesStatedOutcome(int index)
    {
        var c = Examples["vocab_parse"]![index]!;
        var prefs = ContentUsage.Parse(c["value"]!.GetValue<string>(), out _);
        foreach (var (label, word) in c["expected"]!.AsObject())
        {
            Assert.Equal(FromWord(word!.GetValue<string>()), prefs[ContentUsage.MapLabel(label)!.Value]);
        }
    }

    public static TheoryData<int> CombineIndexes() => [.. Enumerable.Range(0, Examples["combine"]!.AsArray().Count)];

    [Theory]
    [MemberData(nameof(CombineIndexes))]
    public void Combine_Example_MostRestrictiveWins(int index)
    {
        var c = Examples["combine"]![index]!;
        var combined = UsagePreferences.None;
        foreach (var statement in c["statements"]!.AsArray())
        {
            var p = UsagePreferences.None;
            foreach (var (label, word) in statement!.AsObject())
            {
                p[ContentUsage.MapLabel(label)!.Value] = FromWord(word!.GetValue<string>());
            }

            combined = combined.MostRestrictive(p);
        }

        foreach (var (label, word) in c["expected"]!.AsObject())
        {
            Assert.Equal(FromWord(word!.GetValue<string>()), combined[ContentUsage.MapLabel(label)!.Value]);
        }
    }

    [Fact]
    public void HttpHeaderExample_ParsesFromTheResponse()
    {
        var example = Examples["http_header_example"]!;
        var response = example["response"]!.GetValue<string>();
        var values = response.Split('\n').TakeWhile(l => l.Length > 0).Skip(1)
            .Select(l => l.Split(':', 2)).Where(p => p[0].Equals("Content-Usage", StringComparison.OrdinalIgnoreCase))
            .Select(p => p[1].Trim()).ToList();
        var prefs = ContentUsage.Parse(values, out var error);
        Assert.Null(error);
        foreach (var (label, word) in example["expected"]!.AsObject())
        {
            Assert.Equal(FromWord(word!.GetValue<string>()), prefs[ContentUsage.MapLabel(label)!.Value]);
        }
    }

    public static TheoryData<int, int> RobotsCases()
    {
        var data = new TheoryData<int, int>();
        var examples = Examples["robots_txt_examples"]!.AsArray();
        for (var i = 0; i < examples.Count; i++)
        {
            for (var k = 0; k < examples[i]!["cases"]!.AsArray().Count; k++)
            {
                data.Add(i, k);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RobotsCases))]
    public void RobotsContentUsage_Example_GivesStatedCrawlAndUsage(int example, int index)
    {
        var e = Examples["robots_txt_examples"]![example]!;
        var c = e["cases"]![index]!;
        var robots = RobotsTxt.Parse(e["robotstxt"]!.GetValue<string>());
        var agent = c["useragent"]!.GetValue<string>();
        var path = c["path"]!.GetValue<string>();
        Assert.Equal(c["crawl"]!.GetValue<bool>(), robots.IsAllowed(path, agent));
        var (prefs, _) = robots.GetPreferences(path, agent, RobotsPreferenceKind.ContentUsage);
        var expected = c["usage"] is { } usage ? ContentUsage.Parse(usage.GetValue<string>(), out _) : UsagePreferences.None;
        Assert.Equal(expected, prefs);
    }

    [Theory]
    [InlineData("train-ai=n", "train-ai", Verdict.Disallowed)]
    [InlineData("Train-AI=n", "train-ai", Verdict.Unknown)] // upper-case keys make SF parsing fail
    [InlineData("train-ai=\"n\"", "train-ai", Verdict.Unknown)] // a String is not the Token n
    [InlineData("train-ai=N", "train-ai", Verdict.Unknown)] // tokens are case-sensitive
    [InlineData("train-ai=n, foo=y", "search", Verdict.Unknown)] // unknown labels ignored
    [InlineData("train-ai=n,", "train-ai", Verdict.Unknown)] // trailing comma: parse failure ⇒ all unknown
    [InlineData("train-genai=n", "train-genai", Verdict.Disallowed)] // vocab-02 label
    [InlineData("search=y", "search", Verdict.Allowed)]
    public void ContentUsage_Header_EdgeCases(string value, string label, Verdict expected)
    {
        var prefs = ContentUsage.Parse(value, out _);
        Assert.True(UsageCategories.TryParse(label, out var category));
        Assert.Equal(expected, prefs[category]);
    }

    [Fact]
    public void RobotsContentUsage_IdenticalPathsConflict_MostRestrictive()
    {
        var robots = RobotsTxt.Parse("user-agent: *\nallow: /\ncontent-usage: /a/ train-ai=y\ncontent-usage: /a/ train-ai=n\n");
        var (prefs, lines) = robots.GetPreferences("/a/x", "AnyBot", RobotsPreferenceKind.ContentUsage);
        Assert.Equal(Verdict.Disallowed, prefs[UsageCategory.TrainAi]);
        Assert.Equal(2, lines.Count);
    }

    [Fact]
    public void RobotsContentUsage_ValueEndsAtHash()
    {
        var robots = RobotsTxt.Parse("user-agent: *\ncontent-usage: train-ai=n # no training\n");
        var (prefs, _) = robots.GetPreferences("/x", "AnyBot", RobotsPreferenceKind.ContentUsage);
        Assert.Equal(Verdict.Disallowed, prefs[UsageCategory.TrainAi]);
    }

    [Fact]
    public void RobotsContentUsage_DisallowedPath_HasNoPreference()
    {
        var robots = RobotsTxt.Parse("user-agent: *\ndisallow: /never/\ncontent-usage: train-ai=y\n");
        Assert.True(robots.GetPreferences("/never/x", "AnyBot", RobotsPreferenceKind.ContentUsage).Preferences.IsEmpty);
    }

    [Theory]
    [InlineData("user-agent: *\ncontent-signal: search=yes, ai-train=no\nallow: /\n", "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("user-agent: *\ncontent-signal: search=yes, ai-train=no\nallow: /\n", "AnyBot", UsageCategory.Search, Verdict.Allowed)]
    [InlineData("user-agent: *\nContent-Signals: ai-input=no\n", "AnyBot", UsageCategory.AiUse, Verdict.Disallowed)] // plural misspelling
    [InlineData("content-signal: ai-train=no\nuser-agent: *\nallow: /\n", "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed)] // outside groups: global
    [InlineData("user-agent: GPTBot\ncontent-signal: ai-train=no\nuser-agent: *\nallow: /\n", "OtherBot", UsageCategory.TrainAi, Verdict.Unknown)] // scoped to GPTBot
    [InlineData("user-agent: *\ncontent-signal: use=full, AI-TRAIN = NO\n", "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed)] // unknown key, lenient case/spaces
    [InlineData("user-agent: a\ncontent-signal: ai-train=yes\nuser-agent: a\ncontent-signal: ai-train=no\n", "a", UsageCategory.TrainAi, Verdict.Disallowed)] // duplicates across merged groups
    public void RobotsContentSignal_Placement(string robotsTxt, string agent, UsageCategory category, Verdict expected)
    {
        var robots = RobotsTxt.Parse(robotsTxt);
        var (prefs, _) = robots.GetPreferences("/x", agent, RobotsPreferenceKind.ContentSignal);
        Assert.Equal(expected, prefs[category]);
    }
}
