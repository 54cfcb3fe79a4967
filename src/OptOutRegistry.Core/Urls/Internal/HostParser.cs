using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>The WHATWG URL standard's host parser (§3.5) for special URLs, writing the serialised host.</summary>
[SkipLocalsInit]
internal static class HostParser
{
    /// <summary>Forbidden domain code points (§3.2) that can appear after IDNA: forbidden host code points, C0 controls, % and DEL.</summary>
    private static readonly SearchValues<char> s_forbiddenDomain = SearchValues.Create(
        "\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000B\f\r\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017"
        + "\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F #%/:<>?@[\\]^|\u007F");

    /// <summary>Parses <paramref name="input"/> (non-empty) as a special URL's host and appends its serialisation.</summary>
    public static UrlError Parse(scoped ReadOnlySpan<char> input, ref CharBuffer destination)
    {
        if (input.Length > 0 && input[0] == '[')
        {
            if (input.Length < 2 || input[^1] != ']')
            {
                return UrlError.InvalidIpv6Address;
            }

            Span<ushort> pieces = stackalloc ushort[8];
            if (!Ipv6.TryParse(input[1..^1], pieces))
            {
                return UrlError.InvalidIpv6Address;
            }

            destination.Append('[');
            Ipv6.Serialize(pieces, ref destination);
            destination.Append(']');
            return UrlError.None;
        }

        if (input.IndexOf('%') < 0)
        {
            return ParseDomain(input, ref destination);
        }

        // "Let domain be the result of running UTF-8 decode without BOM on the percent-decoding of input."
        byte[]? rentedBytes = null;
        char[]? rentedChars = null;
        try
        {
            var maxBytes = input.Length * 3;
            Span<byte> bytes = maxBytes <= 384 ? stackalloc byte[384] : (rentedBytes = ArrayPool<byte>.Shared.Rent(maxBytes));
            var n = PercentDecode(input, bytes);
            var decoded = bytes[..n];
            if (!Utf8.IsValid(decoded))
            {
                return UrlError.InvalidPercentEncoding;
            }

            Span<char> chars = n <= 256 ? stackalloc char[256] : (rentedChars = ArrayPool<char>.Shared.Rent(n));
            var charCount = Encoding.UTF8.GetChars(decoded, chars);
            return ParseDomain(chars[..charCount], ref destination);
        }
        finally
        {
            if (rentedBytes is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedBytes);
            }

            if (rentedChars is not null)
            {
                ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    /// <summary>Domain to ASCII (§3.3), the forbidden-code-point check, then the IPv4 parser when the domain ends in a number.</summary>
    private static UrlError ParseDomain(scoped ReadOnlySpan<char> domain, ref CharBuffer destination)
    {
        var start = destination.Length;

        // §3.3 "domain to ASCII", step 1 (2025 revision, pinned by wpt toascii.json: "xn--a" and "xn--zn7c.com" pass
        // unchanged): an ASCII domain is only lower-cased; UTS #46 runs only when it has non-ASCII code points.
        if (Ascii.IsValid(domain))
        {
            destination.AppendAsciiLower(domain);
        }
        else if (!Idna.TryToAscii(domain, ref destination))
        {
            return UrlError.InvalidHost;
        }

        var ascii = destination.Written[start..];
        if (ascii.IsEmpty)
        {
            return UrlError.InvalidHost;
        }

        if (ascii.IndexOfAny(s_forbiddenDomain) >= 0)
        {
            return UrlError.InvalidCharacter;
        }

        if (!EndsInANumber(ascii))
        {
            return UrlError.None;
        }

        if (!Ipv4.TryParse(ascii, out var address))
        {
            destination.Truncate(start);
            return UrlError.InvalidIpv4Address;
        }

        destination.Truncate(start);
        Ipv4.Serialize(address, ref destination);
        return UrlError.None;
    }

    /// <summary>The "ends in a number checker" (§3.5).</summary>
    internal static bool EndsInANumber(ReadOnlySpan<char> domain)
    {
        if (domain.Length > 1 && domain[^1] == '.')
        {
            domain = domain[..^1];
        }

        var last = domain[(domain.LastIndexOf('.') + 1)..];
        if (last.IsEmpty)
        {
            return false;
        }

        // A plain loop: MemoryExtensions.ContainsAnyExceptInRange allocates on .NET 10 (measured 96 B/call).
        var allDigits = true;
        foreach (var c in last)
        {
            if (!char.IsAsciiDigit(c))
            {
                allDigits = false;
                break;
            }
        }

        if (allDigits)
        {
            return true;
        }

        return Ipv4.TryParseNumber(last, out _);
    }

    private static int PercentDecode(ReadOnlySpan<char> input, Span<byte> bytes)
    {
        var n = 0;
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (c == '%' && i + 2 < input.Length && PercentEncoding.IsHex(input[i + 1]) && PercentEncoding.IsHex(input[i + 2]))
            {
                bytes[n++] = (byte)((PercentEncoding.HexValue(input[i + 1]) << 4) | PercentEncoding.HexValue(input[i + 2]));
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes[n++] = (byte)c;
            }
            else
            {
                if (Rune.DecodeFromUtf16(input[i..], out var rune, out var consumed) != OperationStatus.Done)
                {
                    rune = Rune.ReplacementChar;
                    consumed = 1;
                }

                n += rune.EncodeToUtf8(bytes[n..]);
                i += consumed - 1;
            }
        }

        return n;
    }
}

/// <summary>The IPv4 parser and serializer of the URL standard (§3.5, §3.6).</summary>
[SkipLocalsInit]
internal static class Ipv4
{
    public static bool TryParse(ReadOnlySpan<char> input, out uint address)
    {
        address = 0;
        if (input.Length > 0 && input[^1] == '.' && input.Length > 1)
        {
            input = input[..^1];
        }

        Span<ulong> numbers = stackalloc ulong[4];
        var count = 0;
        while (true)
        {
            var dot = input.IndexOf('.');
            var part = dot < 0 ? input : input[..dot];
            if (count == 4 || !TryParseNumber(part, out var value))
            {
                return false;
            }

            numbers[count++] = value;
            if (dot < 0)
            {
                break;
            }

            input = input[(dot + 1)..];
        }

        for (var i = 0; i < count - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return false;
            }
        }

