using System.Collections.Frozen;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Crosswalk;

/// <summary>
/// The crosswalk between wire vocabularies and the registry's usage categories, as data in one place
/// (standards.md §9, "our interpretation — not normative"). Importing a wire statement keeps the source
/// vocabulary, version, term and value on the resulting <see cref="UsageStatement"/> so that statements
/// can be re-mapped when a draft changes (standards.md §10 item 13).
/// </summary>
public static class UsageCrosswalk
{
    private static readonly UsageCategory[] All = [UsageCategory.All];
    private static readonly UsageCategory[] TrainAi = [UsageCategory.TrainAi];
    private static readonly UsageCategory[] TrainGenAi = [UsageCategory.TrainGenAi];
    private static readonly UsageCategory[] AiUse = [UsageCategory.AiUse];
    private static readonly UsageCategory[] Search = [UsageCategory.Search];
    private static readonly UsageCategory[] AllAi = [UsageCategory.TrainAi, UsageCategory.AiUse];

    /// <summary>Every known term. The table of standards.md §9, one row per wire term.</summary>
    public static IReadOnlyList<CrosswalkTerm> Terms { get; } =
    [
        // AIPREF vocab-07: hierarchy removed (PR #219); "AI Model Training" is defined as training of models
        // that generate synthetic content, i.e. generative only (standards.md §5.1).
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "train-ai", TrainGenAi, false,
            "vocab-07 'train-ai' is generative-only training, the registry's train-genai (not train-ai)"),
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab07, "search", Search, false, null),

        // AIPREF vocab-02: the registry's own tree.
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "all", All, false, null),
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "train-ai", TrainAi, false, null),
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "train-genai", TrainGenAi, false, null),
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "ai-use", AiUse, false, null),
        new(Vocabularies.Aipref, Vocabularies.AiprefVocab02, "search", Search, false, null),

        // TDM·AI 1.0 declarations use the vocab-02 labels and hierarchy (standards.md §7.4).
        new(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "all", All, false, null),
        new(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "train-ai", TrainAi, false, null),
        new(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "train-genai", TrainGenAi, false, null),
        new(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "ai-use", AiUse, false, null),
        new(Vocabularies.TdmAi, Vocabularies.TdmAiVersion, "search", Search, false, null),

        // Content Signals: ai-train covers training or fine-tuning of any AI model (standards.md §9 hazards).
        new(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-train", TrainAi, false, null),
        new(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "ai-input", AiUse, false, null),
        new(Vocabularies.ContentSignals, Vocabularies.ContentSignalsVersion, "search", Search, false, null),

        // RSL usage tokens.
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "all", All, false, null),
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-all", AllAi, true,
            "'ai-all' has no node of its own in the registry tree; it sets both train-ai and ai-use"),
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-train", TrainAi, false, null),
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-input", AiUse, false, null),
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "ai-index", AiUse, true,
            "'ai-index' (building an AI search index) is folded into ai-use; the registry has no separate category"),
        new(Vocabularies.Rsl, Vocabularies.RslVersion, "search", Search, false, null),

        // CAWG training-and-data-mining keys (standards.md §7.2); C2PA 1.x used the same keys under c2pa.
        new(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.data_mining", All, true,
            "data mining is approximately 'any automated processing / TDM' (≈ in standards.md §9)"),
        new(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_training", TrainAi, true,
            "CAWG ai_training is non-generative training only; as train-ai it also reaches train-genai unless that has its own statement"),
        new(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_generative_training", TrainGenAi, false, null),
        new(Vocabularies.Cawg, Vocabularies.CawgVersion, "cawg.ai_inference", AiUse, false, null),
        new(Vocabularies.C2pa, Vocabularies.C2paVersion, "c2pa.data_mining", All, true,
            "data mining is approximately 'any automated processing / TDM' (≈ in standards.md §9)"),
        new(Vocabularies.C2pa, Vocabularies.C2paVersion, "c2pa.ai_training", TrainAi, true,
            "C2PA ai_training is non-generative training only; as train-ai it also reaches train-genai unless that has its own statement"),
        new(Vocabularies.C2pa, Vocabularies.C2paVersion, "c2pa.ai_generative_training", TrainGenAi, false, null),
        new(Vocabularies.C2pa, Vocabularies.C2paVersion, "c2pa.ai_inference", AiUse, false, null),

        // TDMRep: one bit with no purpose granularity; 1 reserves all TDM, search-side mining included (§4.5, §9).
        new(Vocabularies.TdmRep, Vocabularies.TdmRepVersion, "tdm-reservation", All, true,
            "TDMRep has no purposes: 1 reserves every kind of TDM (search included); 0 declares rights not reserved, recorded as allow"),

        // noai / noimageai: no formal definition (standards.md §7.1).
        new(Vocabularies.XRobotsTag, Vocabularies.XRobotsTagVersion, "noai", TrainAi, true,
            "'noai' has no formal definition; read as a reservation against AI training"),
        new(Vocabularies.XRobotsTag, Vocabularies.XRobotsTagVersion, "noimageai", TrainAi, true,
            "'noimageai' applies to images only; the registry's category has no media type, so it is recorded for the asset it was found on"),
    ];

    /// <summary>Value encodings per vocabulary (last row of the standards.md §9 table).</summary>
    public static IReadOnlyList<ValueEncoding> Encodings { get; } =
    [
        new(Vocabularies.Aipref, ["y"], ["n"], true,
            "RFC 9651 Tokens y/n; anything else (strings, booleans, other tokens) is unknown (§5.2)"),
        new(Vocabularies.TdmAi, ["true"], ["false"], true, "JSON strings \"true\"/\"false\""),
        new(Vocabularies.ContentSignals, ["yes"], ["no"], false, "omission means no preference"),
        new(Vocabularies.Rsl, ["permits"], ["prohibits"], true, "element names; <prohibits> beats <permits>"),
        new(Vocabularies.Cawg, ["allowed"], ["notAllowed", "constrained"], true,
            "'constrained' shall be treated as 'notAllowed' in the absence of more information (CAWG)"),
        new(Vocabularies.C2pa, ["allowed"], ["notAllowed", "constrained"], true,
            "'constrained' shall be treated as 'notAllowed' in the absence of more information"),
        new(Vocabularies.TdmRep, ["0"], ["1"], true, "other values are protocol errors ⇒ unset (TDMRep §4.1)"),
        new(Vocabularies.XRobotsTag, [], ["present"], false, "a directive is a presence flag: present ⇒ disallow; absence says nothing"),
    ];

    private static readonly FrozenDictionary<(string, string, string), CrosswalkTerm> ByTerm =
        Terms.ToFrozenDictionary(t => (t.Vocabulary, t.Version, t.Term));

    private static readonly FrozenDictionary<string, ValueEncoding> ByVocabulary =
        Encodings.ToFrozenDictionary(e => e.Vocabulary, StringComparer.Ordinal);

    /// <summary>Looks up a term of a vocabulary version (term compared ordinally, as on the wire).</summary>
    public static bool TryGetTerm(string vocabulary, string version, string term, out CrosswalkTerm? mapping) =>
        ByTerm.TryGetValue((vocabulary, version, term), out mapping);

    /// <summary>
    /// Reads a wire value of <paramref name="vocabulary"/>. Returns false (unknown, not an error) for values
    /// the vocabulary does not define: AIPREF and TDMRep say such values mean "unset".
    /// </summary>
    public static bool TryParseValue(string vocabulary, string value, out UsagePermission permission)
    {
        permission = default;
        if (!ByVocabulary.TryGetValue(vocabulary, out var encoding))
        {
            return false;
        }

        var comparison = encoding.CaseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        foreach (var v in encoding.DisallowValues)
        {
            if (string.Equals(v, value, comparison))
            {
                permission = UsagePermission.Disallow;
                return true;
            }
        }

        foreach (var v in encoding.AllowValues)
        {
            if (string.Equals(v, value, comparison))
            {
                permission = UsagePermission.Allow;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Maps one wire statement (<paramref name="term"/> = <paramref name="value"/>) to registry statements, each
    /// carrying its <see cref="StatementSource"/>. Returns an empty list when the term is unknown (unknown labels
    /// MUST be ignored, AIPREF §5.2) or the value means "no preference".
    /// </summary>
    public static IReadOnlyList<UsageStatement> Import(string vocabulary, string version, string term, string value)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(term);
        ArgumentNullException.ThrowIfNull(value);
        if (!TryGetTerm(vocabulary, version, term, out var mapping) || !TryParseValue(vocabulary, value, out var permission))
        {
            return [];
        }

        var source = new StatementSource(vocabulary, version, term, value);
        var result = new UsageStatement[mapping!.Categories.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new UsageStatement(mapping.Categories[i], permission, source);
        }

        return result;
    }

    /// <summary>
    /// Combines statements that may name the same category (several wire terms, several mechanisms) into one
    /// <see cref="UsageStatements"/>: per category the most restrictive wins (AIPREF §combine; standards.md §0 item 3),
    /// and the winning statement's source is kept.
    /// </summary>
    public static UsageStatements Merge(IEnumerable<UsageStatement> statements)
    {
        ArgumentNullException.ThrowIfNull(statements);
        var best = new UsageStatement?[UsageCategories.Count];
        foreach (var s in statements)
        {
            var current = best[(int)s.Category];
            if (current is null || s.Permission > current.Permission)
            {
                best[(int)s.Category] = s;
            }
        }

        return new UsageStatements(best.OfType<UsageStatement>());
    }

    /// <summary>
    /// The wire term that expresses <paramref name="category"/> exactly in a vocabulary version, for exporting
    /// statements; null when the vocabulary has no exact term (only lossy rows, or none).
    /// </summary>
    public static string? ToWireTerm(UsageCategory category, string vocabulary, string version)
    {
        foreach (var t in Terms)
        {
            if (!t.IsLossy && t.Categories.Count == 1 && t.Categories[0] == category
                && t.Vocabulary == vocabulary && t.Version == version)
            {
                return t.Term;
            }
        }

        return null;
    }
}
