using System.Diagnostics.CodeAnalysis;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Low-level ISCC codec: RFC 4648 base32 without padding and the varnibble header
/// (iscc-core <c>codec.py</c>: encode_component, encode_header, encode_varnibble, encode_length).
/// </summary>
public static class IsccCodec
{
    /// <summary>The scheme prefix of a canonical ISCC string.</summary>
    public const string Prefix = "ISCC:";

    private const string Base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// <summary>
    /// Encodes one ISCC unit: header (MainType, SubType, Version, length) + the first
    /// <paramref name="bitLength"/>/8 bytes of <paramref name="digest"/>, as base32 without the "ISCC:" prefix.
    /// </summary>
    /// <exception cref="ArgumentException">The bit length is not a multiple of 32 in 32..256, or the digest is too short.</exception>
    public static string EncodeUnit(IsccMainType mainType, byte subType, byte version, int bitLength, ReadOnlySpan<byte> digest)
    {
        if (mainType is IsccMainType.Iscc or IsccMainType.Id)
        {
            throw new ArgumentException($"mainType: {mainType} is not a plain unit.", nameof(mainType));
        }

        // codec.encode_length: "Length is encoded as the multiple of 32-bit chunks (0 being 32bits)".
        if (bitLength < 32 || bitLength > 256 || bitLength % 32 != 0)
        {
            throw new ArgumentException($"bits: must be a multiple of 32 between 32 and 256, got {bitLength}.", nameof(bitLength));
        }

        var bodyLength = bitLength / 8;
        if (digest.Length < bodyLength)
        {
            throw new ArgumentException($"digest: {digest.Length} bytes is shorter than the {bodyLength} bytes requested.", nameof(digest));
        }

        Span<byte> buffer = stackalloc byte[8 + 32];
        var headerLength = EncodeHeader((byte)mainType, subType, version, (bitLength / 32) - 1, buffer);
        digest[..bodyLength].CopyTo(buffer[headerLength..]);
        return EncodeBase32(buffer[..(headerLength + bodyLength)]);
    }

    /// <summary>Writes the varnibble header and returns its length in bytes (padded to whole bytes).</summary>
    internal static int EncodeHeader(int mainType, int subType, int version, int length, Span<byte> destination)
    {
        ulong bits = 0;
        var bitCount = 0;
        AppendVarnibble(mainType, ref bits, ref bitCount);
        AppendVarnibble(subType, ref bits, ref bitCount);
        AppendVarnibble(version, ref bits, ref bitCount);
        AppendVarnibble(length, ref bits, ref bitCount);
        var byteCount = (bitCount + 7) / 8;
        bits <<= (byteCount * 8) - bitCount;
        for (var i = 0; i < byteCount; i++)
        {
            destination[i] = (byte)(bits >> (8 * (byteCount - 1 - i)));
        }

        return byteCount;
    }

