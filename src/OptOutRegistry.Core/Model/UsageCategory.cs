namespace OptOutRegistry.Core.Model;

/// <summary>
/// The usage categories of the registry, a small tree:
/// <c>all</c> ⊃ { <c>train-ai</c> ⊃ <c>train-genai</c>, <c>ai-use</c>, <c>search</c> }.
/// A category without its own statement inherits its parent's, and a narrower category's disallow restricts its
/// ancestors (<see cref="UsageStatements"/> states the rule). The wire names follow the
/// IETF aipref vocabulary where it has one (standards.md §9).
/// </summary>
public enum UsageCategory : byte
{
    /// <summary>Every use (the root of the tree).</summary>
    All = 0,

    /// <summary>Training of AI models (aipref <c>train-ai</c>).</summary>
    TrainAi = 1,

    /// <summary>Training of generative AI models (aipref vocab-02 <c>train-genai</c>); a child of <see cref="TrainAi"/>.</summary>
    TrainGenAi = 2,

    /// <summary>Use of the content as input to an AI system at inference time (RAG, grounding).</summary>
    AiUse = 3,

    /// <summary>Search: indexing and showing links/snippets in search results.</summary>
    Search = 4,
}

/// <summary>The tree structure and the wire names of <see cref="UsageCategory"/>.</summary>
public static class UsageCategories
{
    /// <summary>Number of categories; arrays indexed by category have this length.</summary>
    public const int Count = 5;

    /// <summary>All categories, root first, each after its parent.</summary>
    public static ReadOnlySpan<UsageCategory> TopologicalOrder =>
        [UsageCategory.All, UsageCategory.TrainAi, UsageCategory.TrainGenAi, UsageCategory.AiUse, UsageCategory.Search];

    /// <summary>The parent of a category, or null for <see cref="UsageCategory.All"/>.</summary>
    public static UsageCategory? Parent(UsageCategory category) => category switch
    {
        UsageCategory.All => null,
        UsageCategory.TrainGenAi => UsageCategory.TrainAi,
        _ => UsageCategory.All,
    };

    /// <summary>The registry's wire name (<c>all</c>, <c>train-ai</c>, <c>train-genai</c>, <c>ai-use</c>, <c>search</c>).</summary>
    public static string ToWireName(this UsageCategory category) => category switch
    {
        UsageCategory.All => "all",
        UsageCategory.TrainAi => "train-ai",
        UsageCategory.TrainGenAi => "train-genai",
        UsageCategory.AiUse => "ai-use",
        UsageCategory.Search => "search",
        _ => throw new ArgumentOutOfRangeException(nameof(category)),
    };

    /// <summary>Parses a registry wire name, case-insensitively. Returns false for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out UsageCategory category)
    {
        foreach (var c in TopologicalOrder)
        {
            if (name.Equals(c.ToWireName(), StringComparison.OrdinalIgnoreCase))
            {
                category = c;
                return true;
            }
        }

        category = default;
        return false;
    }
}
