using System.Buffers;
using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Matching.Internal;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Matching;

/// <summary>
/// One selector validated and reduced to what <see cref="MatcherBuilder"/> stores, made off the building thread (the
/// server's rebuild at start decodes rows in parallel and builds on one thread). A url selector — nearly every selector
/// of a large registry — becomes two 64-bit hashes (its canonical match key and its authority) with no string or
/// <see cref="Selector"/> object; the other kinds keep the <see cref="Selector"/> that
/// <see cref="Selector.TryCreate"/> made. Either way the result is the same index entry
/// <see cref="MatcherIndex.Build"/> makes from a <see cref="ReservationSelector"/> of the same value.
/// </summary>
public readonly struct PreparedSelector
{
    // A stack buffer covers the canonical key of any ASCII URL up to ~320 characters (3 × length + 64, see
    // UrlCanonicalizer.TryWriteMatchKey); longer or unusual URLs retry with a pooled buffer sized as GetMatchKey does.
    private const int StackKeyLength = 1024;

    private readonly Selector? _selector;

    private PreparedSelector(SelectorKind kind, bool hostVerified, bool anyQuery, ulong keyHash, ulong authorityHash, Selector? selector)
    {
        Kind = kind;
        HostVerified = hostVerified;
        AnyQuery = anyQuery;
        KeyHash = keyHash;
        AuthorityHash = authorityHash;
        _selector = selector;
    }

    /// <summary>The selector's kind.</summary>
    public SelectorKind Kind { get; }

    /// <summary>Whether the holder's control of the selector's host was verified (location kinds only).</summary>
    public bool HostVerified { get; }

    /// <summary>For url selectors: whether the query is ignored.</summary>
    public bool AnyQuery { get; }

    /// <summary>The full selector, for the kinds that are not reduced to hashes (all but url); null for url selectors.</summary>
    public Selector? Selector => _selector;

    /// <summary>For url selectors: the hash of the canonical text (the key the check path looks up).</summary>
    internal ulong KeyHash { get; }

    /// <summary>For url selectors: the hash of the canonical <c>host[:port]</c>.</summary>
    internal ulong AuthorityHash { get; }

    /// <summary>Whether this value was made by one of the factories (a default instance is not a selector).</summary>
    public bool IsValid => Kind == SelectorKind.Url ? KeyHash != 0 : _selector is not null;

    /// <summary>A prepared form of a selector that is already a <see cref="Model.Selector"/>.</summary>
    /// <param name="selector">The selector.</param>
    /// <param name="hostVerified">Verified host; ignored (false) for content kinds, as the protobuf conversion does.</param>
    public static PreparedSelector From(Selector selector, bool hostVerified)
    {
        ArgumentNullException.ThrowIfNull(selector);
        return new PreparedSelector(selector.Kind, hostVerified && selector.Kind.IsLocationKind(), selector.AnyQuery, 0, 0, selector);
    }

    /// <summary>
    /// Validates and prepares a selector value as <see cref="Selector.TryCreate"/> would (same canonical form, same
    /// refusals), without allocating for url selectors.
    /// </summary>
    /// <param name="kind">The kind.</param>
    /// <param name="value">The value as stored (for url selectors, an absolute URL or <c>host/path</c>).</param>
    /// <param name="options">Options; only those that apply to the kind are accepted.</param>
    /// <param name="hostVerified">Verified host; ignored (false) for content kinds.</param>
    /// <param name="selector">The prepared selector.</param>
    /// <param name="field">On failure: <c>value</c>, <c>options</c> or <c>kind</c>.</param>
    /// <param name="error">On failure: why.</param>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryPrepare(SelectorKind kind, ReadOnlySpan<char> value, SelectorOptions options, bool hostVerified,
        out PreparedSelector selector, out string? field, out string? error)
    {
        if (kind != SelectorKind.Url)
        {
            // Rare kinds (prefix, pattern, host, domain, content): the full validation, which keeps the Selector the index needs.
            if (Selector.TryCreate(kind, value.ToString(), options, null, out var full, out field, out error))
            {
                selector = From(full!, hostVerified);
                return true;
            }

            selector = default;
            return false;
        }

        selector = default;
        field = "value";
        var trimmed = value.Trim();
        if (trimmed.IsEmpty)
        {
            error = "is empty";
            return false;
        }

        // Selector.TryCreate checks the length before trimming.
        if (value.Length > Selector.MaxValueLength)
        {
            error = $"is longer than {Selector.MaxValueLength} characters";
            return false;
        }

        if ((options & ~SelectorOptions.AnyQuery) != 0)
        {
            field = "options";
            error = $"{options & ~SelectorOptions.AnyQuery} does not apply to a url selector";
            return false;
        }

        return TryPrepareUrl(trimmed, (options & SelectorOptions.AnyQuery) != 0, hostVerified, out selector, out error);
    }

    [SkipLocalsInit]
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryPrepareUrl(ReadOnlySpan<char> value, bool anyQuery, bool hostVerified, out PreparedSelector selector, out string? error)
    {
        selector = default;
        char[]? rentedUrl = null;
        var url = value;
        if (!value.Contains("://", StringComparison.Ordinal))
        {
            // As Selector.TryCreate: a scheme-less value is read as http:// (which also matches https).
            rentedUrl = ArrayPool<char>.Shared.Rent(value.Length + 7);
            "http://".CopyTo(rentedUrl);
            value.CopyTo(rentedUrl.AsSpan(7));
            url = rentedUrl.AsSpan(0, value.Length + 7);
        }

        char[]? rentedKey = null;
        try
        {
            Span<char> key = stackalloc char[StackKeyLength];
            if (!UrlCanonicalizer.TryWriteMatchKey(url, key, out var written, out _, out var urlError))
            {
                if (urlError != UrlError.DestinationTooSmall)
                {
                    error = $"'{value}' is not a valid URL: {UrlErrors.Describe(urlError)}";
                    return false;
                }

                rentedKey = ArrayPool<char>.Shared.Rent((Math.Min(url.Length, UrlCanonicalizer.MaxUrlLength + 64) * 9) + 512);
                key = rentedKey;
                if (!UrlCanonicalizer.TryWriteMatchKey(url, key, out written, out _, out urlError))
                {
                    error = $"'{value}' is not a valid URL: {UrlErrors.Describe(urlError)}";
                    return false;
                }
            }

            var text = key[..written];
            var slash = text.IndexOf('/');
            if (slash <= 0)
            {
                error = $"'{value}' has no host";
                return false;
            }

            if (anyQuery)
            {
                var q = text[slash..].IndexOf('?');
                if (q >= 0)
                {
                    text = text[..(slash + q)];
                }
            }

            selector = new PreparedSelector(SelectorKind.Url, hostVerified, anyQuery, KeyHasher.Hash(text), KeyHasher.HostHash(text[..slash]), null);
            error = null;
            return true;
        }
        finally
        {
            if (rentedKey is not null)
            {
                ArrayPool<char>.Shared.Return(rentedKey);
            }

            if (rentedUrl is not null)
            {
                ArrayPool<char>.Shared.Return(rentedUrl);
            }
        }
    }
}
