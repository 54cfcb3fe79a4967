using System.Buffers.Binary;

namespace OptOutRegistry.Core.Model;

/// <summary>ISCC MainTypes (ISO 24138; values as in iscc-core <c>MT</c>).</summary>
public enum IsccMainType : byte
{
    /// <summary>Meta-Code: similarity of metadata.</summary>
    Meta = 0,

    /// <summary>Semantic-Code.</summary>
    Semantic = 1,

    /// <summary>Content-Code: perceptual similarity (text, image, audio, video, mixed).</summary>
    Content = 2,

    /// <summary>Data-Code: similarity of the raw bytes.</summary>
    Data = 3,

    /// <summary>Instance-Code: exact identity (a truncated BLAKE3 digest).</summary>
    Instance = 4,

    /// <summary>ISCC-CODE: a composite of units.</summary>
    Iscc = 5,

    /// <summary>ISCC-ID: a declaration identifier, not a content code.</summary>
    Id = 6,

    /// <summary>Flake-Code: a time-ordered unique id, not a content code.</summary>
    Flake = 7,
}

/// <summary>
/// One decoded ISCC unit: its header fields and the first 64 bits of its body, big-endian (bit 63 is
/// the first bit of the body). Matching compares these 64-bit heads by Hamming distance; for longer
/// units the head is a prefix, which keeps codes of different lengths comparable (iscc-search's
/// "normalized prefix Hamming distance" idea).
/// </summary>
/// <param name="MainType">The unit's MainType (never <see cref="IsccMainType.Iscc"/>: composites are split into units).</param>
/// <param name="SubType">SubType (content: 0 text, 1 image, 2 audio, 3 video, 4 mixed; otherwise 0).</param>
/// <param name="Version">Algorithm version (0).</param>
/// <param name="BitLength">Length of the body in bits (≥ 64).</param>
/// <param name="Head">The first 64 bits of the body.</param>
public readonly record struct IsccUnit(IsccMainType MainType, byte SubType, byte Version, int BitLength, ulong Head)
{
    /// <summary>True for units compared by similarity (semantic, content, data); instance and meta units are not.</summary>
    public bool IsSimilarityUnit => MainType is IsccMainType.Semantic or IsccMainType.Content or IsccMainType.Data;

    /// <summary>A type id for grouping comparable units: main type and subtype.</summary>
    public int TypeKey => ((int)MainType << 4) | SubType;

    /// <summary>e.g. <c>CONTENT-1 0123456789abcdef</c>.</summary>
    public override string ToString() => $"{MainType.ToString().ToUpperInvariant()}-{SubType} {Head:x16}";
}

/// <summary>
/// A decoded ISCC string (<c>ISCC:KACT…</c>, a single unit, or a hyphen-separated sequence of units).
/// Decoding only: computing codes from content is the Fingerprints project's job. Layout per iscc-core
/// <c>codec.py</c>: RFC 4648 base32 without padding; header = 4 varnibbles (MainType, SubType, Version,
/// Length) zero-padded to a byte; an ISCC-CODE's Length is the set of optional units
/// (META = 4, SEMANTIC = 2, CONTENT = 1), each 64 bits, followed by DATA and INSTANCE units.
/// </summary>
public sealed class IsccCode
{
    private const int MaxInputLength = 512;
    private const byte SubTypeWide = 7;

    private IsccCode(string text, IsccUnit[] units)
    {
        Text = text;
        Units = units;
    }

    /// <summary>Normalised text: <c>ISCC:</c> followed by the upper-case base32 code(s).</summary>
    public string Text { get; }

    /// <summary>The units, composites split into their components, in code order.</summary>
    public IReadOnlyList<IsccUnit> Units { get; }

    /// <summary>Parses an ISCC string; throws <see cref="ModelValidationException"/> (field <c>iscc</c>) with the reason.</summary>
    public static IsccCode Parse(string value)
    {
        if (!TryParse(value, out var code, out var error))
        {
            throw new ModelValidationException("iscc", error!);
        }

        return code!;
    }

    /// <summary>Parses an ISCC string. On failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string? value, out IsccCode? code, out string? error)
    {
        code = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "is empty";
            return false;
        }

        var s = value.Trim();
        if (s.Length > MaxInputLength)
        {
            error = $"is longer than {MaxInputLength} characters";
            return false;
        }

        if (s.StartsWith("ISCC:", StringComparison.OrdinalIgnoreCase))
        {
            s = s[5..];
        }

