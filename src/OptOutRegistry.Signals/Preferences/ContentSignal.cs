using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Signals.Preferences;

/// <summary>
/// Cloudflare Content Signals (draft-romm-aipref-contentsignals-00, contentsignals.org): comma-separated
/// <c>key=yes|no</c> pairs with the keys <c>search</c>, <c>ai-input</c> and <c>ai-train</c>; omission = no preference.
/// Parsed leniently (case-insensitive, spaces around '=' tolerated) because the values are written by hand and by
/// many generators; unknown keys such as <c>use=</c> are ignored; a repeated key keeps its most restrictive value.
/// </summary>
public static class ContentSignal
{
    /// <summary>Maps a Content Signals key to a registry category (standards.md §9), or null when unknown.</summary>
    public static UsageCategory? MapKey(ReadOnlySpan<char> key)
    {
        if (key.Equals("search", StringComparison.OrdinalIgnoreCase))
        {
            return UsageCategory.Search;
        }

        if (key.Equals("ai-input", StringComparison.OrdinalIgnoreCase))
        {
            return UsageCategory.AiUse;
        }

        // ai-train covers "training or fine-tuning AI models" of every kind ⇒ the registry's train-ai.
        if (key.Equals("ai-train", StringComparison.OrdinalIgnoreCase))
        {
            return UsageCategory.TrainAi;
        }

        return null;
    }

    /// <summary>Parses a value such as <c>search=yes, ai-train=no</c>.</summary>
    public static UsagePreferences Parse(ReadOnlySpan<char> value)
    {
        var prefs = UsagePreferences.None;
        foreach (var range in value.Split(','))
        {
            var part = value[range].Trim();
            var eq = part.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            if (MapKey(part[..eq].Trim()) is not { } category)
            {
                continue;
            }

            var v = part[(eq + 1)..].Trim();
            var verdict = v.Equals("yes", StringComparison.OrdinalIgnoreCase) ? Verdict.Allowed
                : v.Equals("no", StringComparison.OrdinalIgnoreCase) ? Verdict.Disallowed
                : Verdict.Unknown;
            prefs[category] = prefs[category].MostRestrictive(verdict);
        }

        return prefs;
    }
}
