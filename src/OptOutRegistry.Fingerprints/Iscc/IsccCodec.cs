using OptOutRegistry.Core.Model;

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
    /// Splits an ISCC-CODE into its units as ISCC strings (iscc-core <c>iscc_decompose</c>); a plain unit
    /// returns itself. Decoding is <see cref="IsccCode"/>'s (Core); this is the encoding side.
    /// </summary>
    public static IReadOnlyList<string> Decompose(IsccCode code)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.MainType != IsccMainType.Iscc)
        {
            return [code.Text];
        }

        var units = code.Units;
        var body = code.Body;
        var result = new string[units.Count];
        var offset = 0;
        for (var i = 0; i < units.Count; i++)
        {
            var u = units[i];
            var bytes = u.BitLength / 8;
            result[i] = Prefix + EncodeUnit(u.MainType, u.SubType, 0, u.BitLength, body.Slice(offset, bytes));
            offset += bytes;
        }

        return result;
    }
}
