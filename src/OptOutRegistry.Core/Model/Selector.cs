using System.Globalization;
using OptOutRegistry.Core.Domains;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Model;

/// <summary>
/// What a reservation covers (DESIGN.md "The model", selector table), validated and normalised.
/// Create through <see cref="Create(SelectorKind, string, SelectorOptions, PublicSuffixList?)"/> or
/// <see cref="TryCreate"/>; the constructor is private so every instance is valid.
/// <para>
/// URL-like kinds are keyed by the canonical match key of <see cref="UrlCanonicalizer"/>:
/// <c>host[:port]/path[?query]</c>, scheme dropped (http ≡ https), lower-case punycode host, default
/// port dropped. <see cref="Authority"/> is <c>host[:port]</c> for url/prefix/pattern and the bare host
/// for host/domain: a host or domain selector covers every port of the host, a URL, prefix or pattern
/// selector only the port it names.
/// </para>
/// </summary>
public sealed class Selector : IEquatable<Selector>
{
    /// <summary>Longest accepted selector value (characters), the URL limit of the canonicaliser.</summary>
    public const int MaxValueLength = UrlCanonicalizer.MaxUrlLength;

    private Selector(SelectorKind kind, SelectorOptions options, string text, string? authority, string? path,
        byte[]? sha256, IsccCode? iscc, StandardIdentifier? identifier)
    {
        Kind = kind;
        Options = options;
        Text = text;
        Authority = authority;
        Path = path;
        _sha256 = sha256;
        Iscc = iscc;
        Identifier = identifier;
    }

    private readonly byte[]? _sha256;

    /// <summary>The kind.</summary>
    public SelectorKind Kind { get; }

    /// <summary>The options that apply to this kind (others are refused at creation).</summary>
    public SelectorOptions Options { get; }

    /// <summary>
    /// The canonical text: url/prefix/pattern <c>host[:port]/path…</c>; host/domain the punycode host;
    /// sha256 64 lower-case hex digits; iscc <c>ISCC:…</c>; identifier <c>scheme:value</c>.
    /// </summary>
    public string Text { get; }

    /// <summary><c>host[:port]</c> for url/prefix/pattern, the host for host/domain, null for content kinds.</summary>
    public string? Authority { get; }

    /// <summary>For url/prefix/pattern: the path and query part of <see cref="Text"/>, starting with <c>/</c>.</summary>
    public string? Path { get; }

    /// <summary>For <see cref="SelectorKind.Sha256"/>: the 32 digest bytes.</summary>
    public ReadOnlySpan<byte> Sha256 => _sha256;

    /// <summary>For <see cref="SelectorKind.Iscc"/>: the decoded code.</summary>
    public IsccCode? Iscc { get; }

    /// <summary>For <see cref="SelectorKind.Identifier"/>: the validated identifier.</summary>
    public StandardIdentifier? Identifier { get; }

    /// <summary>True when <see cref="SelectorOptions.AnyQuery"/> is set (url selectors).</summary>
    public bool AnyQuery => (Options & SelectorOptions.AnyQuery) != 0;

    /// <summary>True when <see cref="SelectorOptions.IncludeSubdomains"/> is set (host selectors).</summary>
    public bool IncludeSubdomains => (Options & SelectorOptions.IncludeSubdomains) != 0;

    /// <summary>Creates a selector from a wire kind name (<c>url</c>, <c>prefix</c>, …); see <see cref="Create(SelectorKind, string, SelectorOptions, PublicSuffixList?)"/>.</summary>
    /// <exception cref="ModelValidationException">Field <c>kind</c> or <c>value</c>, with the reason.</exception>
    public static Selector Parse(string kind, string value, SelectorOptions options = SelectorOptions.None, PublicSuffixList? publicSuffixList = null)
    {
        if (kind is null || !SelectorKinds.TryParse(kind, out var k))
        {
            throw new ModelValidationException("kind", $"'{kind}' is not a selector kind (url, prefix, pattern, host, domain, sha256, iscc, identifier)");
        }

        return Create(k, value, options, publicSuffixList);
    }

