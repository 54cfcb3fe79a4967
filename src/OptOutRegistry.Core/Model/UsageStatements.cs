using System.Collections;

namespace OptOutRegistry.Core.Model;

/// <summary>
/// The statements of one reservation, at most one per category, with the category-tree inheritance
/// of DESIGN.md "The model": a category without its own statement inherits its parent's
/// (<c>train-genai</c> → <c>train-ai</c> → <c>all</c>; <c>ai-use</c>, <c>search</c> → <c>all</c>).
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
    /// The statement that decides <paramref name="purpose"/>: its own, else the nearest ancestor's;
    /// null when neither the category nor any ancestor has one.
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
    /// Hot-path form of <see cref="Resolve"/> over <see cref="Packed"/> bits: returns the permission
    /// (as a <see cref="Verdict"/>, <see cref="Verdict.Unknown"/> when nothing applies) and the
    /// category whose statement decided.
    /// </summary>
    public static Verdict ResolvePacked(ushort packed, UsageCategory purpose, out UsageCategory decidedBy)
    {
        // Unrolled tree walk; the tree is fixed by DESIGN.md, so no loop over a parent table.
        var own = (packed >> (2 * (int)purpose)) & 3;
        if (own != 0)
        {
            decidedBy = purpose;
            return (Verdict)own;
        }

        if (purpose == UsageCategory.TrainGenAi)
        {
            var trainAi = (packed >> (2 * (int)UsageCategory.TrainAi)) & 3;
            if (trainAi != 0)
            {
                decidedBy = UsageCategory.TrainAi;
                return (Verdict)trainAi;
            }
        }

        decidedBy = UsageCategory.All;
        return (Verdict)(packed & 3);
    }

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
