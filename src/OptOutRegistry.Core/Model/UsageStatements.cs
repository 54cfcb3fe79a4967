using System.Collections;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Model;

/// <summary>
/// The statements of one reservation, at most one per category, and the one rule that turns them into a verdict for
/// a purpose (<see cref="Decide"/>), used by the matcher, the offline checker and the site-signal resolver alike:
/// <list type="bullet">
/// <item>the <i>applicable</i> statement for a purpose is its own, else its nearest ancestor's (DESIGN.md "The model":
/// <c>train-genai</c> → <c>train-ai</c> → <c>all</c>; <c>ai-use</c>, <c>search</c> → <c>all</c>);</item>
/// <item>the purpose is DISALLOWED when the applicable statement disallows it, <b>or</b> when a statement for any
/// narrower category disallows it — a use "for train-ai" may include generative training, so a <c>train-genai</c>
/// reservation restricts it (the conservative reading; the provenance names the narrower category);</item>
/// <item>it is ALLOWED only when the applicable statement allows and no narrower category is disallowed; otherwise
/// UNKNOWN.</item>
/// </list>
/// Immutable.
/// </summary>
public sealed class UsageStatements : IReadOnlyList<UsageStatement>
{
    private readonly UsageStatement[] _statements;
    private readonly UsageStatement?[] _byCategory = new UsageStatement?[UsageCategories.Count];

    /// <summary>Validates and stores <paramref name="statements"/>.</summary>
    /// <exception cref="ModelValidationException">A statement is null, names an unknown category or permission, or a category appears twice.</exception>
    public UsageStatements(IEnumerable<UsageStatement> statements)
    {
        ArgumentNullException.ThrowIfNull(statements);
        _statements = statements.ToArray();
        for (var i = 0; i < _statements.Length; i++)
        {
            var s = _statements[i] ?? throw new ModelValidationException($"statements[{i}]", "is null");
            if ((uint)s.Category >= UsageCategories.Count)
            {
                throw new ModelValidationException($"statements[{i}].category", $"unknown category {(int)s.Category}");
            }

            if (s.Permission is not (UsagePermission.Allow or UsagePermission.Disallow))
            {
                throw new ModelValidationException($"statements[{i}].permission", $"unknown permission {(int)s.Permission}");
            }

            if (_byCategory[(int)s.Category] is not null)
            {
                throw new ModelValidationException(
                    $"statements[{i}].category",
                    $"'{s.Category.ToWireName()}' has more than one statement; combine them first (the crosswalk's most-restrictive merge does)");
            }

            _byCategory[(int)s.Category] = s;
        }

        Packed = Pack(_byCategory);
    }

    /// <summary>The common case: disallow everything (<c>all=disallow</c>).</summary>
    public static UsageStatements DisallowAll { get; } = new([new UsageStatement(UsageCategory.All, UsagePermission.Disallow)]);

    /// <summary>Creates statements from (category, permission) pairs made in the registry's own model.</summary>
    public static UsageStatements Of(params (UsageCategory Category, UsagePermission Permission)[] statements)
    {
        var list = new UsageStatement[statements.Length];
        for (var i = 0; i < statements.Length; i++)
        {
            list[i] = new UsageStatement(statements[i].Category, statements[i].Permission);
        }

        return new UsageStatements(list);
    }

    /// <summary>
    /// The statements packed into 10 bits, 2 per category at bit <c>2 × category</c>: 0 = none,
    /// 1 = allow, 2 = disallow. The matcher keeps only this per reservation.
    /// </summary>
    public ushort Packed { get; }

    /// <inheritdoc />
    public int Count => _statements.Length;

    /// <inheritdoc />
    public UsageStatement this[int index] => _statements[index];

    /// <summary>The statement made for exactly <paramref name="category"/>, without inheritance.</summary>
    public UsageStatement? Get(UsageCategory category) => _byCategory[(int)category];

