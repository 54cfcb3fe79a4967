using System.Buffers;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>The special schemes of the URL standard (§4.1), with their default ports.</summary>
internal enum SchemeKind : byte
{
    None = 0,
    Http,
    Https,
    Ws,
    Wss,
    Ftp,
    File,
}

/// <summary>Where the components of a serialised URL (its href) are.</summary>
/// <remarks>Layout: <c>scheme ":" "//" [username [":" password] "@"] host [":" port] path ["?" query] ["#" fragment]</c>.</remarks>
internal struct UrlOffsets
{
    public SchemeKind Scheme;
    public int SchemeEnd;       // index of the ':' after the scheme
    public int UsernameStart;   // just after "//"
    public int UsernameEnd;
    public int PasswordEnd;     // == UsernameEnd when there is no password; otherwise the password is (UsernameEnd, PasswordEnd)
    public int HostStart;
    public int HostEnd;
    public int Port;            // -1: none (or the scheme's default)
    public int PathStart;
    public int PathEnd;
    public int QueryStart;      // index of '?', or -1
    public int FragmentStart;   // index of '#', or -1
}

/// <summary>A parsed base URL: its href and offsets.</summary>
internal readonly struct BaseUrl(string href, UrlOffsets offsets)
{
    public readonly string Href = href;
    public readonly UrlOffsets Offsets = offsets;

    public ReadOnlySpan<char> Path => Href.AsSpan(Offsets.PathStart, Offsets.PathEnd - Offsets.PathStart);

    /// <summary>The query including its '?', empty when the base has no query.</summary>
    public ReadOnlySpan<char> QueryWithMark => Offsets.QueryStart < 0
        ? default
        : Href.AsSpan(Offsets.QueryStart, (Offsets.FragmentStart < 0 ? Href.Length : Offsets.FragmentStart) - Offsets.QueryStart);
}

