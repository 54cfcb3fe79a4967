using System.Buffers;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>
/// A single-pass match key writer for the URLs crawlers actually send: <c>http(s)://host[:port]/path?query#fragment</c>
/// with an ASCII letters/digits/<c>-._</c> host and path and query characters that the URL standard leaves as they
/// are. It writes the key straight into the destination. Anything else — whitespace, backslashes, credentials,
/// non-ASCII, IP-looking hosts, dot segments, characters that need percent-encoding, leading-zero ports — returns
/// -1 and the caller runs the full WHATWG parser, which gives the same key (tests compare both on every corpus URL).
/// </summary>
internal static class FastMatchKey
{
    // Characters copied unchanged: path — printable ASCII minus the path percent-encode set (" # < > ? ^ ` { }),
    // minus '/' (segment ends are checked for dot segments), '\' (a slash in special URLs) and '%' (normalised separately); query — printable ASCII minus the
    // special-query percent-encode set (" # < > ') and '%'.
    private static readonly bool[] s_pathCopy = BuildArray("\"#<>?^`{}\\%/");
    private static readonly bool[] s_queryCopy = BuildArray("\"#<>'%");

    private static readonly SearchValues<char> s_hostChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");

    /// <summary>Path characters copied in bulk: as <see cref="s_pathCopy"/> plus '/'.</summary>
    private static readonly SearchValues<char> s_pathPlain = BuildSearchValues("\"#<>?^`{}\\%");

    private static readonly SearchValues<char> s_queryPlain = BuildSearchValues("\"#<>'%");

    /// <summary>Characters plain in both path and query (and not '?' or '#'): one scan finds where a typical URL's path ends.</summary>
    private static readonly SearchValues<char> s_plain = BuildSearchValues("\"#<>?^`{}\\%'");

    /// <summary>RFC 3986 unreserved characters, decoded from <c>%XX</c> by the match key rule.</summary>
    private static readonly bool[] s_unreserved = BuildUnreserved();

    /// <summary>
    /// Writes the key, or returns -1 when the URL needs the full parser. Every key character comes from at most one
    /// URL character except the '/' of an empty path and the "%25" of a stray '%', so url + 1 characters of
    /// destination suffice for the bulk copies; only <see cref="WritePercent"/> checks for room.
    /// </summary>
    public static int TryWrite(ReadOnlySpan<char> url, Span<char> destination, out MatchKeyParts parts)
    {
        parts = default;
        if (url.Length < 8 || destination.Length < url.Length + 1 || url.Length > UrlCanonicalizer.MaxUrlLength)
        {
            return -1;
        }

        // Scheme: http or https, any case, then exactly "//" and a host character.
        int i;
        if ((url[0] | 0x20) != 'h' || (url[1] | 0x20) != 't' || (url[2] | 0x20) != 't' || (url[3] | 0x20) != 'p')
        {
            return -1;
        }

        if (url[4] == ':')
        {
            i = 5;
        }
        else if ((url[4] | 0x20) == 's' && url[5] == ':')
        {
            i = 6;
        }
        else
        {
            return -1;
        }

        if (url.Length < i + 3 || url[i] != '/' || url[i + 1] != '/')
        {
            return -1;
        }

        i += 2;

        // Host: lower-cased as it is copied.
        var hostEnd = url[i..].IndexOfAnyExcept(s_hostChars);
        var host = hostEnd < 0 ? url[i..] : url.Slice(i, hostEnd);
        System.Text.Ascii.ToLower(host, destination, out var w);
        i += host.Length;

        var hostLength = w;
        if (hostLength > 1 && destination[hostLength - 1] == '.')
        {
            hostLength--;
        }

        // A last label starting with a digit may make the host an IPv4 address (§3.5 "ends in a number").
        if (hostLength == 0 || char.IsAsciiDigit(destination[destination[..hostLength].LastIndexOf('.') + 1]))
        {
            return -1;
        }

        w = hostLength;

        // Port: digits without a leading zero; 80 and 443 dropped.
        if (i < url.Length && url[i] == ':')
        {
            i++;
            var portStart = i;
            var port = 0;
            while (i < url.Length && (uint)(url[i] - '0') <= 9)
            {
                port = (port * 10) + (url[i] - '0');
                if (port > 65535)
                {
                    return -1;
                }

                i++;
            }

            if (i > portStart)
            {
                if (url[portStart] == '0')
                {
                    return -1;
                }

                if (port is not (80 or 443))
                {
                    destination[w++] = ':';
                    url[portStart..i].CopyTo(destination[w..]);
                    w += i - portStart;
                }
            }
        }

        var portEnd = w;
        if (i < url.Length && url[i] is not ('/' or '?' or '#'))
        {
            return -1;
        }

        // Path and query: the fragment is ignored; plain runs are validated and copied in bulk (vectorised),
        // anything with '%' or a character to check goes character by character. The common case — a plain path
        // ending the URL or followed by '?' or '#' — takes one scan to split and validate.
        var rest = url[i..];
        var stop = rest.IndexOfAnyExcept(s_plain);
        ReadOnlySpan<char> path;
        var question = -1;
        var plainPath = true;
        if (stop < 0)
        {
            path = rest;
        }
        else if (rest[stop] is '#' or '?')
        {
            if (rest[stop] == '?')
            {
                question = stop;
                var hash = rest[(stop + 1)..].IndexOf('#');
                if (hash >= 0)
                {
                    rest = rest[..(stop + 1 + hash)];
                }
            }
            else
            {
                rest = rest[..stop];
            }

            path = rest[..stop];
        }
        else
        {
            var hash = rest.IndexOf('#');
            if (hash >= 0)
            {
                rest = rest[..hash];
            }

            question = rest.IndexOf('?');
            path = question < 0 ? rest : rest[..question];
            plainPath = path.IndexOfAnyExcept(s_pathPlain) < 0;
        }

        if (path.IsEmpty)
        {
            destination[w++] = '/';
        }
        else if (plainPath && !HasDotSegment(path))
        {
            if (!path.TryCopyTo(destination[w..]))
            {
                return -1;
            }

            w += path.Length;
        }
        else if (!TryWritePath(path, destination, ref w))
        {
            return -1;
        }

        var queryStart = -1;
        if (question >= 0 && question + 1 < rest.Length)
        {
            var query = rest[(question + 1)..];
            if (w + 1 + query.Length > destination.Length)
            {
                return -1;
            }

            queryStart = w;
            destination[w++] = '?';
            if (query.IndexOfAnyExcept(s_queryPlain) < 0)
            {
                query.CopyTo(destination[w..]);
                w += query.Length;
            }
            else if (!TryWriteQuery(query, destination, ref w))
            {
                return -1;
            }
        }

        parts = new MatchKeyParts(hostLength, portEnd, portEnd, queryStart);
        return w;
    }