    // codec.encode_varnibble: prefixes 0 / 10 / 110 / 1110 for 0-7 / 8-71 / 72-583 / 584-4679.
    private static void AppendVarnibble(int n, ref ulong bits, ref int bitCount)
    {
        switch (n)
        {
            case >= 0 and < 8:
                bits = (bits << 4) | (uint)n;
                bitCount += 4;
                break;
            case >= 8 and < 72:
                bits = (bits << 8) | 0b1000_0000u | (uint)(n - 8);
                bitCount += 8;
                break;
            case >= 72 and < 584:
                bits = (bits << 12) | 0b1100_0000_0000u | (uint)(n - 72);
                bitCount += 12;
                break;
            case >= 584 and < 4680:
                bits = (bits << 16) | 0b1110_0000_0000_0000u | (uint)(n - 584);
                bitCount += 16;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(n), n, "header value: must be between 0 and 4679.");
        }
    }

    /// <summary>
    /// Reads the four header fields from <paramref name="data"/>. Returns false with a reason on malformed input.
    /// </summary>
    internal static bool TryDecodeHeader(
        ReadOnlySpan<byte> data, out int mainType, out int subType, out int version, out int length, out int headerBytes, [NotNullWhen(false)] out string? error)
    {
        mainType = subType = version = length = headerBytes = 0;
        var bitPos = 0;
        var totalBits = data.Length * 8;
        Span<int> values = stackalloc int[4];
        for (var f = 0; f < 4; f++)
        {
            if (!TryReadVarnibble(data, totalBits, ref bitPos, out values[f]))
            {
                error = $"header: {FieldName(f)} is not a valid varnibble (truncated or more than 16 bits)";
                return false;
            }
        }

        // codec.decode_header: strip the 4-bit zero padding when the header ends mid-byte.
        if (bitPos % 8 != 0)
        {
            if (ReadBits(data, bitPos, 4) != 0)
            {
                error = "header: padding nibble after the length field is not zero";
                return false;
            }

            bitPos += 4;
        }

        (mainType, subType, version, length) = (values[0], values[1], values[2], values[3]);
        headerBytes = bitPos / 8;
        error = null;
        return true;
    }

    private static string FieldName(int f) => f switch { 0 => "MainType", 1 => "SubType", 2 => "Version", _ => "Length" };

    private static bool TryReadVarnibble(ReadOnlySpan<byte> data, int totalBits, ref int bitPos, out int value)
    {
        value = 0;
        for (var prefix = 0; prefix < 4; prefix++)
        {
            var nibbles = prefix + 1;
            if (bitPos + (nibbles * 4) > totalBits)
            {
                return false;
            }

            if (ReadBits(data, bitPos + prefix, 1) == 0)
            {
                var dataBits = (nibbles * 4) - prefix - 1;
                var offset = prefix switch { 0 => 0, 1 => 8, 2 => 72, _ => 584 };
                value = (int)ReadBits(data, bitPos + prefix + 1, dataBits) + offset;
                bitPos += nibbles * 4;
                return true;
            }
        }

        return false;
    }

    private static uint ReadBits(ReadOnlySpan<byte> data, int bitPos, int count)
    {
        uint v = 0;
        for (var i = 0; i < count; i++)
        {
            var p = bitPos + i;
            v = (v << 1) | (uint)((data[p >> 3] >> (7 - (p & 7))) & 1);
        }

        return v;
    }

    /// <summary>RFC 4648 §6 base32 (upper case) without padding.</summary>
    public static string EncodeBase32(ReadOnlySpan<byte> data)
    {
        var length = ((data.Length * 8) + 4) / 5;
        return string.Create(length, data.ToArray(), static (chars, bytes) =>
        {
            var buffer = 0;
            var bits = 0;
            var o = 0;
            foreach (var b in bytes)
            {
                buffer = (buffer << 8) | b;
                bits += 8;
                while (bits >= 5)
                {
                    bits -= 5;
                    chars[o++] = Base32Alphabet[(buffer >> bits) & 31];
                }
            }

            if (bits > 0)
            {
                chars[o] = Base32Alphabet[(buffer << (5 - bits)) & 31];
            }
        });
    }

    /// <summary>
    /// Decodes RFC 4648 base32 without padding, case-insensitively. Rejects characters outside the alphabet,
    /// impossible lengths and non-zero trailing bits (so every byte string has exactly one accepted spelling).
    /// </summary>
    public static bool TryDecodeBase32(ReadOnlySpan<char> text, out byte[] bytes, [NotNullWhen(false)] out string? error)
    {
        bytes = [];
        // Lengths 1, 3 and 6 (mod 8) cannot come from whole bytes.
        var rem = text.Length % 8;
        if (rem is 1 or 3 or 6)
        {
            error = $"base32: length {text.Length} is impossible for whole bytes";
            return false;
        }

        var output = new byte[text.Length * 5 / 8];
        var buffer = 0;
        var bits = 0;
        var o = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            int v = c switch
            {
                >= 'A' and <= 'Z' => c - 'A',
                >= 'a' and <= 'z' => c - 'a',
                >= '2' and <= '7' => c - '2' + 26,
                _ => -1,
            };
            if (v < 0)
            {
                error = c is '=' ? $"base32: padding '=' at position {i} is not allowed"
                    : $"base32: character {Describe(c)} at position {i} is not in the RFC 4648 alphabet";
                return false;
            }

            buffer = ((buffer << 5) | v) & 0xFFFF;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output[o++] = (byte)(buffer >> bits);
            }
        }

        if ((buffer & ((1 << bits) - 1)) != 0)
        {
            error = "base32: trailing bits after the last whole byte are not zero (non-canonical encoding)";
            return false;
        }

        bytes = output;
        error = null;
        return true;
    }

    private static string Describe(char c) =>
        c < 0x20 || c > 0x7E ? $"U+{(int)c:X4}" : $"'{c}'";
}
