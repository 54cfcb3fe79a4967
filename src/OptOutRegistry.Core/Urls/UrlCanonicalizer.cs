using System.Buffers;
using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Urls.Internal;

namespace OptOutRegistry.Core.Urls;

/// <summary>
/// Canonical forms of URLs, hosts and paths for matching opt-out selectors.
/// </summary>
/// <remarks>
/// <para>The <b>match key</b> of an http(s) URL is <c>host[:port]/path[?query]</c>, computed by the WHATWG URL
/// parser (so it agrees with browsers on every special-scheme case of the web-platform-tests suite) and then:</para>
/// <list type="bullet">
/// <item>the scheme is dropped: <c>http</c> and <c>https</c> give the same key (DESIGN.md "The model");</item>
/// <item>user name and password are dropped: credentials do not change which resource is meant;</item>
/// <item>the host is the standard's serialisation (lower-case, IDNA UTS #46 to punycode, IPv4 in dotted decimal,
/// IPv6 compressed in brackets) without a trailing dot (<c>example.com.</c> is the same DNS name);</item>
/// <item>the default port (80, 443) is dropped — also across schemes, so <c>http://h:443/</c> keys as <c>h/</c>;</item>
/// <item>dot segments are resolved, backslashes are slashes, an empty path is <c>/</c>;</item>
/// <item>percent-encoding: the standard's path / special-query percent-encode sets are applied, then
/// <c>%XX</c> of an RFC 3986 unreserved character (<c>A-Z a-z 0-9 - . _ ~</c>) is decoded, every other
/// <c>%XX</c> gets upper-case hex, and a stray <c>%</c> becomes <c>%25</c> (RFC 3986 §6.2.2.1-2);</item>
/// <item>the query is kept byte for byte otherwise (parameter order matters); an empty query (<c>?</c>) is dropped;</item>
/// <item>the fragment is dropped: it is never sent to the server.</item>
/// </list>
/// </remarks>
public static class UrlCanonicalizer
{
    /// <summary>Longest URL accepted, in UTF-16 code units (after trimming surrounding whitespace).</summary>
    public const int MaxUrlLength = 8192;

    /// <summary>
    /// Writes the match key of an http(s) URL into <paramref name="destination"/>. Allocation-free for ASCII URLs
    /// (and for IDN hosts too, as long as the scratch space on the stack suffices).
    /// </summary>
    /// <param name="url">The URL as received, e.g. <c>HTTPS://Example.COM:443/a/./b?q=1#top</c>.</param>
    /// <param name="destination">Where the key goes. 3 × the URL length + 64 always suffices for ASCII input (percent-encoding
    /// triples a character at most); 9 × the length + 64 for any input (three UTF-8 bytes, each <c>%XX</c>).</param>
    /// <param name="written">Characters written.</param>
    /// <param name="parts">Where host, port, path and query are in the key.</param>
    /// <param name="error">Why the URL was rejected, or <see cref="UrlError.None"/>.</param>
    public static bool TryWriteMatchKey(ReadOnlySpan<char> url, Span<char> destination, out int written, out MatchKeyParts parts, out UrlError error)
    {
        // Most crawled URLs take the single-pass path; the rest get the full WHATWG parser (same keys, see FastMatchKey).
        var fast = FastMatchKey.TryWrite(url, destination, out parts);
        if (fast >= 0)
        {
            written = fast;
            error = UrlError.None;
            return true;
        }

        return TryWriteMatchKeyFull(url, destination, out written, out parts, out error);
    }

    /// <summary>The match key through the full WHATWG parser (every URL; the reference the fast path must agree with).</summary>
    [SkipLocalsInit]
    internal static bool TryWriteMatchKeyFull(ReadOnlySpan<char> url, Span<char> destination, out int written, out MatchKeyParts parts, out UrlError error)
    {
        written = 0;
        parts = default;
        var href = new CharBuffer(stackalloc char[1024]);
        try
        {
            error = UrlParser.Parse(url, false, default, ref href, out var o);
            if (error != UrlError.None)
            {
                return false;
            }

            if (o.Scheme is not (SchemeKind.Http or SchemeKind.Https))
            {
                error = UrlError.UnsupportedScheme;
                return false;
            }

            var text = href.Written;
            var host = text[o.HostStart..o.HostEnd];
            if (host.Length > 1 && host[^1] == '.')
            {
                host = host[..^1];
            }

            // The parser drops only the scheme's own default port; the key drops 80 and 443 whatever the scheme.
            var port = o.Port is 80 or 443 ? default : text[o.HostEnd..o.PathStart];
            var path = text[o.PathStart..o.PathEnd];
            if (host.Length + port.Length > destination.Length)
            {
                error = UrlError.DestinationTooSmall;
                return false;
            }

            host.CopyTo(destination);
            port.CopyTo(destination[host.Length..]);
            var pos = host.Length + port.Length;
            if (!PercentEncoding.TryNormalize(path, destination[pos..], out var n))
            {
                error = UrlError.DestinationTooSmall;
                return false;
            }

            var pathStart = pos;
            pos += n;
            var queryStart = -1;
            if (o.QueryStart >= 0)
            {
                var queryEnd = o.FragmentStart >= 0 ? o.FragmentStart : text.Length;
                if (queryEnd - o.QueryStart > 1)
                {
                    if (pos >= destination.Length || !PercentEncoding.TryNormalize(text[(o.QueryStart + 1)..queryEnd], destination[(pos + 1)..], out n))
                    {
                        error = UrlError.DestinationTooSmall;
                        return false;
                    }

                    destination[pos] = '?';
                    queryStart = pos;
                    pos += n + 1;
                }
            }

            written = pos;
            parts = new MatchKeyParts(host.Length, pathStart, pathStart, queryStart);
            return true;
        }
        finally
        {
            href.Dispose();
        }
    }

