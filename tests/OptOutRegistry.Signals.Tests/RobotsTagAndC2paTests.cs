using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.C2pa;
using OptOutRegistry.Signals.Html;
using OptOutRegistry.Signals.RobotsTags;

namespace OptOutRegistry.Signals.Tests;

/// <summary>X-Robots-Tag / meta robots (standards.md §7.1, §10 case 8) and C2PA/CAWG training-mining (§7.2, §10 case 9).</summary>
public sealed class RobotsTagAndC2paTests
{
    public static TheoryData<string, string[], string, UsageCategory, Verdict> HeaderCases() => new()
    {
        { "noai reserves training", ["noai"], "img2dataset", UsageCategory.TrainAi, Verdict.Disallowed },
        { "case folding", ["NoAI"], "img2dataset", UsageCategory.TrainAi, Verdict.Disallowed },
        { "comma list", ["noindex, noai"], "AnyBot", UsageCategory.TrainGenAi, Verdict.Disallowed },
        { "multiple header instances combine", ["noarchive", "noai"], "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed },
        { "bot prefix applies to that bot", ["img2dataset: noai"], "img2dataset", UsageCategory.TrainAi, Verdict.Disallowed },
        { "bot prefix does not apply to others", ["img2dataset: noai"], "GPTBot", UsageCategory.TrainAi, Verdict.Unknown },
        { "bot prefix scopes the rest of the value", ["spawningbot: noai, noimageai"], "GPTBot", UsageCategory.TrainAi, Verdict.Unknown },
        { "bot prefix is case-insensitive", ["IMG2DATASET: noai"], "img2dataset", UsageCategory.TrainAi, Verdict.Disallowed },
        { "unavailable_after is not a bot name", ["unavailable_after: 25 Jun 2010 15:00:00 PST, noai"], "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed },
        { "RFC 850 date comma is not a directive", ["unavailable_after: Wednesday, 03-Nov-2027 15:00:00 GMT"], "AnyBot", UsageCategory.TrainAi, Verdict.Unknown },
        { "noindex is search only by default", ["noindex"], "AnyBot", UsageCategory.TrainAi, Verdict.Unknown },
        { "noindex reserves search", ["noindex"], "AnyBot", UsageCategory.Search, Verdict.Disallowed },
        { "none is noindex", ["none"], "AnyBot", UsageCategory.Search, Verdict.Disallowed },
        { "noml reserves training", ["noml"], "AnyBot", UsageCategory.TrainAi, Verdict.Disallowed },
        { "noai does not reserve search", ["noai"], "AnyBot", UsageCategory.Search, Verdict.Unknown },
        { "unknown directive ignored", ["max-snippet: 20, nofollow"], "AnyBot", UsageCategory.All, Verdict.Unknown },
    };

    [Theory]
    [MemberData(nameof(HeaderCases))]
    public void XRobotsTag_Case(string name, string[] headers, string agent, UsageCategory purpose, Verdict expected)
    {
        var applying = RobotsTagDirectives.ApplyingTo(RobotsTagDirectives.ParseHeaders(headers), agent);
        var prefs = RobotsTagDirectives.ToPreferences(applying, isImage: null, new RobotsTagOptions());
        Assert.True(expected == prefs.ForPurpose(purpose), $"{name}: got {prefs.ForPurpose(purpose)}");
    }

    [Fact]
    public void XRobotsTag_NoIndexOption_ReservesTraining()
    {
        var prefs = RobotsTagDirectives.ToPreferences(RobotsTagDirectives.ParseHeaders(["noindex"]), null, new RobotsTagOptions { NoIndexMeansNoAi = true });
        Assert.Equal(Verdict.Disallowed, prefs.ForPurpose(UsageCategory.TrainAi));
    }

    [Theory]
    [InlineData(true, Verdict.Disallowed)]
    [InlineData(false, Verdict.Unknown)]
    public void NoImageAi_AppliesToImagesOnly(bool isImage, Verdict expected)
    {
        var prefs = RobotsTagDirectives.ToPreferences(RobotsTagDirectives.ParseHeaders(["noimageai"]), isImage, new RobotsTagOptions());
        Assert.Equal(expected, prefs.ForPurpose(UsageCategory.TrainAi));
    }

    [Theory]
    [InlineData("<meta name=\"robots\" content=\"noai, noimageai\">", "AnyBot", Verdict.Disallowed)]
    [InlineData("<meta name=\"ROBOTS\" content=\"NOAI\">", "AnyBot", Verdict.Disallowed)]
    [InlineData("<meta name=\"img2dataset\" content=\"noai\">", "img2dataset", Verdict.Disallowed)]
    [InlineData("<meta name=\"img2dataset\" content=\"noai\">", "GPTBot", Verdict.Unknown)]
    [InlineData("<meta name=\"description\" content=\"noai\">", "AnyBot", Verdict.Unknown)]
    [InlineData("<body><meta name=\"robots\" content=\"noai\"></body>", "AnyBot", Verdict.Disallowed)]
    public void MetaRobots_Case(string html, string agent, Verdict expected)
    {
        var meta = RobotsTagDirectives.ParseMeta(HtmlSignals.Parse($"<html><head>{html}</head></html>").Meta, agent);
        Assert.Equal(expected, RobotsTagDirectives.ToPreferences(meta, false, new RobotsTagOptions()).ForPurpose(UsageCategory.TrainAi));
    }

    private const string CaiDocsExample = """
        {"label": "cawg.training-mining",
         "data": {"entries": {
           "cawg.ai_generative_training": {"use": "notAllowed"},
           "cawg.ai_inference": {"use": "notAllowed"},
           "cawg.ai_training": {"use": "notAllowed"},
           "cawg.data_mining": {"use": "constrained", "constraint_info": "Contact foo@bar.com"}}}}
        """;

    [Fact]
    public void Cawg_CaiDocsExample_DisallowsEverything()
    {
        var assertions = TrainingMining.Parse(CaiDocsExample, out var error);
        Assert.Null(error);
        var a = Assert.Single(assertions);
        Assert.Equal(4, a.Entries.Count);
        Assert.Equal("Contact foo@bar.com", a.Entries.Single(e => e.Key == "cawg.data_mining").ConstraintInfo);
        var prefs = TrainingMining.ToPreferences(assertions);
        foreach (var c in UsageCategories.TopologicalOrder)
        {
            Assert.Equal(Verdict.Disallowed, prefs.ForPurpose(c));
        }
    }

    [Theory]
    [InlineData("""{"label":"c2pa.training-mining","data":{"entries":{"c2pa.ai_training":{"use":"notAllowed"}}}}""", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("""{"label":"cawg.training-mining","data":{"cawg.ai_generative_training":{"use":"constrained","constraints_info":"x"}}}""", UsageCategory.TrainGenAi, Verdict.Disallowed)]
    [InlineData("""{"label":"cawg.training-mining","data":{"cawg.ai_generative_training":{"use":"allowed"}}}""", UsageCategory.TrainGenAi, Verdict.Allowed)]
    [InlineData("""{"label":"c2pa.training-mining__1","data":{"entries":{"cawg.ai_inference":{"use":"notAllowed"}}}}""", UsageCategory.AiUse, Verdict.Disallowed)]
    [InlineData("""{"label":"c2pa.actions","data":{"entries":{"c2pa.ai_training":{"use":"notAllowed"}}}}""", UsageCategory.TrainAi, Verdict.Unknown)]
    [InlineData("""[{"label":"c2pa.training-mining","data":{"entries":{"c2pa.ai_training":{"use":"allowed"}}}},{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}}]""", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("""{"label":"cawg.training-mining","data":{"entries":{"com.example.custom":{"use":"notAllowed"}}}}""", UsageCategory.All, Verdict.Unknown)]
    public void Cawg_LabelsPrefixesAndNesting(string json, UsageCategory purpose, Verdict expected)
    {
        var prefs = TrainingMining.ToPreferences(TrainingMining.Parse(json, out _));
        Assert.Equal(expected, prefs.ForPurpose(purpose));
    }

    [Fact]
    public void Cawg_ManifestStore_UsesActiveManifestOnly()
    {
        var json = """
            {"active_manifest":"urn:a","manifests":{
              "urn:a":{"assertions":[{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"allowed"}}}}]},
              "urn:ingredient":{"assertions":[{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}}]}}}
            """;
        Assert.Equal(Verdict.Allowed, TrainingMining.ToPreferences(TrainingMining.Parse(json, out _)).ForPurpose(UsageCategory.TrainAi));
    }

    [Fact]
    public void Cawg_UnvalidatedManifest_KeepsRestrictionsDropsPermissions()
    {
        var json = """
            {"active_manifest":"urn:a","validation_status":[{"code":"claimSignature.mismatch"}],"manifests":{
              "urn:a":{"assertions":[{"label":"cawg.training-mining","data":{"entries":{
                "cawg.ai_training":{"use":"allowed"},"cawg.ai_inference":{"use":"notAllowed"}}}}]}}}
            """;
        var prefs = TrainingMining.ToPreferences(TrainingMining.Parse(json, out _));
        Assert.Equal(Verdict.Unknown, prefs.ForPurpose(UsageCategory.TrainGenAi));
        Assert.Equal(Verdict.Disallowed, prefs.ForPurpose(UsageCategory.AiUse));
    }

    [Fact]
    public void Cawg_BadJson_ReportsError()
    {
        Assert.Empty(TrainingMining.Parse("{not json", out var error));
        Assert.NotNull(error);
    }
}
