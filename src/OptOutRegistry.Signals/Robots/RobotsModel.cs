using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.Robots;

/// <summary>The kind of an access rule.</summary>
public enum RobotsRuleKind : byte
{
    /// <summary><c>allow:</c></summary>
    Allow,

    /// <summary><c>disallow:</c></summary>
    Disallow,
}

/// <summary>One <c>allow</c>/<c>disallow</c> rule with the line it came from.</summary>
/// <param name="Kind">Allow or disallow.</param>
/// <param name="Pattern">The compiled path pattern.</param>
/// <param name="Line">1-based line number in the file.</param>
public sealed record RobotsRule(RobotsRuleKind Kind, PathPattern Pattern, int Line)
{
    /// <inheritdoc />
    public override string ToString() => $"{(Kind == RobotsRuleKind.Allow ? "Allow" : "Disallow")}: {Pattern.Text} (line {Line})";
}

/// <summary>Which extension a <see cref="RobotsPreferenceRule"/> came from.</summary>
public enum RobotsPreferenceKind : byte
{
    /// <summary>IETF aipref <c>Content-Usage</c> (draft-ietf-aipref-attach-05 §robots.txt).</summary>
    ContentUsage,

    /// <summary>Cloudflare <c>Content-Signal</c> (also accepted as <c>Content-Signals</c>).</summary>
    ContentSignal,
}

/// <summary>A usage-preference line in robots.txt, with its optional path (no path = <c>/</c>, i.e. every path).</summary>
/// <param name="Kind">Which extension.</param>
/// <param name="Pattern">The path the preference applies to.</param>
/// <param name="Preferences">The preferences mapped onto registry categories.</param>
/// <param name="RawValue">The value as written (for provenance).</param>
/// <param name="Line">1-based line number.</param>
/// <param name="Error">Why the value could not be parsed, if it could not (then <paramref name="Preferences"/> is empty).</param>
public sealed record RobotsPreferenceRule(
    RobotsPreferenceKind Kind, PathPattern Pattern, UsagePreferences Preferences, string RawValue, int Line, string? Error);

/// <summary>A line the parser skipped or truncated, reported as data (never thrown).</summary>
/// <param name="Line">1-based line number (0 for the whole file).</param>
/// <param name="Message">What was wrong.</param>
public sealed record RobotsWarning(int Line, string Message);

/// <summary>The outcome of checking one path for one agent, with the deciding rule.</summary>
/// <param name="Allowed">Whether the agent may crawl the path.</param>
/// <param name="Rule">The rule that decided, or null when none matched (allowed by default).</param>
/// <param name="Group">The group that applied, or null when no group applied.</param>
public readonly record struct RobotsMatch(bool Allowed, RobotsRule? Rule, RobotsGroup? Group);

/// <summary>
/// The merged rules for one product token (RFC 9309 §2.2.1: all groups naming the same token are combined).
/// Rules are kept sorted by descending pattern length with allow before disallow on equal length, so the
/// first matching rule is the longest match and ties go to allow (§2.2.2).
/// </summary>
public sealed class RobotsGroup
{
    private readonly RobotsRule[] _rules;

    // Rules whose pattern starts with "/c" (c a literal ASCII character) are bucketed by c; a path can only match
    // rules of its own bucket plus the generic ones ("/", "/*…", "*…"). Each list keeps the priority order, so a
    // check scans a handful of rules instead of all of them (benchmarks/OptOutRegistry.Benchmarks.Signals).
    private readonly RobotsRule[]?[] _buckets = new RobotsRule[]?[128];
    private readonly RobotsRule[] _generic;

    internal RobotsGroup(
        IReadOnlyList<string> agents,
        List<RobotsRule> rules,
        List<RobotsPreferenceRule> preferences,
        List<(string Url, int Line)> licenses)
    {
        Agents = agents;
        rules.Sort(static (a, b) =>
        {
            var byLength = b.Pattern.Length.CompareTo(a.Pattern.Length);
            return byLength != 0 ? byLength : a.Kind.CompareTo(b.Kind);
        });
        _rules = [.. rules];
        var buckets = new List<RobotsRule>?[128];
        var generic = new List<RobotsRule>();
        foreach (var rule in _rules)
        {
            var text = rule.Pattern.Text;
            if (text.Length > 1 && text[0] == '/' && text[1] is not ('*' or '$') && text[1] < 128)
            {
                (buckets[text[1]] ??= []).Add(rule);
            }
            else
            {
                generic.Add(rule);
            }
        }

        for (var i = 0; i < buckets.Length; i++)
        {
            _buckets[i] = buckets[i]?.ToArray();
        }

        _generic = [.. generic];
        Preferences = preferences;
        Licenses = licenses;
    }

    /// <summary>The product tokens this group was selected by (<c>*</c> for the default group).</summary>
    public IReadOnlyList<string> Agents { get; }

    /// <summary>The access rules in priority order.</summary>
    public IReadOnlyList<RobotsRule> Rules => _rules;

    /// <summary>The <c>Content-Usage</c> and <c>Content-Signal</c> lines of the group.</summary>
    public IReadOnlyList<RobotsPreferenceRule> Preferences { get; }

    /// <summary>RSL <c>License:</c> URLs declared in the group (they override the file's global ones).</summary>
    public IReadOnlyList<(string Url, int Line)> Licenses { get; }

    /// <summary>Finds the deciding rule for an already normalised path, or null when no rule matches.</summary>
    public RobotsRule? Match(ReadOnlySpan<char> normalizedPath)
    {
        RobotsRule? best = null;
        if (normalizedPath.Length > 1 && normalizedPath[1] < 128 && _buckets[normalizedPath[1]] is { } bucket)
        {
            for (var i = 0; i < bucket.Length; i++)
            {
                if (bucket[i].Pattern.Matches(normalizedPath))
                {
                    best = bucket[i];
                    break;
                }
            }
        }

        var generic = _generic;
        for (var i = 0; i < generic.Length; i++)
        {
            var rule = generic[i];
            if (best is not null && !Outranks(rule, best))
            {
                // Sorted by priority: no later generic rule can beat the bucket's match either.
                break;
            }

            if (rule.Pattern.Matches(normalizedPath))
            {
                return rule;
            }
        }

        return best;
    }

    // Longer pattern wins; on equal length allow wins (RFC 9309 §2.2.2).
    private static bool Outranks(RobotsRule a, RobotsRule b) =>
        a.Pattern.Length > b.Pattern.Length || (a.Pattern.Length == b.Pattern.Length && a.Kind < b.Kind);
}
