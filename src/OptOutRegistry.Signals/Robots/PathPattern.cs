using System.Buffers;

namespace OptOutRegistry.Signals.Robots;

/// <summary>
/// A compiled RFC 9309 path pattern (§2.2.2–2.2.3): <c>*</c> matches any sequence of octets (including
/// <c>/</c>), a final <c>$</c> anchors the end, everything else matches literally and case-sensitively from the
/// first octet. Also used for TDMRep <c>location</c> values, which follow the same rules (TDMRep §3.1).
/// Matching is greedy-leftmost over the literal segments between <c>*</c>s: each segment is found with one
/// vectorised <c>IndexOf</c> from where the previous one ended, so a pattern like <c>/*a*a*a*a*b</c> costs
/// O(segments × path) and never backtracks.
/// </summary>
public sealed class PathPattern
{
    private readonly string[] _segments;
    private readonly bool _anchored;
    private readonly bool _hasWildcard;
    private readonly int _minLength;

    private PathPattern(string normalized)
    {
        Text = normalized;
        var body = normalized.AsSpan();

        // §2.2.3: "$" is special only as the last character of the pattern.
        if (body.Length > 0 && body[^1] == '$')
        {
            _anchored = true;
            body = body[..^1];
        }

        _hasWildcard = body.Contains('*');
        if (_hasWildcard)
        {
            var parts = new List<string>();
            foreach (var range in body.Split('*'))
            {
                parts.Add(body[range].ToString());
            }

            _segments = [.. parts];
        }
        else
        {
            _segments = [body.ToString()];
        }

        foreach (var s in _segments)
        {
            _minLength += s.Length;
        }
    }

    /// <summary>The normalised pattern text (ASCII; percent-encoding normalised as in <see cref="PathNormalizer"/>).</summary>
    public string Text { get; }

    /// <summary>The priority of the pattern in longest-match selection: its length in octets (§2.2.2 "most octets").</summary>
    public int Length => Text.Length;

    /// <summary>Compiles a pattern from its raw octets (as written in the file).</summary>
    public static PathPattern Compile(ReadOnlySpan<byte> raw) => new(PathNormalizer.NormalizeBytes(raw));

    /// <summary>Compiles a pattern from text.</summary>
    public static PathPattern Compile(string raw) => new(PathNormalizer.NormalizeString(raw));