    /// <summary>
    /// Validates and normalises a selector value.
    /// <list type="bullet">
    /// <item>url: an absolute http(s) URL, or <c>host/path</c> without a scheme.</item>
    /// <item>prefix: <c>host[:port]/path-prefix</c> (or a URL); the path defaults to <c>/</c>.</item>
    /// <item>pattern: <c>host[:port]/pattern</c> with RFC 9309 <c>*</c> and a trailing <c>$</c>; literal
    /// <c>*</c>/<c>$</c> are written <c>%2A</c>/<c>%24</c> (TDMRep convention).</item>
    /// <item>host: a host name (IDN allowed); with <see cref="SelectorOptions.IncludeSubdomains"/> it may not be a public suffix.</item>
    /// <item>domain: a registrable domain (Public Suffix List); a public suffix or a subdomain is refused.</item>
    /// <item>sha256: 64 hex digits (optionally prefixed <c>sha256:</c>).</item>
    /// <item>iscc: an <c>ISCC:</c> code (see <see cref="IsccCode"/>).</item>
    /// <item>identifier: ISBN, ISSN, ISMN, ISRC, ISWC, ISNI or DOI (see <see cref="StandardIdentifier"/>).</item>
    /// </list>
    /// </summary>
    /// <exception cref="ModelValidationException">Field <c>value</c> or <c>options</c>, with the reason.</exception>
    public static Selector Create(SelectorKind kind, string value, SelectorOptions options = SelectorOptions.None, PublicSuffixList? publicSuffixList = null)
    {
        if (!TryCreate(kind, value, options, publicSuffixList, out var selector, out var field, out var error))
        {
            throw new ModelValidationException(field!, error!);
        }

        return selector!;
    }

    /// <summary>A pattern selector from a host and an RFC 9309 path pattern given separately.</summary>
    public static Selector CreatePattern(string host, string pattern, PublicSuffixList? publicSuffixList = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(pattern);
        if (!pattern.StartsWith('/') && !pattern.StartsWith('*'))
        {
            throw new ModelValidationException("value", $"pattern '{pattern}' must start with '/' or '*'");
        }

        return Create(SelectorKind.Pattern, host + pattern, SelectorOptions.None, publicSuffixList);
    }

    /// <summary>Non-throwing <see cref="Create(SelectorKind, string, SelectorOptions, PublicSuffixList?)"/>.</summary>
    public static bool TryCreate(SelectorKind kind, string? value, SelectorOptions options, PublicSuffixList? publicSuffixList,
        out Selector? selector, out string? field, out string? error)
    {
        selector = null;
        field = "value";
        if (value is null || value.Length == 0 || string.IsNullOrWhiteSpace(value))
        {
            error = "is empty";
            return false;
        }

        if (value.Length > MaxValueLength)
        {
            error = $"is longer than {MaxValueLength} characters";
            return false;
        }

        var allowed = kind switch
        {
            SelectorKind.Url => SelectorOptions.AnyQuery,
            SelectorKind.Host => SelectorOptions.IncludeSubdomains,
            _ => SelectorOptions.None,
        };
        if ((options & ~allowed) != 0)
        {
            field = "options";
            error = $"{options & ~allowed} does not apply to a {kind.ToWireName()} selector";
            return false;
        }

        value = value.Trim();
        switch (kind)
        {
            case SelectorKind.Url:
            case SelectorKind.Prefix:
            case SelectorKind.Pattern:
                return TryCreateLocation(kind, value, options, out selector, out error);
            case SelectorKind.Host:
            case SelectorKind.Domain:
                return TryCreateHost(kind, value, options, publicSuffixList ?? PublicSuffixList.Default, out selector, out error);
            case SelectorKind.Sha256:
                return TryCreateSha256(value, out selector, out error);
            case SelectorKind.Iscc:
                if (!IsccCode.TryParse(value, out var iscc, out error))
                {
                    return false;
                }

                selector = new Selector(kind, options, iscc!.Text, null, null, null, iscc, null);
                return true;
            case SelectorKind.Identifier:
                if (!StandardIdentifier.TryParse(value, out var id, out error))
                {
                    return false;
                }

                selector = new Selector(kind, options, id.ToString(), null, null, null, null, id);
                return true;
            default:
                field = "kind";
                error = $"unknown selector kind {(int)kind}";
                return false;
        }
    }

