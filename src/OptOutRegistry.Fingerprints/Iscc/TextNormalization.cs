using System.Buffers;
using System.Globalization;
using System.Text;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Text normalisation exactly as iscc-core does it with Python's <c>unicodedata</c> and <c>str</c> methods
/// (<c>code_content_text.text_collapse</c>, <c>code_meta.text_clean / text_remove_newlines / text_trim</c>).
/// </summary>
/// <remarks>
/// Python and .NET differ in three places that matter here, and each is handled explicitly:
/// <list type="bullet">
/// <item><c>str.split()</c>/<c>str.strip()</c> whitespace is Python's <c>isspace</c> (bidi class WS/B/S or Zs),
/// which includes U+001C..U+001F and excludes U+180E — see <see cref="IsPythonWhitespace"/>.</item>
/// <item><c>str.lower()</c> applies the Final_Sigma rule (Σ → ς at the end of a word); .NET always gives σ.</item>
/// <item>Lone surrogates are legal in a Python <c>str</c> (category Cs, so collapse drops them) but make
/// <c>string.Normalize</c> throw; they are removed (collapse) or replaced by U+FFFD (clean) first.</item>
/// </list>
/// Cyrillic: NFD splits й (U+0439) into и + U+0306 and ё (U+0451) into е + U+0308; the combining marks are
/// category Mn and are dropped, so collapse maps й→и and ё→е, as iscc-core does. The Kazakh letters
/// ә ғ қ ң ө ұ ү һ і have no canonical decomposition and pass through unchanged (upper case is lowered).
/// </remarks>
public static class TextNormalization
{
    /// <summary>iscc-core <c>text_newlines</c>: LF, VT, FF, CR, NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR.</summary>
    public static bool IsNewline(int c) => c is 0x0A or 0x0B or 0x0C or 0x0D or 0x85 or 0x2028 or 0x2029;