    /// <summary>Tests an already normalised path (see <see cref="PathNormalizer"/>).</summary>
    public bool Matches(ReadOnlySpan<char> path)
    {
        if (path.Length < _minLength)
        {
            return false;
        }

        if (!_hasWildcard)
        {
            var literal = _segments[0].AsSpan();
            return _anchored ? path.SequenceEqual(literal) : path.StartsWith(literal, StringComparison.Ordinal);
        }

        var segments = _segments;
        var first = segments[0].AsSpan();
        if (!path.StartsWith(first, StringComparison.Ordinal))
        {
            return false;
        }

        var pos = first.Length;
        var last = segments.Length - 1;
        for (var i = 1; i < last; i++)
        {
            var seg = segments[i].AsSpan();
            if (seg.Length == 0)
            {
                continue;
            }

            var idx = path[pos..].IndexOf(seg, StringComparison.Ordinal);
            if (idx < 0)
            {
                return false;
            }

            pos += idx + seg.Length;
        }

        var tail = segments[last].AsSpan();
        if (_anchored)
        {
            // The last segment must end the path and must not overlap what the earlier segments consumed.
            return path.Length - tail.Length >= pos && path.EndsWith(tail, StringComparison.Ordinal);
        }

        return tail.Length == 0 || path[pos..].IndexOf(tail, StringComparison.Ordinal) >= 0;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>
/// Percent-encoding normalisation before comparison (RFC 9309 §2.2.2): octets outside US-ASCII are
/// percent-encoded, percent-encoded unreserved characters (ALPHA / DIGIT / "-" / "." / "_" / "~") are decoded,
/// and the hex digits of the remaining escapes are upper-cased, so <c>/%7Efoo</c>, <c>/~foo</c> and <c>/%7efoo</c>
/// compare equal and <c>/ä</c> equals <c>/%C3%A4</c>.
/// </summary>
public static class PathNormalizer
{
    /// <summary>True when <paramref name="path"/> is already in normal form (the common case: no allocation needed):
    /// pure ASCII without '%'. Both tests are vectorised.</summary>
    public static bool IsNormalized(ReadOnlySpan<char> path) => System.Text.Ascii.IsValid(path) && !path.Contains('%');

    /// <summary>Normalises a path given as text; non-ASCII characters are encoded as UTF-8 first.</summary>
    public static string NormalizeString(ReadOnlySpan<char> path)
    {
        if (IsNormalized(path))
        {
            return path.ToString();
        }

        var max = System.Text.Encoding.UTF8.GetMaxByteCount(path.Length);
        var rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            var n = System.Text.Encoding.UTF8.GetBytes(path, rented);
            return NormalizeBytes(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Normalises a path into <paramref name="destination"/>; returns the number of characters written, or -1 when it does not fit.</summary>
    public static int Normalize(ReadOnlySpan<char> path, Span<char> destination)
    {
        var w = 0;
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (c >= 0x80)
            {
                // Encode this one scalar as UTF-8 octets, each written as %XX.
                var len = char.IsHighSurrogate(c) && i + 1 < path.Length && char.IsLowSurrogate(path[i + 1]) ? 2 : 1;
                if (System.Text.Encoding.UTF8.GetBytes(path.Slice(i, len), utf8) is var n && n > 0)
                {
                    for (var k = 0; k < n; k++)
                    {
                        if (w + 3 > destination.Length)
                        {
                            return -1;
                        }

                        WriteEscape(destination, ref w, utf8[k]);
                    }
                }

                i += len - 1;
                continue;
            }

            if (c == '%' && i + 2 < path.Length && IsHex(path[i + 1]) && IsHex(path[i + 2]))
            {
                var b = (byte)((HexValue(path[i + 1]) << 4) | HexValue(path[i + 2]));
                if (w + 3 > destination.Length)
                {
                    return -1;
                }

                if (IsUnreserved(b))
                {
                    destination[w++] = (char)b;
                }
                else
                {
                    WriteEscape(destination, ref w, b);
                }

                i += 2;
                continue;
            }

            if (w >= destination.Length)
            {
                return -1;
            }

            destination[w++] = c;
        }

        return w;
    }

    /// <summary>Normalises raw octets (e.g. a robots.txt value that may not even be valid UTF-8).</summary>
    public static string NormalizeBytes(ReadOnlySpan<byte> raw)
    {
        var sb = new System.Text.StringBuilder(raw.Length + 8);
        for (var i = 0; i < raw.Length; i++)
        {
            var b = raw[i];
            if (b >= 0x80)
            {
                AppendEscape(sb, b);
            }
            else if (b == '%' && i + 2 < raw.Length && IsHex((char)raw[i + 1]) && IsHex((char)raw[i + 2]))
            {
                var d = (byte)((HexValue((char)raw[i + 1]) << 4) | HexValue((char)raw[i + 2]));
                if (IsUnreserved(d))
                {
                    sb.Append((char)d);
                }
                else
                {
                    AppendEscape(sb, d);
                }

                i += 2;
            }
            else
            {
                sb.Append((char)b);
            }
        }

        return sb.ToString();
    }

    private static void WriteEscape(Span<char> destination, ref int w, byte b)
    {
        destination[w++] = '%';
        destination[w++] = "0123456789ABCDEF"[b >> 4];
        destination[w++] = "0123456789ABCDEF"[b & 0xF];
    }

    private static void AppendEscape(System.Text.StringBuilder sb, byte b) =>
        sb.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);

    // RFC 3986 §2.3 unreserved.
    private static bool IsUnreserved(byte b) =>
        b is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'0' and <= (byte)'9')
            or (byte)'-' or (byte)'.' or (byte)'_' or (byte)'~';

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