    /// <inheritdoc />
    public bool Equals(Selector? other) =>
        other is not null && Kind == other.Kind && Options == other.Options && string.Equals(Text, other.Text, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Selector);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Options, StringComparer.Ordinal.GetHashCode(Text));

    /// <summary><c>kind:text</c> with options, e.g. <c>host:example.com (include-subdomains)</c>.</summary>
    public override string ToString() => Options == SelectorOptions.None
        ? $"{Kind.ToWireName()}:{Text}"
        : $"{Kind.ToWireName()}:{Text} ({(AnyQuery ? "any-query" : "include-subdomains")})";

    private static bool TryCreateLocation(SelectorKind kind, string value, SelectorOptions options, out Selector? selector, out string? error)
    {
        selector = null;
        var url = value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value;
        if (kind == SelectorKind.Pattern && value.Contains('#'))
        {
            // '#' would start a fragment and be dropped silently; robots patterns have no fragments.
            error = "a pattern may not contain '#'";
            return false;
        }

        string key;
        try
        {
            key = UrlCanonicalizer.GetMatchKey(url);
        }
        catch (UrlFormatException e)
        {
            error = $"'{value}' is not a valid URL: {e.Message}";
            return false;
        }

        var slash = key.IndexOf('/');
        if (slash <= 0)
        {
            error = $"'{value}' has no host";
            return false;
        }

        var authority = key[..slash];
        var path = key[slash..];
        if (kind == SelectorKind.Url && (options & SelectorOptions.AnyQuery) != 0)
        {
            var q = path.IndexOf('?');
            if (q >= 0)
            {
                path = path[..q];
            }
        }

        if (kind == SelectorKind.Pattern)
        {
            // RFC 9309 §2.2.3: '$' is special only at the end of the pattern.
            var dollar = path.IndexOf('$');
            if (dollar >= 0 && dollar != path.Length - 1)
            {
                error = "'$' may only end a pattern; write a literal dollar sign as %24";
                return false;
            }
        }

        selector = new Selector(kind, options, authority + path, authority, path, null, null, null);
        error = null;
        return true;
    }

    private static bool TryCreateHost(SelectorKind kind, string value, SelectorOptions options, PublicSuffixList psl, out Selector? selector, out string? error)
    {
        selector = null;
        if (value.Contains('/') || value.Contains(':'))
        {
            error = $"'{value}' must be a bare host name, without scheme, port or path";
            return false;
        }

        string host;
        try
        {
            host = UrlCanonicalizer.NormalizeHost(value);
        }
        catch (UrlFormatException e)
        {
            error = $"'{value}' is not a valid host: {e.Message}";
            return false;
        }

        if ((host.Length > 0 && host[0] == '[') || IsIPv4(host))
        {
            if (kind == SelectorKind.Domain || (options & SelectorOptions.IncludeSubdomains) != 0)
            {
                error = $"'{host}' is an IP address; it has no registrable domain or subdomains";
                return false;
            }
        }
        else if (kind == SelectorKind.Domain)
        {
            if (psl.IsPublicSuffix(host))
            {
                error = $"'{host}' is a public suffix; a domain selector must name a registrable domain such as 'example.{host}'";
                return false;
            }

            var registrable = psl.GetRegistrableDomain(host);
            if (registrable is null)
            {
                error = $"'{host}' has no registrable domain under the Public Suffix List";
                return false;
            }

            if (!string.Equals(registrable, host, StringComparison.Ordinal))
            {
                error = $"'{host}' is a subdomain of '{registrable}'; use a host selector with include-subdomains, or the domain '{registrable}'";
                return false;
            }
        }
        else if ((options & SelectorOptions.IncludeSubdomains) != 0 && psl.IsPublicSuffix(host))
        {
            error = $"'{host}' is a public suffix; a host selector with include-subdomains would cover every site under it";
            return false;
        }

        selector = new Selector(kind, options, host, host, null, null, null, null);
        error = null;
        return true;
    }

    private static bool IsIPv4(string host)
    {
        foreach (var c in host)
        {
            if (c is not ((>= '0' and <= '9') or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryCreateSha256(string value, out Selector? selector, out string? error)
    {
        selector = null;
        var hex = value.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase) ? value[7..] : value;
        if (hex.Length != 64)
        {
            error = $"a SHA-256 digest is 64 hex digits; got {hex.Length} characters";
            return false;
        }

        var bytes = new byte[32];
        for (var i = 0; i < 32; i++)
        {
            if (!byte.TryParse(hex.AsSpan(2 * i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                error = $"'{hex.Substring(2 * i, 2)}' at position {2 * i} is not hex";
                return false;
            }
        }

        selector = new Selector(SelectorKind.Sha256, SelectorOptions.None, Convert.ToHexStringLower(bytes), null, null, bytes, null, null);
        error = null;
        return true;
    }
}