/// <summary>
/// The WHATWG URL parser (https://url.spec.whatwg.org/#concept-basic-url-parser) for special schemes
/// (http, https, ws, wss, ftp, file), written over spans: it serialises straight into a buffer and records
/// component offsets, so parsing an ASCII URL allocates nothing. Section numbers refer to the standard.
/// Non-special schemes (opaque paths, <c>data:</c>, <c>javascript:</c>, <c>blob:</c>) are refused with
/// <see cref="UrlError.UnsupportedScheme"/>: they identify no web resource that can carry an opt-out.
/// </summary>
internal ref struct UrlParser
{
    private static readonly SearchValues<char> s_authorityEnd = SearchValues.Create("/\\?#");
    private static readonly SearchValues<char> s_tabOrNewline = SearchValues.Create("\t\n\r");

    private CharBuffer _href;
    private UrlOffsets _o;
    private readonly bool _hasBase;
    private readonly BaseUrl _base;

    private UrlParser(CharBuffer href, bool hasBase, BaseUrl baseUrl)
    {
        _href = href;
        _hasBase = hasBase;
        _base = baseUrl;
        _o = default;
        _o.Port = -1;
        _o.QueryStart = -1;
        _o.FragmentStart = -1;
    }

    /// <summary>
    /// Parses <paramref name="input"/> (against <paramref name="baseUrl"/> when <paramref name="hasBase"/>) into
    /// <paramref name="href"/>. The caller owns <paramref name="href"/> and disposes it.
    /// </summary>
    public static UrlError Parse(ReadOnlySpan<char> input, bool hasBase, in BaseUrl baseUrl, ref CharBuffer href, out UrlOffsets offsets)
    {
        // §4.4 basic URL parser, step 1-3: strip leading/trailing C0 control or space, remove all ASCII tab or newline.
        var start = 0;
        var end = input.Length;
        while (start < end && input[start] <= ' ')
        {
            start++;
        }

        while (end > start && input[end - 1] <= ' ')
        {
            end--;
        }

        input = input[start..end];
        if (input.Length > UrlCanonicalizer.MaxUrlLength)
        {
            offsets = default;
            return UrlError.TooLong;
        }

        char[]? rented = null;
        if (input.IndexOfAny(s_tabOrNewline) >= 0)
        {
            rented = ArrayPool<char>.Shared.Rent(input.Length);
            var n = 0;
            foreach (var c in input)
            {
                if (c is not ('\t' or '\n' or '\r'))
                {
                    rented[n++] = c;
                }
            }

            input = rented.AsSpan(0, n);
        }

        try
        {
            var parser = new UrlParser(href, hasBase, baseUrl);
            var error = parser.Run(input);
            href = parser._href;
            parser._o.PathEnd = parser._o.QueryStart >= 0 ? parser._o.QueryStart
                : parser._o.FragmentStart >= 0 ? parser._o.FragmentStart
                : href.Length;
            offsets = parser._o;
            return error;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    internal static SchemeKind ClassifyScheme(ReadOnlySpan<char> scheme)
    {
        switch (scheme.Length)
        {
            case 2 when (scheme[0] | 0x20) == 'w' && (scheme[1] | 0x20) == 's':
                return SchemeKind.Ws;
            case 3 when scheme.Equals("wss", StringComparison.OrdinalIgnoreCase):
                return SchemeKind.Wss;
            case 3 when scheme.Equals("ftp", StringComparison.OrdinalIgnoreCase):
                return SchemeKind.Ftp;
            case 4 when scheme.Equals("http", StringComparison.OrdinalIgnoreCase):
                return SchemeKind.Http;
            case 4 when scheme.Equals("file", StringComparison.OrdinalIgnoreCase):
                return SchemeKind.File;
            case 5 when scheme.Equals("https", StringComparison.OrdinalIgnoreCase):
                return SchemeKind.Https;
            default:
                return SchemeKind.None;
        }
    }

    internal static int DefaultPort(SchemeKind scheme) => scheme switch
    {
        SchemeKind.Http or SchemeKind.Ws => 80,
        SchemeKind.Https or SchemeKind.Wss => 443,
        SchemeKind.Ftp => 21,
        _ => -1,
    };

    private static ReadOnlySpan<char> SchemeName(SchemeKind scheme) => scheme switch
    {
        SchemeKind.Http => "http",
        SchemeKind.Https => "https",
        SchemeKind.Ws => "ws",
        SchemeKind.Wss => "wss",
        SchemeKind.Ftp => "ftp",
        _ => "file",
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsSlash(char c) => c == '/' || c == '\\';

    private UrlError Run(ReadOnlySpan<char> input)
    {
        // Scheme start / scheme state: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
        var colon = -1;
        if (input.Length > 0 && char.IsAsciiLetter(input[0]))
        {
            var i = 1;
            while (i < input.Length && (char.IsAsciiLetterOrDigit(input[i]) || input[i] is '+' or '-' or '.'))
            {
                i++;
            }

            if (i < input.Length && input[i] == ':')
            {
                colon = i;
            }
        }

        if (colon < 0)
        {
            // No scheme state.
            if (!_hasBase)
            {
                return input.IsEmpty ? UrlError.Empty : UrlError.MissingScheme;
            }

            WriteScheme(_base.Offsets.Scheme);
            return _o.Scheme == SchemeKind.File ? FileState(input) : RelativeState(input);
        }

        var scheme = ClassifyScheme(input[..colon]);
        if (scheme == SchemeKind.None)
        {
            return UrlError.UnsupportedScheme;
        }

        WriteScheme(scheme);
        var rest = input[(colon + 1)..];
        if (scheme == SchemeKind.File)
        {
            return FileState(rest);
        }

        if (_hasBase && _base.Offsets.Scheme == scheme)
        {
            // Special relative or authority state.
            if (rest.Length >= 2 && rest[0] == '/' && rest[1] == '/')
            {
                return AuthorityState(rest.TrimStart("/\\"));
            }

            return RelativeState(rest);
        }

        // Special authority slashes state, then special authority ignore slashes state.
        return AuthorityState(rest.TrimStart("/\\"));
    }

    private void WriteScheme(SchemeKind scheme)
    {
        _o.Scheme = scheme;
        _href.Append(SchemeName(scheme));
        _o.SchemeEnd = _href.Length;
        _href.Append("://");
        _o.UsernameStart = _o.UsernameEnd = _o.PasswordEnd = _o.HostStart = _o.HostEnd = _href.Length;
    }

    /// <summary>Authority and host states for non-file special URLs (§4.4 "authority state", "host state", "port state").</summary>
    private UrlError AuthorityState(ReadOnlySpan<char> rest)
    {
        var end = rest.IndexOfAny(s_authorityEnd);
        if (end < 0)
        {
            end = rest.Length;
        }

        var authority = rest[..end];
        var at = authority.LastIndexOf('@');
        var hostAndPort = authority;
        if (at >= 0)
        {
            // Every '@' but the last is part of the credentials and encodes as %40 (it is in the userinfo set).
            var credentials = authority[..at];
            hostAndPort = authority[(at + 1)..];
            var passColon = credentials.IndexOf(':');
            var username = passColon < 0 ? credentials : credentials[..passColon];
            PercentEncoding.Append(ref _href, username, EncodeSet.Userinfo);
            _o.UsernameEnd = _href.Length;
            if (passColon >= 0 && passColon + 1 < credentials.Length)
            {
                _href.Append(':');
                PercentEncoding.Append(ref _href, credentials[(passColon + 1)..], EncodeSet.Userinfo);
            }

            _o.PasswordEnd = _href.Length;
            if (_href.Length > _o.UsernameStart)
            {
                _href.Append('@');
            }

            if (hostAndPort.IsEmpty)
            {
                return UrlError.MissingHost;
            }
        }

        _o.HostStart = _href.Length;

        // Host state: the port starts at the first ':' outside [brackets].
        var portColon = -1;
        var insideBrackets = false;
        for (var i = 0; i < hostAndPort.Length; i++)
        {
            var c = hostAndPort[i];
            if (c == '[')
            {
                insideBrackets = true;
            }
            else if (c == ']')
            {
                insideBrackets = false;
            }
            else if (c == ':' && !insideBrackets)
            {
                portColon = i;
                break;
            }
        }

        var host = portColon < 0 ? hostAndPort : hostAndPort[..portColon];
        if (host.IsEmpty)
        {
            return UrlError.MissingHost;
        }

        var hostError = HostParser.Parse(host, ref _href);
        if (hostError != UrlError.None)
        {
            return hostError;
        }

        _o.HostEnd = _href.Length;
        if (portColon >= 0)
        {
            var portText = hostAndPort[(portColon + 1)..];
            if (!portText.IsEmpty)
            {
                var port = 0;
                foreach (var c in portText)
                {
                    if (!char.IsAsciiDigit(c))
                    {
                        return UrlError.InvalidPort;
                    }

                    port = (port * 10) + (c - '0');
                    if (port > 65535)
                    {
                        return UrlError.InvalidPort;
                    }
                }

                if (port != DefaultPort(_o.Scheme))
                {
                    _o.Port = port;
                    _href.Append(':');
                    _href.AppendNumber((uint)port);
                }
            }
        }

        return PathStartState(rest[end..]);
    }

    private UrlError PathStartState(ReadOnlySpan<char> rest)
    {
        if (rest.Length > 0 && IsSlash(rest[0]))
        {
            rest = rest[1..];
        }

        _o.PathStart = _href.Length;
        return PathState(rest);
    }

    /// <summary>Copies the base's credentials, host and port (the relative states' "set url's username … port to base's").</summary>
    private void CopyBaseAuthority()
    {
        var b = _base.Offsets;
        var delta = _href.Length - b.UsernameStart;
        _href.Append(_base.Href.AsSpan(b.UsernameStart, b.PathStart - b.UsernameStart));
        _o.UsernameEnd = b.UsernameEnd + delta;
        _o.PasswordEnd = b.PasswordEnd + delta;
        _o.HostStart = b.HostStart + delta;
        _o.HostEnd = b.HostEnd + delta;
        _o.Port = b.Port;
        _o.PathStart = _href.Length;
    }

    private void CopyBaseQuery()
    {
        var query = _base.QueryWithMark;
        if (!query.IsEmpty)
        {
            _o.QueryStart = _href.Length;
            _href.Append(query);
        }
    }

    /// <summary>Relative state and relative slash state (§4.4), for a special non-file base.</summary>
    private UrlError RelativeState(ReadOnlySpan<char> rest)
    {
        if (rest.Length > 0 && IsSlash(rest[0]))
        {
            // Relative slash state.
            if (rest.Length > 1 && IsSlash(rest[1]))
            {
                return AuthorityState(rest.TrimStart("/\\"));
            }

            CopyBaseAuthority();
            return PathState(rest[1..]);
        }

        CopyBaseAuthority();
        _href.Append(_base.Path);
        if (rest.IsEmpty)
        {
            CopyBaseQuery();
            return UrlError.None;
        }

        switch (rest[0])
        {
            case '?':
                return QueryState(rest[1..]);
            case '#':
                CopyBaseQuery();
                return FragmentState(rest[1..]);
            default:
                ShortenPath();
                return PathState(rest);
        }
    }

    /// <summary>File state (§4.4).</summary>
    private UrlError FileState(ReadOnlySpan<char> rest)
    {
        var fileBase = _hasBase && _base.Offsets.Scheme == SchemeKind.File;
        if (rest.Length > 0 && IsSlash(rest[0]))
        {
            return FileSlashState(rest[1..], fileBase);
        }

        if (!fileBase)
        {
            _o.PathStart = _href.Length;
            return PathState(rest);
        }

        CopyBaseHost();
        _href.Append(_base.Path);
        if (rest.IsEmpty)
        {
            CopyBaseQuery();
            return UrlError.None;
        }

        switch (rest[0])
        {
            case '?':
                return QueryState(rest[1..]);
            case '#':
                CopyBaseQuery();
                return FragmentState(rest[1..]);
            default:
                if (!StartsWithWindowsDriveLetter(rest))
                {
                    ShortenPath();
                }
                else
                {
                    _href.Truncate(_o.PathStart);
                }

                return PathState(rest);
        }
    }

    private void CopyBaseHost()
    {
        var b = _base.Offsets;
        _o.HostStart = _href.Length;
        _href.Append(_base.Href.AsSpan(b.HostStart, b.HostEnd - b.HostStart));
        _o.HostEnd = _href.Length;
        _o.PathStart = _href.Length;
    }

    private UrlError FileSlashState(ReadOnlySpan<char> rest, bool fileBase)
    {
        if (rest.Length > 0 && IsSlash(rest[0]))
        {
            return FileHostState(rest[1..]);
        }

        if (fileBase)
        {
            CopyBaseHost();
            var basePath = _base.Path;
            if (!StartsWithWindowsDriveLetter(rest) && basePath.Length >= 3)
            {
                // Base's path[0] is a normalised Windows drive letter ("/C:" then end or '/').
                var first = basePath[1..];
                var slash = first.IndexOf('/');
                var segment = slash < 0 ? first : first[..slash];
                if (segment.Length == 2 && char.IsAsciiLetter(segment[0]) && segment[1] == ':')
                {
                    _href.Append('/');
                    _href.Append(segment);
                }
            }
        }
        else
        {
            _o.PathStart = _href.Length;
        }

        return PathState(rest);
    }

    private UrlError FileHostState(ReadOnlySpan<char> rest)
    {
        var end = rest.IndexOfAny(s_authorityEnd);
        if (end < 0)
        {
            end = rest.Length;
        }

        var buffer = rest[..end];
        if (buffer.Length == 2 && char.IsAsciiLetter(buffer[0]) && buffer[1] is ':' or '|')
        {
            // Windows drive letter quirk: the "host" is really the first path segment.
            _o.PathStart = _href.Length;
            return PathState(rest);
        }

        if (!buffer.IsEmpty)
        {
            var hostStart = _href.Length;
            var error = HostParser.Parse(buffer, ref _href);
            if (error != UrlError.None)
            {
                return error;
            }

            if (_href.Written[hostStart..].SequenceEqual("localhost"))
            {
                _href.Truncate(hostStart);
            }

            _o.HostEnd = _href.Length;
        }

        return PathStartState(rest[end..]);
    }

    private static bool StartsWithWindowsDriveLetter(ReadOnlySpan<char> s) =>
        s.Length >= 2 && char.IsAsciiLetter(s[0]) && s[1] is ':' or '|'
        && (s.Length == 2 || s[2] is '/' or '\\' or '?' or '#');

    /// <summary>Shorten a URL's path (§4.1): drop the last segment, except a lone drive letter of a file URL.</summary>
    private void ShortenPath()
    {
        var path = _href.Written[_o.PathStart..];
        if (_o.Scheme == SchemeKind.File && path.Length == 3 && path[0] == '/' && char.IsAsciiLetter(path[1]) && path[2] == ':')
        {
            return;
        }

        var last = path.LastIndexOf('/');
        if (last >= 0)
        {
            _href.Truncate(_o.PathStart + last);
        }
    }

    /// <summary>Path state (§4.4): segments up to '?', '#' or the end; dot segments resolved as they come.</summary>
    private UrlError PathState(ReadOnlySpan<char> rest)
    {
        while (true)
        {
            var end = rest.IndexOfAny(s_authorityEnd);
            var segment = end < 0 ? rest : rest[..end];
            var slashNext = end >= 0 && IsSlash(rest[end]);
            if (IsDoubleDot(segment))
            {
                ShortenPath();
                if (!slashNext)
                {
                    _href.Append('/');
                }
            }
            else if (IsSingleDot(segment))
            {
                if (!slashNext)
                {
                    _href.Append('/');
                }
            }
            else
            {
                _href.Append('/');
                if (_o.Scheme == SchemeKind.File && _href.Length == _o.PathStart + 1
                    && segment.Length == 2 && char.IsAsciiLetter(segment[0]) && segment[1] is ':' or '|')
                {
                    _href.Append(segment[0]);
                    _href.Append(':');
                }
                else
                {
                    PercentEncoding.Append(ref _href, segment, EncodeSet.Path);
                }
            }

            if (end < 0)
            {
                return UrlError.None;
            }

            if (!slashNext)
            {
                return rest[end] == '?' ? QueryState(rest[(end + 1)..]) : FragmentState(rest[(end + 1)..]);
            }

            rest = rest[(end + 1)..];
        }
    }

    private UrlError QueryState(ReadOnlySpan<char> rest)
    {
        _o.QueryStart = _href.Length;
        _href.Append('?');
        var hash = rest.IndexOf('#');
        PercentEncoding.Append(ref _href, hash < 0 ? rest : rest[..hash], EncodeSet.SpecialQuery);
        return hash < 0 ? UrlError.None : FragmentState(rest[(hash + 1)..]);
    }

    private UrlError FragmentState(ReadOnlySpan<char> rest)
    {
        _o.FragmentStart = _href.Length;
        _href.Append('#');
        PercentEncoding.Append(ref _href, rest, EncodeSet.Fragment);
        return UrlError.None;
    }

    private static bool IsSingleDot(ReadOnlySpan<char> s) =>
        (s.Length == 1 && s[0] == '.') || (s.Length == 3 && s.Equals("%2e", StringComparison.OrdinalIgnoreCase));

    private static bool IsDoubleDot(ReadOnlySpan<char> s) => s.Length switch
    {
        2 => s[0] == '.' && s[1] == '.',
        4 => s.Equals(".%2e", StringComparison.OrdinalIgnoreCase) || s.Equals("%2e.", StringComparison.OrdinalIgnoreCase),
        6 => s.Equals("%2e%2e", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };
}
