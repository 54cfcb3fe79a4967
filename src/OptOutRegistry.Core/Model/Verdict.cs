namespace OptOutRegistry.Core.Model;

/// <summary>
/// The answer to "may this subject be used for this purpose at this time?".
/// The numeric order is the restrictiveness order used when combining answers from several
/// holders or signal sources: the most restrictive wins, so <c>Max</c> of the values is the result.
/// </summary>
public enum Verdict : byte
{
    /// <summary>Nobody said anything. Under the law use is then permitted; the caller's policy decides.</summary>
    Unknown = 0,

    /// <summary>An explicit permission (a licence or an allow statement).</summary>
    Allowed = 1,

    /// <summary>A rights reservation covers the subject for this purpose.</summary>
    Disallowed = 2,
}

/// <summary>Combination helpers shared by the matcher and the site-signal resolver.</summary>
public static class VerdictExtensions
{
    /// <summary>Across holders and signal sources the most restrictive answer wins (DESIGN.md "The model").</summary>
    public static Verdict MostRestrictive(this Verdict a, Verdict b) => a >= b ? a : b;
}
