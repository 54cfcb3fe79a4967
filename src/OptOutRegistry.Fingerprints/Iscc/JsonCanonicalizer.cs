using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// RFC 8785 JSON Canonicalization Scheme (JCS), used by Meta-Code for structured metadata:
/// object members sorted by their UTF-16 code units (§3.2.3), no whitespace, strings escaped minimally
/// (§3.2.2.2), numbers as ECMAScript <c>Number.prototype.toString</c> of the IEEE-754 double (§3.2.2.3).
/// </summary>
public static class JsonCanonicalizer
{
    /// <summary>Maximum nesting accepted; deeper input is rejected rather than recursing without bound.</summary>
    public const int MaxDepth = 64;

    /// <summary>Returns the canonical UTF-8 bytes of <paramref name="element"/>.</summary>
    /// <exception cref="FormatException">A number is not finite, nesting exceeds <see cref="MaxDepth"/>, or a string is not valid Unicode.</exception>
    public static byte[] Canonicalize(JsonElement element)
    {
        var sb = new StringBuilder();
        try
        {
            Write(element, sb, 0);
        }
        catch (InvalidOperationException ex)
        {
            // JsonDocument.Parse checks the structure only; reading a string that is not valid UTF-8 or holds an unpaired
            // surrogate escape such as "\ud800" throws InvalidOperationException (RFC 8259 §8.1, §8.2).
            throw new FormatException($"meta: a string is not valid Unicode (invalid UTF-8 or an unpaired surrogate escape): {ex.Message}", ex);
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void Write(JsonElement e, StringBuilder sb, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new FormatException($"meta: JSON nesting deeper than {MaxDepth} levels.");
        }

        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = new List<(string Name, JsonElement Value)>();
                foreach (var p in e.EnumerateObject())
                {
                    members.Add((p.Name, p.Value));
                }

                members.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                sb.Append('{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    WriteString(members[i].Name, sb);
                    sb.Append(':');
                    Write(members[i].Value, sb, depth + 1);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    Write(item, sb, depth + 1);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(e.GetString()!, sb);
                break;
            case JsonValueKind.Number:
                sb.Append(FormatNumber(e.GetDouble()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            case JsonValueKind.Null:
                sb.Append("null");
                break;
            default:
                throw new FormatException($"meta: unsupported JSON value kind {e.ValueKind}.");
        }
    }

    private static void WriteString(string s, StringBuilder sb)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    /// <summary>ECMAScript Number::toString (ECMA-262 §6.1.6.1.20) for a finite double.</summary>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new FormatException("meta: NaN and Infinity cannot be represented in JSON.");
        }

        if (value == 0)
        {
            return "0"; // also -0
        }

        // "R" gives the shortest round-tripping digits; take them apart into digits and exponent.
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int exponent; // value = 0.d1d2... * 10^exponent  (ECMA's n)
        var ePos = shortest.IndexOfAny(['E', 'e']);
        var mantissa = ePos >= 0 ? shortest[..ePos] : shortest;
        var exp10 = ePos >= 0 ? int.Parse(shortest[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        var dot = mantissa.IndexOf('.');
        var intPart = dot >= 0 ? mantissa[..dot] : mantissa;
        var fracPart = dot >= 0 ? mantissa[(dot + 1)..] : string.Empty;
        var all = (intPart + fracPart).TrimStart('0');
        var leadingZerosRemoved = (intPart + fracPart).Length - all.Length;
        digits = all.TrimEnd('0');
        exponent = intPart.Length - leadingZerosRemoved + exp10;
        if (digits.Length == 0)
        {
            return "0";
        }

        var k = digits.Length;
        var n = exponent;
        var sb = new StringBuilder();
        if (value < 0)
        {
            sb.Append('-');
        }

        if (k <= n && n <= 21)
        {
            sb.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            sb.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            sb.Append(digits[0]);
            if (k > 1)
            {
                sb.Append('.').Append(digits, 1, k - 1);
            }

            sb.Append('e').Append(n - 1 >= 0 ? "+" : "-").Append(Math.Abs(n - 1).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
