using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace OptOutRegistry.Core.Identifiers;

/// <summary>The standard work identifiers an <c>identifier</c> selector can name.</summary>
public enum IdentifierScheme : byte
{
    /// <summary>International Standard Book Number (ISO 2108), normalised to ISBN-13.</summary>
    Isbn,

    /// <summary>International Standard Serial Number (ISO 3297).</summary>
    Issn,

    /// <summary>International Standard Music Number (ISO 10957), normalised to the 13-digit 979-0 form.</summary>
    Ismn,

    /// <summary>International Standard Recording Code (ISO 3901).</summary>
    Isrc,

    /// <summary>International Standard Musical Work Code (ISO 15707).</summary>
    Iswc,

    /// <summary>International Standard Name Identifier (ISO 27729).</summary>
    Isni,

    /// <summary>Digital Object Identifier (ISO 26324).</summary>
    Doi,
}

/// <summary>
/// A validated, normalised standard identifier: <c>isbn:9780306406157</c>, <c>doi:10.1000/xyz</c>.
/// Construct through <see cref="TryParse"/> / <see cref="Parse"/>, which check the check digits and
/// bring every accepted spelling to one canonical <see cref="Value"/>.
/// </summary>
/// <param name="Scheme">The identifier system.</param>
/// <param name="Value">The canonical value without the scheme prefix.</param>
public readonly record struct StandardIdentifier(IdentifierScheme Scheme, string Value)
{
    /// <summary>The canonical text: the lower-case scheme name, a colon, the value (<c>isbn:9780306406157</c>).</summary>
    public override string ToString() => SchemeName(Scheme) + ":" + Value;

    /// <summary>The lower-case name used in the canonical text (<c>isbn</c>, <c>doi</c> …).</summary>
    public static string SchemeName(IdentifierScheme scheme) => scheme switch
    {
        IdentifierScheme.Isbn => "isbn",
        IdentifierScheme.Issn => "issn",
        IdentifierScheme.Ismn => "ismn",
        IdentifierScheme.Isrc => "isrc",
        IdentifierScheme.Iswc => "iswc",
        IdentifierScheme.Isni => "isni",
        IdentifierScheme.Doi => "doi",
        _ => throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "unknown identifier scheme"),
    };

    /// <summary>
    /// Parses an identifier written with its scheme: <c>isbn:978-0-306-40615-7</c>, <c>ISBN 0-306-40615-2</c>,
    /// <c>urn:isbn:…</c>, <c>issn:0378-5955</c>, <c>ISWC T-034.524.680-1</c>, and the DOI forms <c>doi:10.1000/xyz</c>,
    /// <c>https://doi.org/10.1000/xyz</c>, <c>http://dx.doi.org/…</c> or a bare <c>10.1000/xyz</c>.
    /// </summary>
    /// <param name="input">The text to parse.</param>
    /// <param name="id">The normalised identifier.</param>
    /// <param name="error">Why the input was refused (e.g. "ISBN check digit is 7, expected 8"), or null.</param>
    public static bool TryParse(string? input, out StandardIdentifier id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrWhiteSpace(input))
        {
            error = "identifier is empty";
            return false;
        }

        var text = input.Trim();
        if (TryStripDoiResolver(text, out var doi))
        {
            return TryParse(IdentifierScheme.Doi, doi, out id, out error);
        }

        if (text.StartsWith("urn:", StringComparison.OrdinalIgnoreCase))
        {
            text = text[4..];
        }

        if (text.StartsWith("10.", StringComparison.Ordinal))
        {
            return TryParse(IdentifierScheme.Doi, text, out id, out error);
        }

        // Scheme name, optionally "-10"/"-13" (ISBN-13: …), then ':' and/or whitespace.
        var nameEnd = 0;
        while (nameEnd < text.Length && char.IsAsciiLetter(text[nameEnd]))
        {
            nameEnd++;
        }

        if (!TryGetScheme(text.AsSpan(0, nameEnd), out var scheme))
        {
            error = $"unknown identifier scheme in '{Truncate(input)}': expected one of isbn, issn, ismn, isrc, iswc, isni, doi followed by ':'";
            return false;
        }

        var rest = text.AsSpan(nameEnd);
        if (scheme == IdentifierScheme.Isbn && (rest.StartsWith("-10") || rest.StartsWith("-13")))
        {
            rest = rest[3..];
        }

        var separatorSeen = false;
        while (!rest.IsEmpty && (rest[0] == ':' || char.IsWhiteSpace(rest[0])))
        {
            separatorSeen = true;
            rest = rest[1..];
        }

        if (!separatorSeen)
        {
            error = $"expected ':' after the scheme name '{text[..nameEnd]}'";
            return false;
        }

        return TryParse(scheme, rest.ToString(), out id, out error);
    }

    /// <summary>Parses <paramref name="value"/> as an identifier of <paramref name="scheme"/> (no scheme prefix).</summary>
    public static bool TryParse(IdentifierScheme scheme, string? value, out StandardIdentifier id, [NotNullWhen(false)] out string? error)
    {
        id = default;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = $"{SchemeName(scheme).ToUpperInvariant()} value is empty";
            return false;
        }

        if (value.Length > 1024)
        {
            error = $"{SchemeName(scheme).ToUpperInvariant()} value is longer than 1024 characters";
            return false;
        }

        string? normalized = scheme switch
        {
            IdentifierScheme.Isbn => IdentifierChecks.NormalizeIsbn(value, out error),
            IdentifierScheme.Issn => IdentifierChecks.NormalizeIssn(value, out error),
            IdentifierScheme.Ismn => IdentifierChecks.NormalizeIsmn(value, out error),
            IdentifierScheme.Isrc => IdentifierChecks.NormalizeIsrc(value, out error),
            IdentifierScheme.Iswc => IdentifierChecks.NormalizeIswc(value, out error),
            IdentifierScheme.Isni => IdentifierChecks.NormalizeIsni(value, out error),
            IdentifierScheme.Doi => IdentifierChecks.NormalizeDoi(value, out error),
            _ => throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "unknown identifier scheme"),
        };
        if (normalized is null)
        {
            error ??= "invalid identifier";
            return false;
        }

        id = new StandardIdentifier(scheme, normalized);
        error = null;
        return true;
    }

    /// <summary>Parses like <see cref="TryParse(string?, out StandardIdentifier, out string?)"/>.</summary>
    /// <exception cref="FormatException">The input is refused; the message gives the reason.</exception>
    public static StandardIdentifier Parse(string input) =>
        TryParse(input, out var id, out var error) ? id : throw new FormatException(error);

    private static bool TryGetScheme(ReadOnlySpan<char> name, out IdentifierScheme scheme)
    {
        Span<char> lower = stackalloc char[4];
        scheme = default;
        if (name.Length is < 3 or > 4)
        {
            return false;
        }

        name.ToLowerInvariant(lower);
        switch (lower[..name.Length])
        {
            case "isbn": scheme = IdentifierScheme.Isbn; return true;
            case "issn": scheme = IdentifierScheme.Issn; return true;
            case "ismn": scheme = IdentifierScheme.Ismn; return true;
            case "isrc": scheme = IdentifierScheme.Isrc; return true;
            case "iswc": scheme = IdentifierScheme.Iswc; return true;
            case "isni": scheme = IdentifierScheme.Isni; return true;
            case "doi": scheme = IdentifierScheme.Doi; return true;
            default: return false;
        }
    }

    /// <summary>Recognises the DOI resolver URL forms and returns the (percent-decoded) DOI.</summary>
    private static bool TryStripDoiResolver(string text, out string doi)
    {
        string[] prefixes = ["https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/", "doi.org/", "dx.doi.org/"];
        foreach (var prefix in prefixes)
        {
            if (text.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                // The DOI Handbook (§3.8) percent-encodes DOIs in URLs; the identifier is the decoded string.
                doi = Uri.UnescapeDataString(text[prefix.Length..]);
                return true;
            }
        }

        doi = string.Empty;
        return false;
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}