    /// <summary>The match key of an http(s) URL as a string (see the class remarks).</summary>
    /// <exception cref="UrlFormatException">The URL is rejected; <see cref="UrlFormatException.Reason"/> says why.</exception>
    public static string GetMatchKey(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var size = Math.Min(url.Length, MaxUrlLength + 64) * 9 + 512;
        var rented = ArrayPool<char>.Shared.Rent(size);
        try
        {
            if (!TryWriteMatchKey(url, rented, out var written, out _, out var error))
            {
                throw new UrlFormatException(error);
            }

            return new string(rented, 0, written);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Normalises a bare host as used by host/domain/prefix/pattern selectors: IDNA (UTS #46) to lower-case punycode,
    /// IPv4/IPv6 literals in canonical form (IPv6 in brackets), trailing dot removed. The same host serialisation as
    /// the match key, so <c>NormalizeHost(h)</c> is a prefix of the key of every URL on host <c>h</c>.
    /// </summary>
    [SkipLocalsInit]
    public static bool TryNormalizeHost(ReadOnlySpan<char> host, Span<char> destination, out int written, out UrlError error)
    {
        written = 0;
        host = host.Trim();
        if (host.IsEmpty)
        {
            error = UrlError.Empty;
            return false;
        }

        if (host.Length > MaxUrlLength)
        {
            error = UrlError.TooLong;
            return false;
        }

        var buffer = new CharBuffer(stackalloc char[256]);
        try
        {
            error = HostParser.Parse(host, ref buffer);
            if (error != UrlError.None)
            {
                return false;
            }

            var result = buffer.Written;
            if (result.Length > 1 && result[^1] == '.')
            {
                result = result[..^1];
            }

            if (!result.TryCopyTo(destination))
            {
                error = UrlError.DestinationTooSmall;
                return false;
            }

            written = result.Length;
            return true;
        }
        finally
        {
            buffer.Dispose();
        }
    }

    /// <summary>The string form of <see cref="TryNormalizeHost"/>.</summary>
    /// <exception cref="UrlFormatException">The host is rejected; <see cref="UrlFormatException.Reason"/> says why.</exception>
    public static string NormalizeHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var size = Math.Min(host.Length, MaxUrlLength) * 4 + 256;
        var rented = ArrayPool<char>.Shared.Rent(size);
        try
        {
            return TryNormalizeHost(host, rented, out var written, out var error)
                ? new string(rented, 0, written)
                : throw new UrlFormatException(error);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Normalises a path with optional query (<c>/a/./b%7e?x=1</c>) exactly as the match key does: WHATWG
    /// percent-encoding, dot segments resolved, the match key's percent rule, an empty path as <c>/</c>, an empty
    /// query and any fragment dropped. A path not starting with <c>/</c> gets one. Robots-style pattern characters
    /// <c>*</c> and <c>$</c> pass through unchanged.
    /// </summary>
    /// <exception cref="UrlFormatException">The path is too long.</exception>
    public static string NormalizePath(string pathAndQuery)
    {
        ArgumentNullException.ThrowIfNull(pathAndQuery);
        var input = pathAndQuery.Length > 0 && pathAndQuery[0] is '/' or '\\' ? pathAndQuery : "/" + pathAndQuery;

        // Reuse the match key with a placeholder host; the host is one ASCII label and never changes the path.
        var key = GetMatchKeyOrThrow("http://h" + input);
        return key[1..];
    }

    private static string GetMatchKeyOrThrow(string url)
    {
        try
        {
            return GetMatchKey(url);
        }
        catch (UrlFormatException ex)
        {
            throw new UrlFormatException(ex.Error, "path: " + ex.Reason);
        }
    }
}