    /// <summary>Python <c>str.isspace()</c> for one code point.</summary>
    public static bool IsPythonWhitespace(int c) =>
        c is (>= 0x09 and <= 0x0D) or (>= 0x1C and <= 0x20) or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A)
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    /// <summary>
    /// <c>text_collapse</c>: NFD, remove whitespace, lower-case, drop every code point of general category
    /// C*, M* or P*, then NFKC. The result is what Text-Code and Meta-Code hash.
    /// </summary>
    public static string Collapse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return text;
        }

        // ASCII is unchanged by NFD and NFKC, so only the table lookup remains (the common case for web text).
        if (System.Text.Ascii.IsValid(text))
        {
            return CollapseAscii(text);
        }

        var nfd = RemoveLoneSurrogates(text).Normalize(NormalizationForm.FormD);
        var joined = ArrayPool<char>.Shared.Rent(nfd.Length);
        var output = ArrayPool<char>.Shared.Rent(nfd.Length);
        try
        {
            // Step 1 (Python: "".join(text.split())): drop whitespace. All Python whitespace is in the BMP.
            var n = 0;
            foreach (var c in nfd)
            {
                if (!IsPythonWhitespace(c))
                {
                    joined[n++] = c;
                }
            }

            // Step 2 (.lower()) and step 3 (drop categories C*, M*, P*) on the joined text.
            ReadOnlySpan<char> s = joined.AsSpan(0, n);
            var w = 0;
            for (var i = 0; i < s.Length;)
            {
                var c = s[i];
                if (c < 0x80)
                {
                    var mapped = AsciiCollapseTable[c];
                    if (mapped != 0)
                    {
                        output[w++] = (char)mapped;
                    }

                    i++;
                    continue;
                }

                if (!char.IsSurrogate(c))
                {
                    // BmpCollapseTable: lower-cased char, or 0 when the lower-cased char is in C*/M*/P*.
                    var mapped = c == '\u03A3' ? (FinalSigma(s, i) ? '\u03C2' : '\u03C3') : BmpCollapse[c];
                    if (mapped != 0)
                    {
                        output[w++] = mapped;
                    }

                    i++;
                    continue;
                }

                Rune.DecodeFromUtf16(s[i..], out var rune, out var consumed);
                var lowerRune = Rune.ToLowerInvariant(rune);
                if (!IsFilteredCategory(Rune.GetUnicodeCategory(lowerRune)))
                {
                    w += lowerRune.EncodeToUtf16(output.AsSpan(w));
                }

                i += consumed;
            }

            return new string(output, 0, w).Normalize(NormalizationForm.FormKC);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(joined);
            ArrayPool<char>.Shared.Return(output);
        }
    }

    // Per BMP code unit (surrogates excluded): the lower-cased character, or 0 when it is dropped (C*, M*, P*).
    // Built once (64K entries, 128 KiB) because per-character culture-invariant casing and category lookups
    // were 70 % of Collapse's time on Cyrillic text.
    private static char[] BmpCollapse => _bmpCollapse ??= BuildBmpCollapseTable();

    private static char[]? _bmpCollapse;

    private static char[] BuildBmpCollapseTable()
    {
        var table = new char[65536];
        for (var c = 1; c < 65536; c++)
        {
            var ch = (char)c;
            if (char.IsSurrogate(ch))
            {
                continue;
            }

            var lower = char.ToLowerInvariant(ch);
            if (!IsFilteredCategory(CharUnicodeInfo.GetUnicodeCategory(lower)))
            {
                table[c] = lower;
            }
        }

        return table;
    }

    // Per ASCII code point: 0 = removed (whitespace, Cc, P*), else the lower-cased character to keep.
    private static readonly byte[] AsciiCollapseTable = BuildAsciiCollapseTable();

    private static byte[] BuildAsciiCollapseTable()
    {
        var table = new byte[128];
        for (var c = 0; c < 128; c++)
        {
            var ch = (char)c;
            if (IsPythonWhitespace(c) || IsFilteredCategory(CharUnicodeInfo.GetUnicodeCategory(ch)))
            {
                continue;
            }

            table[c] = (byte)char.ToLowerInvariant(ch);
        }

        return table;
    }

    private static string CollapseAscii(string text)
    {
        var buffer = ArrayPool<char>.Shared.Rent(text.Length);
        try
        {
            var table = AsciiCollapseTable;
            var w = 0;
            foreach (var c in text)
            {
                var mapped = table[c];
                buffer[w] = (char)mapped;
                w += mapped == 0 ? 0 : 1;
            }

            return new string(buffer, 0, w);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// <c>text_clean</c>: NFKC, remove control characters (category C*) except newlines, turn every newline
    /// (CR LF counts as one) into "\n", keep at most one empty (or whitespace-only) line in a row, strip.
    /// </summary>
    public static string Clean(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var nfkc = ReplaceLoneSurrogates(text).Normalize(NormalizationForm.FormKC);
        var cleaned = new StringBuilder(nfkc.Length);
        var previousCr = false;
        foreach (var r in nfkc.EnumerateRunes())
        {
            var v = r.Value;
            if (IsNewline(v))
            {
                if (!(previousCr && v == '\n'))
                {
                    cleaned.Append('\n');
                }

                previousCr = v == '\r';
                continue;
            }

            previousCr = false;
            if (!IsOtherCategory(Rune.GetUnicodeCategory(r)))
            {
                cleaned.Append(r.ToString());
            }
        }

        var sb = new StringBuilder(cleaned.Length);
        var previousEmpty = false;
        var first = true;
        foreach (var line in cleaned.ToString().Split('\n'))
        {
            var empty = PythonStrip(line).Length == 0;
            if (empty && previousEmpty)
            {
                continue;
            }

            previousEmpty = empty;
            if (!first)
            {
                sb.Append('\n');
            }

            first = false;
            sb.Append(empty ? string.Empty : line);
        }

        return PythonStrip(sb.ToString());
    }

    /// <summary><c>text_remove_newlines</c>: <c>" ".join(text.split())</c> — one line, single spaces.</summary>
    public static string RemoveNewlines(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        var pendingSpace = false;
        foreach (var r in text.EnumerateRunes())
        {
            if (IsPythonWhitespace(r.Value))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }

            if (pendingSpace)
            {
                sb.Append(' ');
                pendingSpace = false;
            }

            sb.Append(r.ToString());
        }

        return sb.ToString();
    }

    /// <summary>
    /// <c>text_trim</c>: cut the UTF-8 encoding to <paramref name="maxBytes"/>, drop a partial trailing
    /// character, strip whitespace.
    /// </summary>
    public static string Trim(string text, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= maxBytes)
        {
            return PythonStrip(text);
        }

        var cut = maxBytes;
        // Back up to the start of the character that straddles the limit (a UTF-8 continuation byte is 10xxxxxx).
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        return PythonStrip(Encoding.UTF8.GetString(bytes, 0, cut));
    }

    /// <summary>Python <c>str.strip()</c> (whitespace as <see cref="IsPythonWhitespace"/>).</summary>
    public static string PythonStrip(string text)
    {
        var start = 0;
        var end = text.Length;
        while (start < end && IsPythonWhitespace(text[start]))
        {
            start++;
        }

        while (end > start && IsPythonWhitespace(text[end - 1]))
        {
            end--;
        }

        return start == 0 && end == text.Length ? text : text[start..end];
    }

    /// <summary>Number of code points (Python <c>len(str)</c>).</summary>
    public static int CodePointCount(string text)
    {
        var n = 0;
        foreach (var c in text)
        {
            if (!char.IsLowSurrogate(c))
            {
                n++;
            }
        }

        return n;
    }

    private static bool IsFilteredCategory(UnicodeCategory c) => c switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned => true,
        UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => true,
        UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => true,
        _ => false,
    };

    private static bool IsOtherCategory(UnicodeCategory c) =>
        c is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned;

    // Python unicodeobject.c handle_capital_sigma: Σ is final when preceded by a cased letter (skipping
    // case-ignorable code points) and not followed by one.
    private static bool FinalSigma(ReadOnlySpan<char> s, int index)
    {
        var j = index;
        var precededByCased = false;
        while (j > 0)
        {
            var r = RuneBefore(s, j);
            j -= r.Utf16SequenceLength;
            if (!IsCaseIgnorable(r))
            {
                precededByCased = IsCased(r);
                break;
            }
        }

        if (!precededByCased)
        {
            return false;
        }

        j = index + 1;
        while (j < s.Length)
        {
            Rune.DecodeFromUtf16(s[j..], out var r, out var consumed);
            j += consumed;
            if (!IsCaseIgnorable(r))
            {
                return !IsCased(r);
            }
        }

        return true;
    }

    private static Rune RuneBefore(ReadOnlySpan<char> s, int index) =>
        index >= 2 && char.IsSurrogatePair(s[index - 2], s[index - 1])
            ? new Rune(s[index - 2], s[index - 1])
            : Rune.TryCreate(s[index - 1], out var r) ? r : Rune.ReplacementChar;

    // Unicode Cased = Lu | Ll | Lt | Other_Lowercase | Other_Uppercase (common Other_* ranges listed).
    private static bool IsCased(Rune r)
    {
        var c = Rune.GetUnicodeCategory(r);
        if (c is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter)
        {
            return true;
        }

        var v = r.Value;
        return v is 0xAA or 0xBA or (>= 0x02B0 and <= 0x02B8) or 0x02C0 or 0x02C1 or (>= 0x02E0 and <= 0x02E4)
            or 0x0345 or 0x037A or (>= 0x1D2C and <= 0x1D6A) or 0x1D78 or (>= 0x1D9B and <= 0x1DBF) or 0x2071
            or 0x207F or (>= 0x2090 and <= 0x209C) or (>= 0x2160 and <= 0x217F) or (>= 0x24B6 and <= 0x24E9)
            or 0x2C7C or 0x2C7D or 0xA69C or 0xA69D or 0xA770 or 0xA7F8 or 0xA7F9 or (>= 0xAB5C and <= 0xAB5F)
            or (>= 0x1F130 and <= 0x1F149) or (>= 0x1F150 and <= 0x1F169) or (>= 0x1F170 and <= 0x1F189);
    }

    // Unicode Case_Ignorable = Mn | Me | Cf | Lm | Sk | Word_Break in {MidLetter, MidNumLet, Single_Quote}.
    private static bool IsCaseIgnorable(Rune r)
    {
        var c = Rune.GetUnicodeCategory(r);
        if (c is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol)
        {
            return true;
        }

        return r.Value is 0x27 or 0x2E or 0x3A or 0xB7 or 0x0387 or 0x055F or 0x05F4 or 0x2018 or 0x2019 or 0x2024
            or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A;
    }

    private static string RemoveLoneSurrogates(string text) => FixSurrogates(text, null);

    private static string ReplaceLoneSurrogates(string text) => FixSurrogates(text, '\uFFFD');

    private static string FixSurrogates(string text, char? replacement)
    {
        var bad = false;
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                bad = true;
                break;
            }
        }

        if (!bad)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(text[i]).Append(text[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                if (replacement is { } r)
                {
                    sb.Append(r);
                }
            }
            else
            {
                sb.Append(text[i]);
            }
        }

        return sb.ToString();
    }
}
