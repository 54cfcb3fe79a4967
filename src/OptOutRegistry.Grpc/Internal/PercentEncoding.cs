using System.Text;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>
/// The <c>grpc-message</c> encoding: UTF-8, then every byte outside %x20-%x7E and '%' itself as %XX with upper-case hex
/// (PROTOCOL-HTTP2.md "Responses": Percent-Byte-Unencoded = %x20-%x24 / %x26-%x7E).
/// </summary>
internal static class PercentEncoding
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static string Encode(string value)
    {
        var needs = false;
        foreach (var c in value)
        {
            if (c < 0x20 || c > 0x7E || c == '%')
            {
                needs = true;
                break;
            }
        }
        if (!needs)
        {
            return value;
        }
        // Unpaired surrogates become U+FFFD (EF BF BD) through the replacement fallback of UTF8Encoding.
        var bytes = s_utf8.GetBytes(value);
        var length = 0;
        foreach (var b in bytes)
        {
            length += b < 0x20 || b > 0x7E || b == '%' ? 3 : 1;
        }
        return string.Create(length, bytes, static (span, bytes) =>
        {
            const string hex = "0123456789ABCDEF";
            var i = 0;
            foreach (var b in bytes)
            {
                if (b < 0x20 || b > 0x7E || b == '%')
                {
                    span[i++] = '%';
                    span[i++] = hex[b >> 4];
                    span[i++] = hex[b & 0xF];
                }
                else
                {
                    span[i++] = (char)b;
                }
            }
        });
    }

    /// <summary>
    /// Decodes leniently: a malformed %-sequence is kept as it is (the spec says MUST NOT error or discard the message),
    /// and invalid UTF-8 becomes U+FFFD.
    /// </summary>
    public static string Decode(string value)
    {
        if (value.IndexOf('%') < 0)
        {
            return value;
        }
        var bytes = new byte[value.Length];
        var n = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                bytes[n++] = (byte)((HexValue(value[i + 1]) << 4) | HexValue(value[i + 2]));
                i += 2;
            }
            else if (c <= 0x7F)
            {
                bytes[n++] = (byte)c;
            }
            else
            {
                // Not valid on the wire; keep the character rather than drop it.
                var extra = s_utf8.GetBytes(c.ToString());
                if (n + extra.Length > bytes.Length)
                {
                    Array.Resize(ref bytes, bytes.Length + extra.Length + 16);
                }
                extra.CopyTo(bytes, n);
                n += extra.Length;
            }
        }
        return s_utf8.GetString(bytes, 0, n);
    }

    private static bool IsHex(char c) => c is (>= '0' and <= '9') or (>= 'a' and <= 'f') or (>= 'A' and <= 'F');

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
