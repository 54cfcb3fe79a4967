using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Signals.Preferences;

/// <summary>
/// A tri-state statement (<see cref="Verdict"/>) per registry <see cref="UsageCategory"/>, as one signal
/// expressed it. A category the signal did not mention is <see cref="Verdict.Unknown"/> and inherits from its
/// parent when a purpose is evaluated; a narrower category's disallow restricts the broader purpose
/// (<see cref="ForPurpose(UsageCategory)"/>, the same rule as the matcher's).
/// </summary>
public struct UsagePreferences : IEquatable<UsagePreferences>
{
    private VerdictBuffer _values;

    /// <summary>No statement for any category.</summary>
    public static UsagePreferences None => default;

    /// <summary>The statement for one category (not inherited).</summary>
    public Verdict this[UsageCategory category]
    {
        readonly get => _values[(int)category];
        set => _values[(int)category] = value;
    }

    /// <summary>True when no category has a statement.</summary>
    public readonly bool IsEmpty
    {
        get
        {
            for (var i = 0; i < UsageCategories.Count; i++)
            {
                if (_values[i] != Verdict.Unknown)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>The same statement for every category.</summary>
    public static UsagePreferences ForAll(Verdict verdict)
    {
        var p = default(UsagePreferences);
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            p._values[i] = verdict;
        }

        return p;
    }

    /// <summary>Returns a copy with <paramref name="category"/> set to <paramref name="verdict"/>.</summary>
    public readonly UsagePreferences With(UsageCategory category, Verdict verdict)
    {
        var copy = this;
        copy[category] = verdict;
        return copy;
    }

    /// <summary>The effective statement of one category: its own, else its nearest ancestor's.</summary>
    public readonly Verdict Effective(UsageCategory category)
    {
        UsageCategory? c = category;
        while (c is { } current)
        {
            var v = _values[(int)current];
            if (v != Verdict.Unknown)
            {
                return v;
            }

            c = UsageCategories.Parent(current);
        }

        return Verdict.Unknown;
    }

    /// <summary>
    /// The verdict for a purpose under the registry's one rule (<see cref="UsageStatements"/>, shared with the
    /// matcher): DISALLOWED when the purpose's applicable statement (own or inherited) disallows or a narrower
    /// category's does (a use "for AI training" may include generative training); ALLOWED only when the applicable
    /// statement allows and nothing narrower disallows; otherwise UNKNOWN.
    /// </summary>
    public readonly Verdict ForPurpose(UsageCategory purpose) => ForPurpose(purpose, out _);

    /// <summary>As <see cref="ForPurpose(UsageCategory)"/>, naming the category whose statement decided.</summary>
    public readonly Verdict ForPurpose(UsageCategory purpose, out UsageCategory decidedBy)
    {
        // Verdict's values (0 unknown, 1 allowed, 2 disallowed) are exactly UsageStatements.Packed's 2-bit codes.
        var packed = 0;
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            packed |= (int)_values[i] << (2 * i);
        }

        return UsageStatements.ResolvePacked((ushort)packed, purpose, out decidedBy);
    }

    /// <summary>Combines two statements category by category, most restrictive first (aipref vocab §Combining).</summary>
    public readonly UsagePreferences MostRestrictive(in UsagePreferences other)
    {
        var p = default(UsagePreferences);
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            p._values[i] = _values[i].MostRestrictive(other._values[i]);
        }

        return p;
    }

    /// <summary>Returns this statement where it exists, and <paramref name="earlier"/> where it does not
    /// (a later technique supersedes an earlier one; absence never resets — TDMRep §4.3).</summary>
    public readonly UsagePreferences Supersede(in UsagePreferences earlier)
    {
        var p = earlier;
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            if (_values[i] != Verdict.Unknown)
            {
                p._values[i] = _values[i];
            }
        }

        return p;
    }

    /// <inheritdoc />
    public readonly bool Equals(UsagePreferences other)
    {
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            if (_values[i] != other._values[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is UsagePreferences p && Equals(p);

    /// <inheritdoc />
    public override readonly int GetHashCode()
    {
        var h = 0;
        for (var i = 0; i < UsageCategories.Count; i++)
        {
            h = (h * 3) + (int)_values[i];
        }

        return h;
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(UsagePreferences left, UsagePreferences right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(UsagePreferences left, UsagePreferences right) => !left.Equals(right);

    /// <summary>Lists the categories that have a statement, e.g. <c>train-ai=disallowed, search=allowed</c>.</summary>
    public override readonly string ToString()
    {
        var parts = new List<string>();
        foreach (var c in UsageCategories.TopologicalOrder)
        {
            var v = _values[(int)c];
            if (v != Verdict.Unknown)
            {
                parts.Add($"{c.ToWireName()}={v.ToString().ToLowerInvariant()}");
            }
        }

        return parts.Count == 0 ? "(no statement)" : string.Join(", ", parts);
    }

    [InlineArray(UsageCategories.Count)]
    private struct VerdictBuffer
    {
        private Verdict _element;
    }
}