/// <summary>The check-digit algorithms and canonical forms of each identifier system.</summary>
internal static class IdentifierChecks
{
    /// <summary>ISBN-10 (mod 11, weights 10..1, X = 10) or ISBN-13 (EAN-13); ISBN-10 is converted to 978-prefixed ISBN-13.</summary>
    public static string? NormalizeIsbn(string value, out string? error)
    {
        if (!TryCompact(value, "ISBN", allowXAtEnd: true, out var digits, out error))
        {
            return null;
        }

        if (digits.Length == 10)
        {
            var sum = 0;
            for (var i = 0; i < 9; i++)
            {
                sum += (10 - i) * (digits[i] - '0');
            }

            var expected = (11 - (sum % 11)) % 11;
            var actual = digits[9] == 'X' ? 10 : digits[9] - '0';
            if (actual != expected)
            {
                error = $"ISBN-10 check digit is {CheckChar(actual)}, expected {CheckChar(expected)}";
                return null;
            }

            var isbn13 = "978" + digits[..9];
            return isbn13 + (char)('0' + Ean13CheckDigit(isbn13));
        }

        if (digits.Length == 13)
        {
            if (digits.Contains('X'))
            {
                error = "ISBN-13 cannot contain X";
                return null;
            }

            if (!digits.StartsWith("978", StringComparison.Ordinal) && !digits.StartsWith("979", StringComparison.Ordinal))
            {
                error = $"ISBN-13 must start with 978 or 979, got {digits[..3]}";
                return null;
            }

            if (digits.StartsWith("9790", StringComparison.Ordinal))
            {
                error = "979-0 is the ISMN prefix, not an ISBN: use ismn:";
                return null;
            }

            return CheckEan13(digits, "ISBN", out error) ? digits : null;
        }

        error = $"ISBN must have 10 or 13 digits, got {digits.Length}";
        return null;
    }

