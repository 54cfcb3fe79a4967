using OptOutRegistry.Core.Crosswalk;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Tests.Crosswalk;

/// <summary>The crosswalk against the tables of standards.md §9 (rows) and §5.1 (aipref label history).</summary>
public class UsageCrosswalkTests
{
    // standards.md §9, one line per (vocabulary, version, term) → registry categories, lossy or not.
    [Theory]
    // Row "Any automated processing / TDM".
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "all", "all", false)]
    [InlineData(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "all", "all", false)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "all", "all", false)]
    [InlineData(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.data_mining", "all", true)]
    [InlineData(Vocabularies.TdmRep, Vocabularies.TdmRepVersion, "tdm-reservation", "all", true)]
    // Row "Generative-model training".
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "train-ai", "train-genai", false)]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "train-genai", "train-genai", false)]
    [InlineData(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "train-genai", "train-genai", false)]
    [InlineData(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_generative_training", "train-genai", false)]
    [InlineData(Vocabularies.C2pa, Vocabularies.C2paVersion, "c2pa.ai_generative_training", "train-genai", false)]
    // Row "Non-generative training" (and Content Signals / RSL ai-train, which cover all training).
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "train-ai", "train-ai", false)]
    [InlineData(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train", "train-ai", false)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-train", "train-ai", false)]
    [InlineData(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_training", "train-ai", true)]
    [InlineData(Vocabularies.XRobotsTag, Vocabularies.XRobotsTagVersion, "noai", "train-ai", true)]
    [InlineData(Vocabularies.XRobotsTag, Vocabularies.XRobotsTagVersion, "noimageai", "train-ai", true)]
    // Row "Inference / RAG / grounding".
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "ai-use", "ai-use", false)]
    [InlineData(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-input", "ai-use", false)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-input", "ai-use", false)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-index", "ai-use", true)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-all", "train-ai,ai-use", true)]
    [InlineData(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_inference", "ai-use", false)]
    // Row "Search indexing".
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "search", "search", false)]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "search", "search", false)]
    [InlineData(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "search", "search", false)]
    [InlineData(Vocabularies.Rsl, Vocabularies.RslVersion, "search", "search", false)]
    public void Term_MapsToTheCategoriesOfStandardsSection9(string vocabulary, string version, string term, string categories, bool lossy)
    {
        Assert.True(UsageCrosswalk.TryGetTerm(vocabulary, version, term, out var mapping));
        Assert.Equal(categories, string.Join(",", mapping!.Categories.Select(c => c.ToWireName())));
        Assert.Equal(lossy, mapping.IsLossy);
        Assert.Equal(lossy, mapping.Note is not null && mapping.IsLossy);
    }

    [Theory]
    // vocab-07 dropped all/train-genai/ai-use; vocab-01 labels are not vocab-02 labels.
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "all")]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "train-genai")]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "ai-use")]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "genai")]
    [InlineData(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "use")]
    [InlineData(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "TRAIN-AI")]
    public void UnknownLabels_AreIgnored(string vocabulary, string version, string term)
    {
        Assert.False(UsageCrosswalk.TryGetTerm(vocabulary, version, term, out _));
        Assert.Empty(UsageCrosswalk.Import(vocabulary, version, term, "n"));
    }

    [Theory]
    [InlineData(Vocabularies.Aipref, "n", UsagePermission.Disallow)]
    [InlineData(Vocabularies.Aipref, "y", UsagePermission.Allow)]
    [InlineData(Vocabularies.TdmAi, "false", UsagePermission.Disallow)]
    [InlineData(Vocabularies.TdmAi, "true", UsagePermission.Allow)]
    [InlineData(Vocabularies.ContentSignals, "no", UsagePermission.Disallow)]
    [InlineData(Vocabularies.ContentSignals, "Yes", UsagePermission.Allow)]
    [InlineData(Vocabularies.Rsl, "prohibits", UsagePermission.Disallow)]
    [InlineData(Vocabularies.Rsl, "permits", UsagePermission.Allow)]
    [InlineData(Vocabularies.Cawg, "notAllowed", UsagePermission.Disallow)]
    [InlineData(Vocabularies.Cawg, "constrained", UsagePermission.Disallow)]
    [InlineData(Vocabularies.Cawg, "allowed", UsagePermission.Allow)]
    [InlineData(Vocabularies.TdmRep, "1", UsagePermission.Disallow)]
    [InlineData(Vocabularies.TdmRep, "0", UsagePermission.Allow)]
    [InlineData(Vocabularies.XRobotsTag, "present", UsagePermission.Disallow)]
    public void Values_FollowEachVocabularysEncoding(string vocabulary, string value, UsagePermission expected)
    {
        Assert.True(UsageCrosswalk.TryParseValue(vocabulary, value, out var permission));
        Assert.Equal(expected, permission);
    }

    [Theory]
    // AIPREF: anything but the tokens y/n is unknown (§5.2), including upper case and strings.
    [InlineData(Vocabularies.Aipref, "N")]
    [InlineData(Vocabularies.Aipref, "\"n\"")]
    [InlineData(Vocabularies.Aipref, "?1")]
    // TDMRep: other values are protocol errors ⇒ unset (§4.1).
    [InlineData(Vocabularies.TdmRep, "2")]
    [InlineData(Vocabularies.TdmRep, "true")]
    [InlineData(Vocabularies.TdmAi, "False")]
    [InlineData(Vocabularies.Cawg, "notallowed")]
    [InlineData("unknown-vocabulary", "n")]
    public void OtherValues_MeanNoPreference(string vocabulary, string value) =>
        Assert.False(UsageCrosswalk.TryParseValue(vocabulary, value, out _));

    [Fact]
    public void Import_KeepsTheSourceVocabularyVersionTermAndValue()
    {
        var statement = Assert.Single(UsageCrosswalk.Import(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train", "no"));
        Assert.Equal(UsageCategory.TrainAi, statement.Category);
        Assert.Equal(UsagePermission.Disallow, statement.Permission);
        Assert.Equal(new StatementSource(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train", "no"), statement.Source);
    }

    [Fact]
    public void TdmAiDeclaration_ImportsWithVocab02Hierarchy()
    {
        // standards.md §7.4 example: all=false, train-ai=false, train-genai=false, ai-use=true, search=true.
        string[][] declaration = [["all", "false"], ["train-ai", "false"], ["train-genai", "false"], ["ai-use", "true"], ["search", "true"]];
        var statements = UsageCrosswalk.Merge(declaration.SelectMany(kv => UsageCrosswalk.Import(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, kv[0], kv[1])));
        Assert.Equal(5, statements.Count);
        Assert.Equal(UsagePermission.Disallow, statements.Resolve(UsageCategory.TrainGenAi)!.Permission);
        Assert.Equal(UsagePermission.Allow, statements.Resolve(UsageCategory.AiUse)!.Permission);
        Assert.Equal(UsagePermission.Allow, statements.Resolve(UsageCategory.Search)!.Permission);
    }

    [Fact]
    public void Merge_MostRestrictiveWinsPerCategory()
    {
        // Content Signals says ai-train=yes, RSL prohibits ai-all: training is disallowed and the RSL source kept.
        var merged = UsageCrosswalk.Merge(
            UsageCrosswalk.Import(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train", "yes")
                .Concat(UsageCrosswalk.Import(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-all", "prohibits"))
                .Concat(UsageCrosswalk.Import(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "search", "yes")));
        var training = merged.Get(UsageCategory.TrainAi)!;
        Assert.Equal(UsagePermission.Disallow, training.Permission);
        Assert.Equal(Vocabularies.Rsl, training.Source!.Vocabulary);
        Assert.Equal(UsagePermission.Disallow, merged.Get(UsageCategory.AiUse)!.Permission);
        Assert.Equal(UsagePermission.Allow, merged.Get(UsageCategory.Search)!.Permission);
    }

    [Theory]
    [InlineData(UsageCategory.TrainGenAi, Vocabularies.Aipref, Vocabularies.AiprefVocab07, "train-ai")]
    [InlineData(UsageCategory.TrainAi, Vocabularies.Aipref, Vocabularies.AiprefVocab07, null)]
    [InlineData(UsageCategory.TrainAi, Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train")]
    [InlineData(UsageCategory.AiUse, Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-input")]
    [InlineData(UsageCategory.All, Vocabularies.TdmRep, Vocabularies.TdmRepVersion, null)]
    public void ToWireTerm_ExportsOnlyExactMappings(UsageCategory category, string vocabulary, string version, string? term) =>
        Assert.Equal(term, UsageCrosswalk.ToWireTerm(category, vocabulary, version));

    [Fact]
    public void EveryTermHasAValueEncoding_AndEveryLossyTermANote()
    {
        foreach (var t in UsageCrosswalk.Terms)
        {
            Assert.Contains(UsageCrosswalk.Encodings, e => e.Vocabulary == t.Vocabulary);
            Assert.True(!t.IsLossy || !string.IsNullOrWhiteSpace(t.Note), $"{t.Vocabulary} {t.Term} is lossy without a note");
            Assert.NotEmpty(t.Categories);
        }
    }
}