    /// <summary>Path (starting with '/') character by character; false when it needs the full parser.</summary>
    private static bool TryWritePath(ReadOnlySpan<char> path, Span<char> destination, ref int w)
    {
        var pathCopy = s_pathCopy;
        if (w >= destination.Length)
        {
            return false;
        }

        destination[w++] = '/';
        var i = 1;
        var segmentStart = w;
        while (i < path.Length)
        {
            // Room for the widest write (%XX); when short, the full parser decides (and reports DestinationTooSmall).
            if (w + 3 > destination.Length)
            {
                return false;
            }

            var c = path[i];
            if (c < 128 && pathCopy[c])
            {
                destination[w++] = c;
                i++;
            }
            else if (c == '/')
            {
                if (IsDotSegment(destination[segmentStart..w]))
                {
                    return false;
                }

                destination[w++] = '/';
                segmentStart = w;
                i++;
            }
            else if (c == '%')
            {
                if (!WritePercent(path, ref i, destination, ref w))
                {
                    return false;
                }
            }
            else
            {
                return false;
            }
        }

        return !IsDotSegment(destination[segmentStart..w]);
    }

    /// <summary>Query character by character (after the '?'); false when it needs the full parser.</summary>
    private static bool TryWriteQuery(ReadOnlySpan<char> query, Span<char> destination, ref int w)
    {
        var queryCopy = s_queryCopy;
        var i = 0;
        while (i < query.Length)
        {
            if (w + 3 > destination.Length)
            {
                return false;
            }

            var c = query[i];
            if (c < 128 && queryCopy[c])
            {
                destination[w++] = c;
                i++;
            }
            else if (c == '%')
            {
                if (!WritePercent(query, ref i, destination, ref w))
                {
                    return false;
                }
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when a segment of <paramref name="path"/> (which starts with '/') is <c>.</c> or <c>..</c>.</summary>
    private static bool HasDotSegment(ReadOnlySpan<char> path)
    {
        var from = 0;
        while (true)
        {
            var k = path[from..].IndexOf("/.");
            if (k < 0)
            {
                return false;
            }

            var next = from + k + 2;
            if (next == path.Length || path[next] == '/')
            {
                return true;
            }

            if (path[next] == '.' && (next + 1 == path.Length || path[next + 1] == '/'))
            {
                return true;
            }

            from = next - 1;
        }
    }

    /// <summary>The match key's percent rule for one <c>%</c> at <paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool WritePercent(ReadOnlySpan<char> url, ref int i, Span<char> destination, ref int w)
    {
        if (w + 3 > destination.Length)
        {
            return false;
        }

        if (i + 2 < url.Length && char.IsAsciiHexDigit(url[i + 1]) && char.IsAsciiHexDigit(url[i + 2]))
        {
            var value = (PercentEncoding.HexValue(url[i + 1]) << 4) | PercentEncoding.HexValue(url[i + 2]);
            if (value < 128 && s_unreserved[value])
            {
                destination[w++] = (char)value;
            }
            else
            {
                destination[w] = '%';
                destination[w + 1] = UpperHex(url[i + 1]);
                destination[w + 2] = UpperHex(url[i + 2]);
                w += 3;
            }

            i += 3;
        }
        else
        {
            destination[w] = '%';
            destination[w + 1] = '2';
            destination[w + 2] = '5';
            w += 3;
            i++;
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static char UpperHex(char c) => c >= 'a' ? (char)(c - ('a' - 'A')) : c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDotSegment(ReadOnlySpan<char> segment) =>
        (segment.Length == 1 && segment[0] == '.') || (segment.Length == 2 && segment[0] == '.' && segment[1] == '.');

    private static bool[] BuildArray(string excluded)
    {
        var table = new bool[128];
        for (var c = 0x21; c < 0x7F; c++)
        {
            table[c] = !excluded.Contains((char)c);
        }

        return table;
    }

    private static SearchValues<char> BuildSearchValues(string excluded)
    {
        var chars = new System.Text.StringBuilder();
        for (var c = 0x21; c < 0x7F; c++)
        {
            if (!excluded.Contains((char)c))
            {
                chars.Append((char)c);
            }
        }

        return SearchValues.Create(chars.ToString());
    }

    private static bool[] BuildUnreserved()
    {
        var table = new bool[128];
        foreach (var c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        {
            table[c] = true;
        }

        return table;
    }
}
