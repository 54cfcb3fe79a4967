using System.Buffers.Binary;
using System.Numerics;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// A decoded ISCC: a single unit (Meta, Semantic, Content, Data, Instance, ID, Flake) or a composite ISCC-CODE.
/// This is the reference decoder for the matcher: <see cref="Parse"/> gives the header fields and
/// <see cref="Units"/> the 64-bit unit bodies to index.
/// </summary>
public sealed class IsccCode
{
    /// <summary>Longest accepted input, in characters. The longest standard ISCC (a 256-bit unit) has 60.</summary>
    public const int MaxInputLength = 256;

    private readonly byte[] _body;
    private readonly IsccUnit[] _units;

    private IsccCode(IsccMainType mainType, byte subType, byte version, int lengthField, byte[] body, IsccUnit[] units, string canonical)
    {
        MainType = mainType;
        SubType = subType;
        Version = version;
        LengthField = lengthField;
        _body = body;
        _units = units;
        Canonical = canonical;
    }

    /// <summary>The MainType from the header.</summary>
    public IsccMainType MainType { get; }

    /// <summary>The SubType from the header (see <see cref="IsccSubType"/>).</summary>
    public byte SubType { get; }

    /// <summary>The algorithm version from the header.</summary>
    public byte Version { get; }

    /// <summary>The raw header length field (its meaning depends on <see cref="MainType"/>).</summary>
    public int LengthField { get; }

    /// <summary>Length of the body in bits.</summary>
    public int BitLength => _body.Length * 8;

    /// <summary>The body bytes (after the header).</summary>
    public ReadOnlySpan<byte> Body => _body;

    /// <summary>
    /// The 64-bit units: one for a plain unit; Meta/Semantic/Content/Data/Instance in MainType order for an
    /// ISCC-CODE (a wide ISCC-CODE gives the first 64 bits of its 128-bit Data and Instance bodies).
    /// </summary>
    public IReadOnlyList<IsccUnit> Units => _units;

    /// <summary>The canonical form: "ISCC:" + upper-case base32.</summary>
    public string Canonical { get; }

    /// <inheritdoc/>
    public override string ToString() => Canonical;

    /// <summary>Parses an ISCC string ("ISCC:" prefix optional, case-insensitive, hyphens ignored).</summary>
    /// <exception cref="IsccFormatException">The string is not a well-formed ISCC; the message says which field and why.</exception>
    public static IsccCode Parse(string text)
    {
        if (!TryParse(text, out var code, out var error))
        {
            throw new IsccFormatException(error);
        }

        return code;
    }

    /// <summary>Parses an ISCC string; on failure returns false and a reason naming the field.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IsccCode? code, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        code = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "iscc: empty string";
            return false;
        }

        if (text.Length > MaxInputLength)
        {
            error = $"iscc: {text.Length} characters is longer than the {MaxInputLength} allowed";
            return false;
        }

        ReadOnlySpan<char> s = text;
        var colon = s.IndexOf(':');
        if (colon >= 0)
        {
            if (!s[..colon].Equals("ISCC", StringComparison.OrdinalIgnoreCase))
            {
                error = $"iscc: scheme '{s[..colon].ToString()}' is not 'ISCC'";
                return false;
            }

            s = s[(colon + 1)..];
        }

        Span<char> cleaned = stackalloc char[s.Length];
        var n = 0;
        foreach (var c in s)
        {
            if (c != '-')
            {
                cleaned[n++] = c;
            }
        }

        if (n == 0)
        {
            error = "iscc: no code after the prefix";
            return false;
        }

        if (!IsccCodec.TryDecodeBase32(cleaned[..n], out var raw, out error))
        {
            return false;
        }

        return TryFromBytes(raw, out code, out error);
    }

    /// <summary>Decodes the binary form (header + body).</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> raw, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IsccCode? code, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        code = null;
        if (!IsccCodec.TryDecodeHeader(raw, out var mt, out var st, out var vs, out var ln, out var headerBytes, out error))
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
                if (!TryDecodeComposite(st, ln, body, out units, out expectedBytes, out error))
                {
                    return false;
                }

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
            error = $"body: {body.Length} bytes but the header declares {expectedBytes}";
            return false;
        }

        var canonical = IsccCodec.Prefix + IsccCodec.EncodeBase32(raw);
        code = new IsccCode(mainType, (byte)st, 0, ln, body.ToArray(), units, canonical);
        error = null;
        return true;
    }

    private static bool TryDecodeComposite(int st, int ln, ReadOnlySpan<byte> body, out IsccUnit[] units, out int expectedBytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        units = [];
        expectedBytes = 0;
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
        expectedBytes = wide ? 32 : (dynamicUnits + 2) * 8;
        if (body.Length != expectedBytes)
        {
            error = $"body: {body.Length} bytes but the header declares {expectedBytes}";
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

    /// <summary>
    /// Splits an ISCC-CODE into its units as ISCC strings (iscc-core <c>iscc_decompose</c>); a plain unit
    /// returns itself.
    /// </summary>
    public IReadOnlyList<string> Decompose()
    {
        if (MainType != IsccMainType.Iscc)
        {
            return [Canonical];
        }

        var result = new string[_units.Length];
        Span<byte> digest = stackalloc byte[16];
        var offset = 0;
        for (var i = 0; i < _units.Length; i++)
        {
            var u = _units[i];
            var bytes = u.BitLength / 8;
            _body.AsSpan(offset, bytes).CopyTo(digest);
            result[i] = IsccCodec.Prefix + IsccCodec.EncodeUnit(u.MainType, u.SubType, 0, u.BitLength, digest[..bytes]);
            offset += bytes;
        }

        return result;
    }
}