        var lastLimit = 1UL << (8 * (5 - count));
        if (numbers[count - 1] >= lastLimit)
        {
            return false;
        }

        var result = numbers[count - 1];
        for (var i = 0; i < count - 1; i++)
        {
            result += numbers[i] << (8 * (3 - i));
        }

        address = (uint)result;
        return true;
    }

    /// <summary>The IPv4 number parser: decimal, <c>0x</c> hex or leading-zero octal; values saturate above 2^40.</summary>
    public static bool TryParseNumber(ReadOnlySpan<char> input, out ulong value)
    {
        value = 0;
        if (input.IsEmpty)
        {
            return false;
        }

        var radix = 10;
        if (input.Length >= 2 && input[0] == '0' && (input[1] | 0x20) == 'x')
        {
            input = input[2..];
            radix = 16;
        }
        else if (input.Length >= 2 && input[0] == '0')
        {
            input = input[1..];
            radix = 8;
        }

        foreach (var c in input)
        {
            int digit;
            if (c >= '0' && c <= '9')
            {
                digit = c - '0';
            }
            else if (radix == 16 && char.IsAsciiHexDigit(c))
            {
                digit = (c | 0x20) - 'a' + 10;
            }
            else
            {
                return false;
            }

            if (digit >= radix)
            {
                return false;
            }

            value = Math.Min((value * (ulong)radix) + (ulong)digit, 1UL << 40);
        }

        return true;
    }

    public static void Serialize(uint address, ref CharBuffer destination)
    {
        for (var i = 3; i >= 0; i--)
        {
            destination.AppendNumber((address >> (8 * i)) & 0xFF);
            if (i > 0)
            {
                destination.Append('.');
            }
        }
    }
}