    /// <summary>ISSN: 7 digits and a mod-11 check character (weights 8..2, X = 10); canonical form NNNN-NNNC.</summary>
    public static string? NormalizeIssn(string value, out string? error)
    {
        if (!TryCompact(value, "ISSN", allowXAtEnd: true, out var digits, out error))
        {
            return null;
        }

        if (digits.Length != 8)
        {
            error = $"ISSN must have 8 characters (7 digits and a check digit), got {digits.Length}";
            return null;
        }

        var sum = 0;
        for (var i = 0; i < 7; i++)
        {
            sum += (8 - i) * (digits[i] - '0');
        }

        var expected = (11 - (sum % 11)) % 11;
        var actual = digits[7] == 'X' ? 10 : digits[7] - '0';
        if (actual != expected)
        {
            error = $"ISSN check digit is {CheckChar(actual)}, expected {CheckChar(expected)}";
            return null;
        }

        return digits[..4] + "-" + digits[4..];
    }

    /// <summary>ISMN: 13 digits starting 979-0 (EAN-13 check), or the pre-2008 form M-NNNN-NNNN-C (converted).</summary>
    public static string? NormalizeIsmn(string value, out string? error)
    {
        var trimmed = value.Trim();
        if (trimmed.Length > 0 && (trimmed[0] is 'M' or 'm'))
        {
            // ISO 10957:2009: M-xxxx-xxxx-c becomes 979-0-xxxx-xxxx-c with the same check digit.
            if (!TryCompact(trimmed[1..], "ISMN", allowXAtEnd: false, out var tail, out error))
            {
                return null;
            }

            if (tail.Length != 9)
            {
                error = $"ISMN in the M- form must have 9 digits after M, got {tail.Length}";
                return null;
            }

            var converted = "9790" + tail;
            return CheckEan13(converted, "ISMN", out error) ? converted : null;
        }

        if (!TryCompact(trimmed, "ISMN", allowXAtEnd: false, out var digits, out error))
        {
            return null;
        }

        if (digits.Length != 13)
        {
            error = $"ISMN must have 13 digits, got {digits.Length}";
            return null;
        }

        if (!digits.StartsWith("9790", StringComparison.Ordinal))
        {
            error = $"ISMN must start with 979-0, got {digits[..3]}-{digits[3]}";
            return null;
        }

        return CheckEan13(digits, "ISMN", out error) ? digits : null;
    }

