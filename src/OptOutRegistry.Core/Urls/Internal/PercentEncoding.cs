using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>The percent-encode sets of the WHATWG URL standard (§1.3 "Percent-encoded bytes").</summary>
internal enum EncodeSet : byte
{
    /// <summary>Fragment percent-encode set: C0 controls, space, <c>" &lt; &gt; `</c>.</summary>
    Fragment = 1,

    /// <summary>Query percent-encode set: C0 controls, space, <c>" # &lt; &gt;</c>.</summary>
    Query = 2,

    /// <summary>Special-query percent-encode set: the query set and <c>'</c>.</summary>
    SpecialQuery = 4,

    /// <summary>Path percent-encode set: the query set and <c>? ^ ` { }</c>.</summary>
    Path = 8,

    /// <summary>Userinfo percent-encode set: the path set and <c>/ : ; = @ [ \ ] ^ |</c>.</summary>
    Userinfo = 16,
}

/// <summary>UTF-8 percent-encoding with the WHATWG sets, and the match-key percent normalisation.</summary>
[SkipLocalsInit]
internal static class PercentEncoding
{
    // Per ASCII character, the sets (bit flags of EncodeSet) that encode it. C0 controls and DEL are in every set,
    // and everything above U+007E is always encoded (the C0 control percent-encode set).
    private static readonly byte[] s_table = BuildTable();

    private static readonly SearchValues<char> s_fragmentSafe = BuildSafe(EncodeSet.Fragment);
    private static readonly SearchValues<char> s_querySafe = BuildSafe(EncodeSet.Query);
    private static readonly SearchValues<char> s_specialQuerySafe = BuildSafe(EncodeSet.SpecialQuery);
    private static readonly SearchValues<char> s_pathSafe = BuildSafe(EncodeSet.Path);
    private static readonly SearchValues<char> s_userinfoSafe = BuildSafe(EncodeSet.Userinfo);

    /// <summary>RFC 3986 §2.3 unreserved characters: decoding them never changes what a URL means.</summary>
    private static readonly SearchValues<char> s_unreserved =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    /// <summary>UTF-8 percent-encodes <paramref name="text"/> with <paramref name="set"/> and appends it.</summary>
    public static void Append(ref CharBuffer buffer, scoped ReadOnlySpan<char> text, EncodeSet set)
    {
        var safe = set switch
        {
            EncodeSet.Fragment => s_fragmentSafe,
            EncodeSet.Query => s_querySafe,
            EncodeSet.SpecialQuery => s_specialQuerySafe,
            EncodeSet.Path => s_pathSafe,
            _ => s_userinfoSafe,
        };
        var flag = (byte)set;
        Span<byte> utf8 = stackalloc byte[4];
        while (!text.IsEmpty)
        {
            var run = text.IndexOfAnyExcept(safe);
            if (run < 0)
            {
                buffer.Append(text);
                return;
            }

            buffer.Append(text[..run]);
            var c = text[run];
            if (c < 0x80)
            {
                if ((s_table[c] & flag) != 0)
                {
                    buffer.AppendPercentEncoded((byte)c);
                }
                else
                {
                    buffer.Append(c);
                }

                text = text[(run + 1)..];
                continue;
            }

            // Non-ASCII: encode the scalar value as UTF-8. A lone surrogate becomes U+FFFD, as the
            // standard's input is a sequence of scalar values (USVString conversion).
            int consumed = 1;
            Rune rune;
            if (Rune.DecodeFromUtf16(text[run..], out rune, out consumed) != OperationStatus.Done)
            {
                rune = Rune.ReplacementChar;
                consumed = 1;
            }

            var n = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < n; i++)
            {
                buffer.AppendPercentEncoded(utf8[i]);
            }

            text = text[(run + consumed)..];
        }
    }

    /// <summary>
    /// The match key's percent-encoding rule, applied to a path or query the WHATWG parser already produced
    /// (so it is ASCII): <c>%XX</c> of an RFC 3986 unreserved character is decoded (<c>%7E</c> → <c>~</c>),
    /// every other <c>%XX</c> gets upper-case hex digits (<c>%2f</c> → <c>%2F</c>), and a <c>%</c> that does
    /// not start a valid escape is itself encoded as <c>%25</c> (it can only mean a literal percent sign).
    /// Returns false when <paramref name="destination"/> is too small.
    /// </summary>
    public static bool TryNormalize(ReadOnlySpan<char> text, Span<char> destination, out int written)
    {
        written = 0;
        while (true)
        {
            var pct = text.IndexOf('%');
            var run = pct < 0 ? text.Length : pct;
            if (written + run > destination.Length)
            {
                return false;
            }

            text[..run].CopyTo(destination[written..]);
            written += run;
            if (pct < 0)
            {
                return true;
            }

            if (pct + 2 < text.Length && IsHex(text[pct + 1]) && IsHex(text[pct + 2]))
            {
                var value = (char)((HexValue(text[pct + 1]) << 4) | HexValue(text[pct + 2]));
                if (s_unreserved.Contains(value))
                {
                    if (written + 1 > destination.Length)
                    {
                        return false;
                    }

                    destination[written++] = value;
                }
                else
                {
                    if (written + 3 > destination.Length)
                    {
                        return false;
                    }

                    destination[written] = '%';
                    destination[written + 1] = char.ToUpperInvariant(text[pct + 1]);
                    destination[written + 2] = char.ToUpperInvariant(text[pct + 2]);
                    written += 3;
                }

                text = text[(pct + 3)..];
            }
            else
            {
                if (written + 3 > destination.Length)
                {
                    return false;
                }

                destination[written] = '%';
                destination[written + 1] = '2';
                destination[written + 2] = '5';
                written += 3;
                text = text[(pct + 1)..];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static byte[] BuildTable()
    {
        var t = new byte[128];
        const byte all = (byte)(EncodeSet.Fragment | EncodeSet.Query | EncodeSet.SpecialQuery | EncodeSet.Path | EncodeSet.Userinfo);
        for (var c = 0; c < 0x20; c++)
        {
            t[c] = all;
        }

        t[0x7F] = all;
        const byte queryLike = (byte)(EncodeSet.Query | EncodeSet.SpecialQuery | EncodeSet.Path | EncodeSet.Userinfo);
        foreach (var c in " \"<>")
        {
            t[c] = all;
        }

        t['#'] |= queryLike;
        t['`'] |= (byte)(EncodeSet.Fragment | EncodeSet.Path | EncodeSet.Userinfo);
        t['\''] |= (byte)EncodeSet.SpecialQuery;
        foreach (var c in "?^{}")
        {
            t[c] |= (byte)(EncodeSet.Path | EncodeSet.Userinfo);
        }

        foreach (var c in "/:;=@[\\]|")
        {
            t[c] |= (byte)EncodeSet.Userinfo;
        }

        return t;
    }

    private static SearchValues<char> BuildSafe(EncodeSet set)
    {
        var sb = new StringBuilder();
        for (var c = 0; c < 128; c++)
        {
            if ((s_table[c] & (byte)set) == 0)
            {
                sb.Append((char)c);
            }
        }

        return SearchValues.Create(sb.ToString());
    }
}
