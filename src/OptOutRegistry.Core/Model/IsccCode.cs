using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;

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

/// <summary>SubType values (the meaning depends on the MainType; iscc-core <c>ST</c>, <c>ST_CC</c>, <c>ST_ISCC</c>).</summary>
public static class IsccSubType
{
    /// <summary>No subtype (Meta, Data, Instance).</summary>
    public const byte None = 0;

    /// <summary>Content/Semantic/ISCC: text.</summary>
    public const byte Text = 0;

    /// <summary>Content/Semantic/ISCC: image.</summary>
    public const byte Image = 1;

    /// <summary>Content/Semantic/ISCC: audio.</summary>
    public const byte Audio = 2;

    /// <summary>Content/Semantic/ISCC: video.</summary>
    public const byte Video = 3;

    /// <summary>Content/Semantic/ISCC: mixed.</summary>
    public const byte Mixed = 4;

    /// <summary>ISCC-CODE made of Data- and Instance-Code only.</summary>
    public const byte Sum = 5;

    /// <summary>ISCC-CODE with Meta-, Data- and Instance-Code but no Content-Code.</summary>
    public const byte IsccNone = 6;

    /// <summary>ISCC-CODE with 128-bit Data- and Instance-Code (wide composite).</summary>
    public const byte Wide = 7;
}

/// <summary>
/// One decoded ISCC unit: its header fields and the first 64 bits of its body, big-endian (bit 63 is
/// the first bit of the body). Matching compares these 64-bit heads by Hamming distance; for longer
/// units the head is a prefix, which keeps codes of different lengths comparable (iscc-search's
/// "normalized prefix Hamming distance" idea). A 32-bit body fills the high half and leaves the low half zero.
/// </summary>
/// <param name="MainType">The unit's MainType (never <see cref="IsccMainType.Iscc"/>: composites are split into units).</param>
/// <param name="SubType">SubType (content: 0 text, 1 image, 2 audio, 3 video, 4 mixed; otherwise 0).</param>
/// <param name="Version">Algorithm version (0).</param>
/// <param name="BitLength">Length of the body in bits as encoded (32–256; matching needs ≥ 64).</param>
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
/// A decoded ISCC string (<c>ISCC:KACT…</c>): one code, or a hyphen-separated sequence of codes. This is the project's
/// one ISCC decoder (the Fingerprints project computes codes and uses it to read them back). Layout per iscc-core
/// <c>codec.py</c>: RFC 4648 base32 without padding; header = 4 varnibbles (MainType, SubType, Version, Length)
/// zero-padded to a byte; an ISCC-CODE's Length is the set of optional units (META = 4, SEMANTIC = 2, CONTENT = 1),
/// each 64 bits, followed by DATA and INSTANCE units. Decoding is strict: one accepted spelling per byte string (no
/// padding, zero trailing bits), Version 0, SubTypes and lengths defined by ISO 24138, body exactly as declared.
/// <see cref="TryParse"/> adds the matcher's rules (content units of at least 64 bits, no ISCC-ID or Flake-Code);
/// <see cref="TryDecode"/> accepts every well-formed ISCC.
/// </summary>
public sealed class IsccCode
{
    /// <summary>Longest accepted input, in characters (the longest standard ISCC, a 256-bit unit, has 60).</summary>
    public const int MaxInputLength = 512;

    private readonly byte[] _body;

    private IsccCode(string text, IsccUnit[] units, IsccMainType mainType, byte subType, int lengthField, byte[] body)
    {
        Text = text;
        Units = units;
        MainType = mainType;
        SubType = subType;
        LengthField = lengthField;
        _body = body;
    }

    /// <summary>Normalised text: <c>ISCC:</c> followed by the upper-case base32 code(s); the canonical form.</summary>
    public string Text { get; }

    /// <summary>
    /// The 64-bit units in code order: one for a plain unit; Meta/Semantic/Content/Data/Instance in MainType order
    /// for an ISCC-CODE (a wide ISCC-CODE gives the first 64 bits of its 128-bit Data and Instance bodies).
    /// </summary>
    public IReadOnlyList<IsccUnit> Units { get; }