/// <summary>The IPv6 parser and serializer of the URL standard (§3.5, §3.6).</summary>
[SkipLocalsInit]
internal static class Ipv6
{
    public static bool TryParse(ReadOnlySpan<char> input, Span<ushort> address)
    {
        address.Clear();
        var pieceIndex = 0;
        var compress = -1;
        var p = 0;
        if (p < input.Length && input[p] == ':')
        {
            if (input.Length < 2 || input[1] != ':')
            {
                return false;
            }

            p += 2;
            pieceIndex++;
            compress = pieceIndex;
        }

        while (p < input.Length)
        {
            if (pieceIndex == 8)
            {
                return false;
            }

            if (input[p] == ':')
            {
                if (compress != -1)
                {
                    return false;
                }

                p++;
                pieceIndex++;
                compress = pieceIndex;
                continue;
            }

            var value = 0;
            var length = 0;
            while (length < 4 && p < input.Length && char.IsAsciiHexDigit(input[p]))
            {
                value = (value * 0x10) + PercentEncoding.HexValue(input[p]);
                p++;
                length++;
            }

            if (p < input.Length && input[p] == '.')
            {
                if (length == 0)
                {
                    return false;
                }

                p -= length;
                if (pieceIndex > 6)
                {
                    return false;
                }

                var numbersSeen = 0;
                while (p < input.Length)
                {
                    var ipv4Piece = -1;
                    if (numbersSeen > 0)
                    {
                        if (input[p] == '.' && numbersSeen < 4)
                        {
                            p++;
                        }
                        else
                        {
                            return false;
                        }
                    }

                    if (p >= input.Length || !char.IsAsciiDigit(input[p]))
                    {
                        return false;
                    }

                    while (p < input.Length && char.IsAsciiDigit(input[p]))
                    {
                        var number = input[p] - '0';
                        if (ipv4Piece == -1)
                        {
                            ipv4Piece = number;
                        }
                        else if (ipv4Piece == 0)
                        {
                            return false;
                        }
                        else
                        {
                            ipv4Piece = (ipv4Piece * 10) + number;
                        }

                        if (ipv4Piece > 255)
                        {
                            return false;
                        }

                        p++;
                    }

                    address[pieceIndex] = (ushort)((address[pieceIndex] * 0x100) + ipv4Piece);
                    numbersSeen++;
                    if (numbersSeen == 2 || numbersSeen == 4)
                    {
                        pieceIndex++;
                    }
                }

                if (numbersSeen != 4)
                {
                    return false;
                }

                break;
            }
            else if (p < input.Length && input[p] == ':')
            {
                p++;
                if (p >= input.Length)
                {
                    return false;
                }
            }
            else if (p < input.Length)
            {
                return false;
            }

            address[pieceIndex] = (ushort)value;
            pieceIndex++;
        }

        if (compress != -1)
        {
            var swaps = pieceIndex - compress;
            pieceIndex = 7;
            while (pieceIndex != 0 && swaps > 0)
            {
                (address[pieceIndex], address[compress + swaps - 1]) = (address[compress + swaps - 1], address[pieceIndex]);
                pieceIndex--;
                swaps--;
            }
        }
        else if (pieceIndex != 8)
        {
            return false;
        }

        return true;
    }

    public static void Serialize(scoped ReadOnlySpan<ushort> address, ref CharBuffer destination)
    {
        // Compress the first longest run of two or more zero pieces.
        int compress = -1, bestLength = 1;
        for (var i = 0; i < 8;)
        {
            if (address[i] != 0)
            {
                i++;
                continue;
            }

            var j = i;
            while (j < 8 && address[j] == 0)
            {
                j++;
            }

            if (j - i > bestLength)
            {
                bestLength = j - i;
                compress = i;
            }

            i = j;
        }

        var ignore0 = false;
        Span<char> hex = stackalloc char[4];
        for (var i = 0; i < 8; i++)
        {
            if (ignore0 && address[i] == 0)
            {
                continue;
            }

            ignore0 = false;
            if (compress == i)
            {
                destination.Append(i == 0 ? "::" : ":");
                ignore0 = true;
                continue;
            }

            address[i].TryFormat(hex, out var n, "x", System.Globalization.CultureInfo.InvariantCulture);
            destination.Append(hex[..n]);
            if (i != 7)
            {
                destination.Append(':');
            }
        }
    }
}
