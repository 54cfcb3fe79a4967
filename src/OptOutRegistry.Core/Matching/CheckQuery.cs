using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching;

/// <summary>What a check is about.</summary>
public enum SubjectKind : byte
{
    /// <summary>A raw URL string (canonicalised by the matcher).</summary>
    Url = 0,

    /// <summary>A host name: host and domain selectors only.</summary>
    Host = 1,

    /// <summary>A SHA-256 digest of the content, 64 hex digits.</summary>
    Sha256 = 2,

    /// <summary>A standard identifier (<c>isbn:…</c>, <c>doi:…</c>).</summary>
    Identifier = 3,

    /// <summary>An ISCC code of the content.</summary>
    Iscc = 4,
}

/// <summary>
/// One check: (subject, purpose, as-of). <see cref="AsOf"/> null means "now"; an instant asks what the
/// registry said at that instant (DESIGN.md "Time travel").
/// </summary>
/// <param name="Kind">The subject kind.</param>
/// <param name="Subject">The subject text.</param>
/// <param name="Purpose">The intended use.</param>
/// <param name="AsOf">The instant to answer for; null for now.</param>
public readonly record struct CheckQuery(SubjectKind Kind, string Subject, UsageCategory Purpose, DateTimeOffset? AsOf = null)
{
    /// <summary>A URL check.</summary>
    public static CheckQuery Url(string url, UsageCategory purpose, DateTimeOffset? asOf = null) => new(SubjectKind.Url, url, purpose, asOf);

    /// <summary>A host check.</summary>
    public static CheckQuery Host(string host, UsageCategory purpose, DateTimeOffset? asOf = null) => new(SubjectKind.Host, host, purpose, asOf);

    /// <summary>A content-hash check.</summary>
    public static CheckQuery Sha256(string hex, UsageCategory purpose, DateTimeOffset? asOf = null) => new(SubjectKind.Sha256, hex, purpose, asOf);

    /// <summary>An identifier check.</summary>
    public static CheckQuery Identifier(string identifier, UsageCategory purpose, DateTimeOffset? asOf = null) => new(SubjectKind.Identifier, identifier, purpose, asOf);

    /// <summary>An ISCC check.</summary>
    public static CheckQuery Iscc(string iscc, UsageCategory purpose, DateTimeOffset? asOf = null) => new(SubjectKind.Iscc, iscc, purpose, asOf);
}