    /// <summary>MainType from the header of the (first) code.</summary>
    public IsccMainType MainType { get; }

    /// <summary>SubType from the header of the (first) code (see <see cref="IsccSubType"/>).</summary>
    public byte SubType { get; }

    /// <summary>Algorithm version (only 0 is accepted).</summary>
    public byte Version => 0;

    /// <summary>The raw header Length field of the (first) code (its meaning depends on <see cref="MainType"/>).</summary>
    public int LengthField { get; }

    /// <summary>Length of the (first) code's body in bits.</summary>
    public int BitLength => _body.Length * 8;

    /// <summary>The (first) code's body bytes, after the header.</summary>
    public ReadOnlySpan<byte> Body => _body;

    /// <summary>Parses an ISCC string for matching; throws <see cref="ModelValidationException"/> (field <c>iscc</c>) with the reason.</summary>
    public static IsccCode Parse(string value)
    {
        if (!TryParse(value, out var code, out var error))
        {
            throw new ModelValidationException("iscc", error);
        }

        return code;
    }

    /// <summary>
    /// Parses an ISCC string for matching: well-formed (<see cref="TryDecode"/>), content-identifying (no ISCC-ID or
    /// Flake-Code) and every unit at least 64 bits. On failure <paramref name="error"/> says why.
    /// </summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out IsccCode? code, [NotNullWhen(false)] out string? error)
    {
        if (!TryDecode(value, out code, out error))
        {
            return false;
        }

        foreach (var unit in code.Units)
        {
            error = unit.MainType switch
            {
                IsccMainType.Id => "is an ISCC-ID, which identifies a declaration, not content",
                IsccMainType.Flake => "is an ISCC Flake-Code, a unique id, not a content code",
                _ when unit.BitLength < 64 => $"has a {unit.BitLength}-bit {unit.MainType} unit; at least 64 bits are needed for matching",
                _ => null,
            };
            if (error is not null)
            {
                code = null;
                return false;
            }
        }

        error = null;
        return true;
    }

    /// <summary>Decodes any well-formed ISCC string; throws <see cref="ModelValidationException"/> (field <c>iscc</c>) with the reason.</summary>
    public static IsccCode Decode(string value)
    {
        if (!TryDecode(value, out var code, out var error))
        {
            throw new ModelValidationException("iscc", error);
        }

        return code;
    }

    /// <summary>
    /// Decodes any well-formed ISCC string (<c>ISCC:</c> prefix optional, case-insensitive, hyphens separate codes),
    /// including ISCC-IDs, Flake-Codes and 32-bit units. On failure <paramref name="error"/> names the part and why.
    /// </summary>
    public static bool TryDecode(string? value, [NotNullWhen(true)] out IsccCode? code, [NotNullWhen(false)] out string? error)
    {
        code = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "is empty";
            return false;
        }

        var s = value.AsSpan().Trim();
        if (s.Length > MaxInputLength)
        {
            error = $"is {s.Length} characters, longer than the {MaxInputLength} allowed";
            return false;
        }

        var colon = s.IndexOf(':');
        if (colon >= 0)
        {
            if (!s[..colon].Equals("ISCC", StringComparison.OrdinalIgnoreCase))
            {
                error = $"scheme '{s[..colon].ToString()}' is not 'ISCC'";
                return false;
            }

            s = s[(colon + 1)..];
        }

        if (s.IsEmpty)
        {
            error = "has no code after the prefix";
            return false;
        }

        var units = new List<IsccUnit>();
        IsccCode? first = null;
        foreach (var range in s.Split('-'))
        {
            var part = s[range];
            if (part.IsEmpty)
            {
                error = "has an empty unit between hyphens";
                return false;
            }

            if (!TryDecodeBase32(part, out var bytes, out var trailingBits, out error))
            {
                return false;
            }

            if (!TryFromBytes(bytes, out var one, out error))
            {
                // Non-zero trailing bits often mean a truncated or mistyped code: say so along with the structural error.
                error = trailingBits ? error + "; " + TrailingBitsError : error;
                return false;
            }

            if (trailingBits)
            {
                error = TrailingBitsError;
                return false;
            }

            first ??= one;
            units.AddRange(one.Units);
        }