    /// <summary>
    /// The applicable statement for <paramref name="purpose"/>: its own, else the nearest ancestor's; null when
    /// neither the category nor any ancestor has one. This is only half of the rule: a narrower category's disallow
    /// also restricts the purpose, so ask <see cref="Decide"/> for the verdict.
    /// </summary>
    public UsageStatement? Resolve(UsageCategory purpose)
    {
        UsageCategory? c = purpose;
        while (c is { } category)
        {
            if (_byCategory[(int)category] is { } s)
            {
                return s;
            }

            c = UsageCategories.Parent(category);
        }

        return null;
    }

    /// <summary>
    /// The verdict for <paramref name="purpose"/> under the rule in the type's summary, and the category whose
    /// statement caused it (the purpose, an ancestor, or a narrower category that disallows).
    /// </summary>
    public Verdict Decide(UsageCategory purpose, out UsageCategory decidedBy) => ResolvePacked(Packed, purpose, out decidedBy);

    /// <summary>
    /// Hot-path form of <see cref="Decide"/> over <see cref="Packed"/> bits (any source packed the same way: 2 bits
    /// per category, 0 = no statement, 1 = allow, 2 = disallow): returns the verdict (<see cref="Verdict.Unknown"/>
    /// when nothing applies) and the category whose statement decided.
    /// </summary>
    public static Verdict ResolvePacked(ushort packed, UsageCategory purpose, out UsageCategory decidedBy)
    {
        // 1. The applicable statement: an unrolled walk up the fixed tree of DESIGN.md (no loop over a parent table).
        Verdict applicable;
        var own = (packed >> (2 * (int)purpose)) & 3;
        if (own != 0)
        {
            decidedBy = purpose;
            applicable = (Verdict)own;
        }
        else if (purpose == UsageCategory.TrainGenAi && ((packed >> (2 * (int)UsageCategory.TrainAi)) & 3) is var trainAi and not 0)
        {
            decidedBy = UsageCategory.TrainAi;
            applicable = (Verdict)trainAi;
        }
        else
        {
            decidedBy = UsageCategory.All;
            applicable = (Verdict)(packed & 3);
        }

        if (applicable == Verdict.Disallowed)
        {
            return applicable;
        }

        // 2. A narrower category's disallow restricts the purpose: the high bit of a 2-bit field is set exactly
        // when it says disallow, so one mask per purpose finds them; the lowest such category (root-first order)
        // is named as the cause.
        var narrowerDisallows = packed & NarrowerDisallowMask(purpose);
        if (narrowerDisallows != 0)
        {
            decidedBy = (UsageCategory)(BitOperations.TrailingZeroCount(narrowerDisallows) >> 1);
            return Verdict.Disallowed;
        }

        return applicable;
    }

    /// <summary>
    /// The disallow bits (bit 2c + 1) of the categories strictly below <paramref name="purpose"/>: for <c>all</c>
    /// every other category, for <c>train-ai</c> <c>train-genai</c>, for the leaves none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NarrowerDisallowMask(UsageCategory purpose) => purpose switch
    {
        UsageCategory.All => (2 << (2 * (int)UsageCategory.TrainAi)) | (2 << (2 * (int)UsageCategory.TrainGenAi))
            | (2 << (2 * (int)UsageCategory.AiUse)) | (2 << (2 * (int)UsageCategory.Search)),
        UsageCategory.TrainAi => 2 << (2 * (int)UsageCategory.TrainGenAi),
        _ => 0,
    };

    /// <inheritdoc />
    public IEnumerator<UsageStatement> GetEnumerator() => ((IEnumerable<UsageStatement>)_statements).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>e.g. <c>all=disallow, search=allow</c>.</summary>
    public override string ToString() => string.Join(", ", _statements.Select(s => s.ToString()));

    private static ushort Pack(UsageStatement?[] byCategory)
    {
        var packed = 0;
        for (var i = 0; i < byCategory.Length; i++)
        {
            if (byCategory[i] is { } s)
            {
                packed |= (int)s.Permission << (2 * i);
            }
        }

        return (ushort)packed;
    }
}
