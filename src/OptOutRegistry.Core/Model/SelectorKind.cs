namespace OptOutRegistry.Core.Model;

/// <summary>What a selector matches (DESIGN.md "The model", selector table).</summary>
public enum SelectorKind : byte
{
    /// <summary>One canonical URL (option: any query string).</summary>
    Url = 0,

    /// <summary>Every URL on a host whose path (and query) starts with a prefix.</summary>
    Prefix = 1,

    /// <summary>An RFC 9309 path pattern (<c>*</c>, <c>$</c>) on a host.</summary>
    Pattern = 2,

    /// <summary>A host (option: and its subdomains).</summary>
    Host = 3,

    /// <summary>A registrable domain and all its subdomains.</summary>
    Domain = 4,

    /// <summary>Content with exactly these bytes (SHA-256).</summary>
    Sha256 = 5,

    /// <summary>Content whose ISCC units are within a Hamming distance of these.</summary>
    Iscc = 6,

    /// <summary>A work's standard identifier (ISBN, ISSN, DOI, …).</summary>
    Identifier = 7,
}

/// <summary>Options of a selector; which apply depends on the kind.</summary>
[Flags]
public enum SelectorOptions : byte
{
    /// <summary>No option.</summary>
    None = 0,

    /// <summary><see cref="SelectorKind.Url"/>: match the URL with any query string (or none).</summary>
    AnyQuery = 1,

    /// <summary><see cref="SelectorKind.Host"/>: match the host and all its subdomains.</summary>
    IncludeSubdomains = 2,
}

/// <summary>Wire names of <see cref="SelectorKind"/>.</summary>
public static class SelectorKinds
{
    /// <summary>Number of kinds.</summary>
    public const int Count = 8;

    /// <summary><c>url</c>, <c>prefix</c>, <c>pattern</c>, <c>host</c>, <c>domain</c>, <c>sha256</c>, <c>iscc</c>, <c>identifier</c>.</summary>
    public static string ToWireName(this SelectorKind kind) => kind switch
    {
        SelectorKind.Url => "url",
        SelectorKind.Prefix => "prefix",
        SelectorKind.Pattern => "pattern",
        SelectorKind.Host => "host",
        SelectorKind.Domain => "domain",
        SelectorKind.Sha256 => "sha256",
        SelectorKind.Iscc => "iscc",
        SelectorKind.Identifier => "identifier",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Parses a wire name, case-insensitively.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out SelectorKind kind)
    {
        for (var k = SelectorKind.Url; k <= SelectorKind.Identifier; k++)
        {
            if (name.Equals(k.ToWireName(), StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        }

        kind = default;
        return false;
    }

    /// <summary>True for the kinds that match URLs (url, prefix, pattern, host, domain).</summary>
    public static bool IsLocationKind(this SelectorKind kind) => kind <= SelectorKind.Domain;

    /// <summary>
    /// True for the broad kinds that need proof of host control (DESIGN.md "Verification"):
    /// host, domain, prefix and pattern.
    /// </summary>
    public static bool NeedsHostVerification(this SelectorKind kind) =>
        kind is SelectorKind.Host or SelectorKind.Domain or SelectorKind.Prefix or SelectorKind.Pattern;
}