        var parts = s.Split('-');
        var units = new List<IsccUnit>();
        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                error = "has an empty unit between hyphens";
                return false;
            }

            if (!TryDecodeBase32(part, out var bytes, out error))
            {
                return false;
            }

            if (!TryDecodeUnits(bytes, units, out error))
            {
                return false;
            }
        }

        code = new IsccCode("ISCC:" + s.ToUpperInvariant(), units.ToArray());
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    private static bool TryDecodeUnits(byte[] data, List<IsccUnit> units, out string? error)
    {
        var offset = 0;
        while (offset < data.Length)
        {
            if (!TryReadHeader(data.AsSpan(offset), out var mt, out var st, out var version, out var length, out var headerBytes, out error))
            {
                return false;
            }

            var body = data.AsSpan(offset + headerBytes);
            switch ((IsccMainType)mt)
            {
                case IsccMainType.Iscc:
                    return TryDecodeComposite(body, (byte)st, (byte)version, length, units, out error);
                case IsccMainType.Id:
                    error = "is an ISCC-ID, which identifies a declaration, not content";
                    return false;
                case IsccMainType.Flake:
                    error = "is an ISCC Flake-Code, a unique id, not a content code";
                    return false;
                case > IsccMainType.Flake:
                    error = $"has unknown MainType {mt}";
                    return false;
            }

            var bits = (length + 1) * 32;
            if (bits < 64)
            {
                error = $"has a {bits}-bit {(IsccMainType)mt} unit; at least 64 bits are needed for matching";
                return false;
            }

            if (body.Length < bits / 8)
            {
                error = $"is truncated: the {(IsccMainType)mt} unit declares {bits} bits but {body.Length * 8} follow";
                return false;
            }

            units.Add(new IsccUnit((IsccMainType)mt, (byte)st, (byte)version, bits, BinaryPrimitives.ReadUInt64BigEndian(body)));
            offset += headerBytes + (bits / 8);
        }

        error = null;
        return true;
    }

    private static bool TryDecodeComposite(ReadOnlySpan<byte> body, byte st, byte version, int length, List<IsccUnit> units, out string? error)
    {
        if (st == SubTypeWide)
        {
            // ISCC-CODE WIDE: a 128-bit Data-Code and a 128-bit Instance-Code.
            if (body.Length != 32)
            {
                error = $"is a WIDE ISCC-CODE with a {body.Length * 8}-bit body; 256 bits expected";
                return false;
            }

            units.Add(new IsccUnit(IsccMainType.Data, 0, version, 128, BinaryPrimitives.ReadUInt64BigEndian(body)));
            units.Add(new IsccUnit(IsccMainType.Instance, 0, version, 128, BinaryPrimitives.ReadUInt64BigEndian(body[16..])));
            error = null;
            return true;
        }

        if (length > 7)
        {
            error = $"is an ISCC-CODE with invalid unit set {length}";
            return false;
        }

        var optional = ((length >> 2) & 1) + ((length >> 1) & 1) + (length & 1);
        var expected = (optional + 2) * 8;
        if (body.Length != expected)
        {
            error = $"is an ISCC-CODE whose header announces {optional + 2} units ({expected * 8} bits) but has {body.Length * 8} bits";
            return false;
        }

        var i = 0;
        if ((length & 4) != 0)
        {
            units.Add(new IsccUnit(IsccMainType.Meta, 0, version, 64, BinaryPrimitives.ReadUInt64BigEndian(body[(i++ * 8)..])));
        }

        if ((length & 2) != 0)
        {
            units.Add(new IsccUnit(IsccMainType.Semantic, st, version, 64, BinaryPrimitives.ReadUInt64BigEndian(body[(i++ * 8)..])));
        }

        if ((length & 1) != 0)
        {
            units.Add(new IsccUnit(IsccMainType.Content, st, version, 64, BinaryPrimitives.ReadUInt64BigEndian(body[(i++ * 8)..])));
        }

        units.Add(new IsccUnit(IsccMainType.Data, 0, version, 64, BinaryPrimitives.ReadUInt64BigEndian(body[(i++ * 8)..])));
        units.Add(new IsccUnit(IsccMainType.Instance, 0, version, 64, BinaryPrimitives.ReadUInt64BigEndian(body[(i * 8)..])));
        error = null;
        return true;
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> data, out int mt, out int st, out int version, out int length, out int headerBytes, out string? error)
    {
        var nibble = 0;
        mt = st = version = length = headerBytes = 0;
        if (!TryReadVarnibble(data, ref nibble, out mt) || !TryReadVarnibble(data, ref nibble, out st)
            || !TryReadVarnibble(data, ref nibble, out version) || !TryReadVarnibble(data, ref nibble, out length))
        {
            error = "has a malformed or truncated header";
            return false;
        }

        // The header is zero-padded to a whole byte (codec.py encode_header: header.fill()).
        headerBytes = (nibble + 1) / 2;
        error = null;
        return true;
    }

    private static int Nibble(ReadOnlySpan<byte> data, int index) =>
        (index & 1) == 0 ? data[index >> 1] >> 4 : data[index >> 1] & 0xF;

    private static bool TryReadVarnibble(ReadOnlySpan<byte> data, ref int nibble, out int value)
    {
        value = 0;
        var available = data.Length * 2 - nibble;
        if (available < 1)
        {
            return false;
        }

        var n0 = Nibble(data, nibble);
        if ((n0 & 0b1000) == 0)
        {
            value = n0;
            nibble += 1;
            return true;
        }

        if ((n0 & 0b0100) == 0)
        {
            if (available < 2)
            {
                return false;
            }

            value = (((n0 & 0b11) << 4) | Nibble(data, nibble + 1)) + 8;
            nibble += 2;
            return true;
        }

        if ((n0 & 0b0010) == 0)
        {
            if (available < 3)
            {
                return false;
            }

            value = (((n0 & 1) << 8) | (Nibble(data, nibble + 1) << 4) | Nibble(data, nibble + 2)) + 72;
            nibble += 3;
            return true;
        }

        if ((n0 & 1) == 0 && available >= 4)
        {
            value = ((Nibble(data, nibble + 1) << 8) | (Nibble(data, nibble + 2) << 4) | Nibble(data, nibble + 3)) + 584;
            nibble += 4;
            return true;
        }

        return false;
    }

    private static bool TryDecodeBase32(string text, out byte[] bytes, out string? error)
    {
        // RFC 4648 §6 alphabet, no padding, case-insensitive (iscc-core decode_base32 casefolds).
        bytes = new byte[text.Length * 5 / 8];
        var buffer = 0UL;
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
                error = $"has '{c}' at position {i}, which is not a base32 character (A-Z, 2-7)";
                return false;
            }

            buffer = (buffer << 5) | (uint)v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes[o++] = (byte)(buffer >> bits);
            }
        }

        if (bytes.Length < 2)
        {
            error = "is too short to hold an ISCC header";
            return false;
        }

        error = null;
        return true;
    }
}