        code = new IsccCode("ISCC:" + s.ToString().ToUpperInvariant(), [.. units], first!.MainType, first.SubType, first.LengthField, first._body);
        error = null;
        return true;
    }

    /// <summary>Decodes the binary form of one code (header + body).</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> raw, [NotNullWhen(true)] out IsccCode? code, [NotNullWhen(false)] out string? error)
    {
        code = null;
        if (!TryDecodeHeader(raw, out var mt, out var st, out var vs, out var ln, out var headerBytes, out error))
        {
            return false;
        }

        if (mt > 7)
        {
            error = $"header: MainType {mt} is not defined (0-7)";
            return false;
        }

        var mainType = (IsccMainType)mt;
        if (vs != 0)
        {
            error = $"header: Version {vs} is not supported (only 0)";
            return false;
        }

        var body = raw[headerBytes..];
        int expectedBytes;
        IsccUnit[] units;
        switch (mainType)
        {
            case IsccMainType.Iscc:
                if (!TryDecodeComposite(st, ln, body, out units, out error))
                {
                    return false;
                }

                expectedBytes = body.Length;
                break;
            case IsccMainType.Id:
                if (st > 3 || ln > 4)
                {
                    error = st > 3 ? $"header: SubType {st} is not defined for ID" : $"header: Length {ln} is not valid for ID (0-4 counter bytes)";
                    return false;
                }

                expectedBytes = 8 + ln;
                units = body.Length == expectedBytes ? [new IsccUnit(mainType, (byte)st, 0, expectedBytes * 8, ReadBody64(body))] : [];
                break;
            default:
                var maxSubType = mainType is IsccMainType.Content or IsccMainType.Semantic ? IsccSubType.Mixed : IsccSubType.None;
                if (st > maxSubType)
                {
                    error = $"header: SubType {st} is not defined for MainType {mainType}";
                    return false;
                }

                if (ln > 7)
                {
                    error = $"header: Length {ln} means {(ln + 1) * 32} bits; at most 256 are defined";
                    return false;
                }

                expectedBytes = (ln + 1) * 4;
                units = body.Length == expectedBytes ? [new IsccUnit(mainType, (byte)st, 0, expectedBytes * 8, ReadBody64(body))] : [];
                break;
        }

        if (body.Length != expectedBytes)
        {
            error = BodyLengthError(body.Length, expectedBytes, null);
            return false;
        }

        code = new IsccCode("ISCC:" + EncodeBase32(raw), units, mainType, (byte)st, ln, body.ToArray());
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    private const string TrailingBitsError = "base32: trailing bits after the last whole byte are not zero (non-canonical encoding)";

    private static string BodyLengthError(int actual, int expected, string? announced) =>
        $"body: {actual} bytes but the header declares {expected}{(announced is null ? string.Empty : $" (the ISCC-CODE header announces {announced})")}{(actual < expected ? " (truncated)" : string.Empty)}";

    private static bool TryDecodeComposite(int st, int ln, ReadOnlySpan<byte> body, out IsccUnit[] units, [NotNullWhen(false)] out string? error)
    {
        units = [];
        if (ln > 7)
        {
            error = $"header: Length {ln} is not a valid unit combination for an ISCC-CODE (0-7)";
            return false;
        }

        // constants.UNITS / codec.encode_length: bit 2 = META, bit 1 = SEMANTIC, bit 0 = CONTENT.
        var hasMeta = (ln & 4) != 0;
        var hasSemantic = (ln & 2) != 0;
        var hasContent = (ln & 1) != 0;
        var wide = st == IsccSubType.Wide;
        if (wide && ln != 0)
        {
            error = "header: a wide ISCC-CODE holds only Data- and Instance-Code";
            return false;
        }

        if ((hasSemantic || hasContent) && st > IsccSubType.Mixed)
        {
            error = $"header: SubType {st} cannot carry a Content/Semantic unit";
            return false;
        }

        if (!(hasSemantic || hasContent) && st is not (IsccSubType.Sum or IsccSubType.IsccNone or IsccSubType.Wide))
        {
            error = $"header: SubType {st} requires a Content or Semantic unit";
            return false;
        }

        var dynamicUnits = BitOperations.PopCount((uint)ln);
        var expectedBytes = wide ? 32 : (dynamicUnits + 2) * 8;
        if (body.Length != expectedBytes)
        {
            error = BodyLengthError(body.Length, expectedBytes, wide ? "128-bit Data and Instance units" : $"{dynamicUnits + 2} units");
            return false;
        }

        var list = new IsccUnit[dynamicUnits + 2];
        var i = 0;
        var offset = 0;
        if (hasMeta)
        {
            list[i++] = new IsccUnit(IsccMainType.Meta, IsccSubType.None, 0, 64, ReadBody64(body[offset..]));
            offset += 8;
        }

        if (hasSemantic)
        {
            list[i++] = new IsccUnit(IsccMainType.Semantic, (byte)st, 0, 64, ReadBody64(body[offset..]));
            offset += 8;
        }

        if (hasContent)
        {
            list[i++] = new IsccUnit(IsccMainType.Content, (byte)st, 0, 64, ReadBody64(body[offset..]));
            offset += 8;
        }

        var staticBits = wide ? 128 : 64;
        list[i++] = new IsccUnit(IsccMainType.Data, IsccSubType.None, 0, staticBits, ReadBody64(body[offset..]));
        offset += staticBits / 8;
        list[i] = new IsccUnit(IsccMainType.Instance, IsccSubType.None, 0, staticBits, ReadBody64(body[offset..]));
        units = list;
        error = null;
        return true;
    }

    private static ulong ReadBody64(ReadOnlySpan<byte> body) =>
        body.Length >= 8
            ? BinaryPrimitives.ReadUInt64BigEndian(body)
            : (ulong)BinaryPrimitives.ReadUInt32BigEndian(body) << 32;

    // codec.decode_header: four varnibbles (prefixes 0 / 10 / 110 / 1110 for 0-7 / 8-71 / 72-583 / 584-4679), then a
    // zero nibble of padding when the header ends mid-byte.
    private static bool TryDecodeHeader(ReadOnlySpan<byte> data, out int mainType, out int subType, out int version, out int length, out int headerBytes, [NotNullWhen(false)] out string? error)
    {
        mainType = subType = version = length = headerBytes = 0;
        if (data.Length < 2)
        {
            error = $"header: {data.Length} byte is too short to hold an ISCC header (four varnibbles)";
            return false;
        }

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

    /// <summary>
    /// RFC 4648 §6 base32 without padding, case-insensitive (iscc-core decode_base32 casefolds). Rejects characters
    /// outside the alphabet and impossible lengths; reports non-zero trailing bits (a second spelling of the same
    /// bytes) for the caller to refuse.
    /// </summary>
    private static bool TryDecodeBase32(ReadOnlySpan<char> text, out byte[] bytes, out bool trailingBits, [NotNullWhen(false)] out string? error)
    {
        bytes = [];
        trailingBits = false;
        // Lengths 1, 3 and 6 (mod 8) cannot come from whole bytes.
        if (text.Length % 8 is 1 or 3 or 6)
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
                    : $"base32: character {Describe(c)} at position {i} is not in the RFC 4648 alphabet (A-Z, 2-7)";
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

        trailingBits = (buffer & ((1 << bits) - 1)) != 0;
        bytes = output;
        error = null;
        return true;
    }

    private static string Describe(char c) =>
        c < 0x20 || c > 0x7E ? $"U+{(int)c:X4}" : $"'{c}'";

    private static string EncodeBase32(ReadOnlySpan<byte> data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        Span<char> chars = stackalloc char[((data.Length * 8) + 4) / 5];
        var buffer = 0;
        var bits = 0;
        var o = 0;
        foreach (var b in data)
        {
            buffer = ((buffer << 8) | b) & 0xFFFF;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[o++] = Alphabet[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
        {
            chars[o] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars);
    }
}