    /// <summary>ISRC: CC-XXX-YY-NNNNN (country letters, registrant alphanumerics, year digits, designation digits); upper-case, no hyphens.</summary>
    public static string? NormalizeIsrc(string value, out string? error)
    {
        var sb = new StringBuilder(12);
        foreach (var c in value)
        {
            if (c is '-' or ' ')
            {
                continue;
            }

            if (!char.IsAsciiLetterOrDigit(c))
            {
                error = $"ISRC contains '{c}', which is not a letter, digit or hyphen";
                return null;
            }

            sb.Append(char.ToUpperInvariant(c));
        }

        var code = sb.ToString();
        if (code.Length != 12)
        {
            error = $"ISRC must have 12 characters (CC-XXX-YY-NNNNN), got {code.Length}";
            return null;
        }

        if (!char.IsAsciiLetter(code[0]) || !char.IsAsciiLetter(code[1]))
        {
            error = $"ISRC must start with a two-letter country code, got '{code[..2]}'";
            return null;
        }

        for (var i = 5; i < 12; i++)
        {
            if (!char.IsAsciiDigit(code[i]))
            {
                error = $"ISRC year and designation (characters 6-12) must be digits, got '{code[5..]}'";
                return null;
            }
        }

        error = null;
        return code;
    }

    /// <summary>ISWC: T, nine digits and a check digit (1 + Σ i·dᵢ, check = (10 − sum mod 10) mod 10); canonical T + 10 digits.</summary>
    public static string? NormalizeIswc(string value, out string? error)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0 || (trimmed[0] is not ('T' or 't')))
        {
            error = "ISWC must start with T (T-123.456.789-C)";
            return null;
        }

        var sb = new StringBuilder(10);
        foreach (var c in trimmed.AsSpan(1))
        {
            if (c is '-' or '.' or ' ')
            {
                continue;
            }

            if (!char.IsAsciiDigit(c))
            {
                error = $"ISWC contains '{c}', which is not a digit";
                return null;
            }

            sb.Append(c);
        }

        var digits = sb.ToString();
        if (digits.Length != 10)
        {
            error = $"ISWC must have 10 digits after T (9 and a check digit), got {digits.Length}";
            return null;
        }

        var sum = 1;
        for (var i = 0; i < 9; i++)
        {
            sum += (i + 1) * (digits[i] - '0');
        }

        var expected = (10 - (sum % 10)) % 10;
        var actual = digits[9] - '0';
        if (actual != expected)
        {
            error = $"ISWC check digit is {actual}, expected {expected}";
            return null;
        }

        error = null;
        return "T" + digits;
    }

    /// <summary>ISNI: 15 digits and an ISO 7064 MOD 11-2 check character (X = 10); canonical 16 characters, no spaces.</summary>
    public static string? NormalizeIsni(string value, out string? error)
    {
        var v = value.Trim();
        foreach (var prefix in (ReadOnlySpan<string>)["https://isni.org/isni/", "http://isni.org/isni/", "isni.org/isni/"])
        {
            if (v.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                v = v[prefix.Length..];
                break;
            }
        }

        if (!TryCompact(v, "ISNI", allowXAtEnd: true, out var digits, out error))
        {
            return null;
        }

        if (digits.Length != 16)
        {
            error = $"ISNI must have 16 characters (15 digits and a check character), got {digits.Length}";
            return null;
        }

        var p = 0;
        for (var i = 0; i < 15; i++)
        {
            p = ((p + (digits[i] - '0')) * 2) % 11;
        }

        var expected = (12 - p) % 11;
        var actual = digits[15] == 'X' ? 10 : digits[15] - '0';
        if (actual != expected)
        {
            error = $"ISNI check character is {CheckChar(actual)}, expected {CheckChar(expected)}";
            return null;
        }

        return digits;
    }

    /// <summary>DOI: <c>10.</c>, a registrant code of digits and dots, <c>/</c>, a non-empty suffix; case-insensitive (ISO 26324), stored lower-case.</summary>
    public static string? NormalizeDoi(string value, out string? error)
    {
        var v = value.Trim();
        if (v.StartsWith("doi:", StringComparison.OrdinalIgnoreCase))
        {
            v = v[4..].TrimStart();
        }

        if (!v.StartsWith("10.", StringComparison.Ordinal))
        {
            error = "DOI must start with the directory indicator 10. (e.g. 10.1000/xyz)";
            return null;
        }

        var slash = v.IndexOf('/');
        if (slash < 0)
        {
            error = "DOI must have a '/' between prefix and suffix (10.1000/xyz)";
            return null;
        }

        var registrant = v.AsSpan(3, slash - 3);
        if (registrant.IsEmpty || registrant[0] == '.' || registrant[^1] == '.' || registrant.ContainsAnyExcept("0123456789."))
        {
            error = $"DOI registrant code '{registrant}' must be digits, optionally separated by dots";
            return null;
        }

        var suffix = v.AsSpan(slash + 1);
        if (suffix.IsEmpty)
        {
            error = "DOI suffix after '/' is empty";
            return null;
        }

        foreach (var c in suffix)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c))
            {
                error = $"DOI suffix contains a control or whitespace character (U+{(int)c:X4})";
                return null;
            }
        }

        error = null;
        return v.ToLowerInvariant();
    }

    /// <summary>Removes hyphens and spaces; refuses any other non-digit (except a final X when allowed).</summary>
    private static bool TryCompact(string value, string name, bool allowXAtEnd, out string digits, out string? error)
    {
        var sb = new StringBuilder(value.Length);
        var trimmed = value.AsSpan().Trim();
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (c is '-' or ' ' or '\u2010' or '\u2011')
            {
                continue;
            }

            if (char.IsAsciiDigit(c))
            {
                sb.Append(c);
            }
            else if (allowXAtEnd && (c is 'X' or 'x') && i == trimmed.Length - 1)
            {
                sb.Append('X');
            }
            else
            {
                digits = string.Empty;
                error = $"{name} contains '{c}', which is not a digit{(allowXAtEnd ? " (only the last character may be X)" : string.Empty)}";
                return false;
            }
        }

        digits = sb.ToString();
        error = null;
        if (digits.Length == 0)
        {
            error = $"{name} has no digits";
            return false;
        }

        return true;
    }

    private static int Ean13CheckDigit(ReadOnlySpan<char> first12)
    {
        var sum = 0;
        for (var i = 0; i < 12; i++)
        {
            sum += (first12[i] - '0') * ((i & 1) == 0 ? 1 : 3);
        }

        return (10 - (sum % 10)) % 10;
    }

    private static bool CheckEan13(string digits, string name, out string? error)
    {
        var expected = Ean13CheckDigit(digits);
        var actual = digits[12] - '0';
        if (actual != expected)
        {
            error = $"{name} check digit is {actual}, expected {expected}";
            return false;
        }

        error = null;
        return true;
    }

    private static string CheckChar(int value) => value == 10 ? "X" : value.ToString(CultureInfo.InvariantCulture);
}
