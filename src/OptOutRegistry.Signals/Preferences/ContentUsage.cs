using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.StructuredFields;

namespace OptOutRegistry.Signals.Preferences;

/// <summary>
/// IETF aipref usage preferences (draft-ietf-aipref-vocab-07 §Exemplary Serialization Format): an RFC 9651
/// Dictionary whose known labels take the Token <c>y</c> (allowed) or <c>n</c> (disallowed); anything else,
/// a missing label, or a parse failure is unknown. Carried by the <c>Content-Usage</c> HTTP header and the
/// robots.txt <c>Content-Usage</c> rule (draft-ietf-aipref-attach-05).
/// </summary>
public static class ContentUsage
{
    /// <summary>The HTTP header name (attach §HTTP Header).</summary>
    public const string HeaderName = "Content-Usage";

    /// <summary>
    /// The registry category an aipref label maps to, or null for a label we do not know (which is ignored,
    /// vocab §Extensibility). vocab-07 has <c>train-ai</c> and <c>search</c>; the vocab-02 labels
    /// <c>all</c>, <c>train-genai</c> and <c>ai-use</c> are still emitted by generators and are the registry's own
    /// wire names (UsageCategory), so they are read too.
    /// </summary>
    public static UsageCategory? MapLabel(string label) => label switch
    {
        "train-ai" => UsageCategory.TrainAi,
        "search" => UsageCategory.Search,
        "all" => UsageCategory.All,
        "train-genai" => UsageCategory.TrainGenAi,
        "ai-use" => UsageCategory.AiUse,
        _ => null,
    };

    /// <summary>The aipref value of one label in a parsed dictionary: Token <c>y</c>/<c>n</c>, else unknown.</summary>
    public static Verdict ReadLabel(SfDictionary dictionary, string label)
    {
        if (!dictionary.TryGet(label, out var member) || member.Item is not { } item)
        {
            return Verdict.Unknown;
        }

        // vocab §Processing: parameters are ignored; only the Tokens y and n have a meaning.
        return item.Value.IsToken("y") ? Verdict.Allowed : item.Value.IsToken("n") ? Verdict.Disallowed : Verdict.Unknown;
    }

    /// <summary>Parses one or more field lines. A parse failure yields no statement and an error message.</summary>
    public static UsagePreferences Parse(IReadOnlyList<string> fieldLines, out string? error)
    {
        if (!StructuredFieldParser.TryParseDictionary(fieldLines, out var dictionary, out error))
        {
            // vocab §Processing: a value that cannot be parsed states no preference at all.
            return UsagePreferences.None;
        }

        return FromDictionary(dictionary);
    }

    /// <summary>Parses one value. A parse failure yields no statement and an error message.</summary>
    public static UsagePreferences Parse(string value, out string? error) => Parse([value], out error);

    /// <summary>Maps a parsed dictionary onto registry categories.</summary>
    public static UsagePreferences FromDictionary(SfDictionary dictionary)
    {
        var prefs = UsagePreferences.None;
        foreach (var entry in dictionary.Entries)
        {
            if (MapLabel(entry.Key) is { } category)
            {
                prefs[category] = ReadLabel(dictionary, entry.Key);
            }
        }

        return prefs;
    }
}
