using System.Globalization;
using System.Text;

namespace OptOutRegistry.Signals.StructuredFields;

/// <summary>
/// Serialises Structured Field values (RFC 9651 §4.1), refusing values that cannot be represented
/// (keys outside <c>lcalpha / "*"</c>, integers beyond 15 digits, non-printable strings…).
/// Used to write <c>Content-Usage</c> headers and to print parsed values canonically.
/// </summary>
public static class StructuredFieldSerializer
{
    /// <summary>Serialises a Dictionary (§4.1.2).</summary>
    public static bool TrySerializeDictionary(IEnumerable<KeyValuePair<string, SfMember>> members, out string value, out string? error)
    {
        var sb = new StringBuilder();
        var first = true;
        foreach (var (key, member) in members)
        {
            if (!first)
            {
                sb.Append(", ");
            }

            first = false;
            if (!Key(sb, key, out error))
            {
                value = string.Empty;
                return false;
            }

            var isTrue = !member.IsInnerList && member.Item!.Value is { Type: SfBareItemType.Boolean, Boolean: true };
            if (isTrue)
            {
                // §4.1.2 step 1.2: a true Boolean is written as the bare key with its parameters.
                if (!Parameters(sb, member.Parameters, out error))
                {
                    value = string.Empty;
                    return false;
                }
            }
            else
            {
                sb.Append('=');
                if (!Member(sb, member, out error))
                {
                    value = string.Empty;
                    return false;
                }
            }
        }

        value = sb.ToString();
        error = null;
        return true;
    }

    /// <summary>Serialises a List (§4.1.1).</summary>
    public static bool TrySerializeList(IEnumerable<SfMember> members, out string value, out string? error)
    {
        var sb = new StringBuilder();
        var first = true;
        foreach (var member in members)
        {
            if (!first)
            {
                sb.Append(", ");
            }

            first = false;
            if (!Member(sb, member, out error))
            {
                value = string.Empty;
                return false;
            }
        }

        value = sb.ToString();
        error = null;
        return true;
    }

    /// <summary>Serialises an Item (§4.1.3).</summary>
    public static bool TrySerializeItem(SfItem item, out string value, out string? error)
    {
        var sb = new StringBuilder();
        var ok = Item(sb, item, out error);
        value = ok ? sb.ToString() : string.Empty;
        return ok;
    }

    private static bool Member(StringBuilder sb, SfMember member, out string? error)
    {
        if (!member.IsInnerList)
        {
            return Item(sb, member.Item!, out error);
        }

        sb.Append('(');
        var first = true;
        foreach (var item in member.InnerList!)
        {
            if (!first)
            {
                sb.Append(' ');
            }

            first = false;
            if (!Item(sb, item, out error))
            {
                return false;
            }
        }

        sb.Append(')');
        return Parameters(sb, member.Parameters, out error);
    }

    private static bool Item(StringBuilder sb, SfItem item, out string? error) =>
        Bare(sb, item.Value, out error) && Parameters(sb, item.Parameters, out error);

    private static bool Parameters(StringBuilder sb, SfParameters parameters, out string? error)
    {
        foreach (var (key, value) in parameters.Entries)
        {
            sb.Append(';');
            if (!Key(sb, key, out error))
            {
                return false;
            }

            if (value is { Type: SfBareItemType.Boolean, Boolean: true })
            {
                continue;
            }

            sb.Append('=');
            if (!Bare(sb, value, out error))
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    private static bool Key(StringBuilder sb, string key, out string? error)
    {
        // §4.1.1.3: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
        if (key.Length == 0 || !(key[0] is (>= 'a' and <= 'z') or '*'))
        {
            error = "a key must start with a-z or '*'";
            return false;
        }

        foreach (var c in key)
        {
            if (!(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' or '.' or '*'))
            {
                error = $"invalid character U+{(int)c:X4} in key";
                return false;
            }
        }

        sb.Append(key);
        error = null;
        return true;
    }

    private static bool Bare(StringBuilder sb, SfBareItem item, out string? error)
    {
        error = null;
        switch (item.Type)
        {
            case SfBareItemType.Integer:
                if (item.Integer is > 999_999_999_999_999 or < -999_999_999_999_999)
                {
                    error = "integer out of range";
                    return false;
                }

                sb.Append(item.Integer.ToString(CultureInfo.InvariantCulture));
                return true;
            case SfBareItemType.Decimal:
                // §4.1.5: round to three fractional digits (half to even), at most 12 integer digits.
                var rounded = Math.Round(item.Decimal, 3, MidpointRounding.ToEven);
                if (Math.Abs(decimal.Truncate(rounded)) > 999_999_999_999m)
                {
                    error = "decimal out of range";
                    return false;
                }

                var text = rounded.ToString("0.0##", CultureInfo.InvariantCulture);
                sb.Append(text);
                return true;
            case SfBareItemType.String:
                sb.Append('"');
                foreach (var c in item.Text!)
                {
                    if (c is < (char)0x20 or > (char)0x7E)
                    {
                        error = "a string must be printable ASCII";
                        return false;
                    }

                    if (c is '"' or '\\')
                    {
                        sb.Append('\\');
                    }

                    sb.Append(c);
                }

                sb.Append('"');
                return true;
            case SfBareItemType.Token:
                var token = item.Text!;
                if (token.Length == 0 || !(char.IsAsciiLetter(token[0]) || token[0] == '*'))
                {
                    error = "a token must start with a letter or '*'";
                    return false;
                }

                foreach (var c in token)
                {
                    if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~:/".Contains(c)))
                    {
                        error = $"invalid character U+{(int)c:X4} in token";
                        return false;
                    }
                }

                sb.Append(token);
                return true;
            case SfBareItemType.ByteSequence:
                sb.Append(':').Append(Convert.ToBase64String(item.Bytes.Span)).Append(':');
                return true;
            case SfBareItemType.Boolean:
                sb.Append(item.Boolean ? "?1" : "?0");
                return true;
            case SfBareItemType.Date:
                if (item.Integer is > 999_999_999_999_999 or < -999_999_999_999_999)
                {
                    error = "date out of range";
                    return false;
                }

                sb.Append('@').Append(item.Integer.ToString(CultureInfo.InvariantCulture));
                return true;
            case SfBareItemType.DisplayString:
                sb.Append("%\"");
                foreach (var b in Encoding.UTF8.GetBytes(item.Text!))
                {
                    if (b is (byte)'%' or (byte)'"' or < 0x20 or > 0x7E)
                    {
                        sb.Append('%').Append(b.ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append((char)b);
                    }
                }

                sb.Append('"');
                return true;
            default:
                error = "unknown item type";
                return false;
        }
    }
}
