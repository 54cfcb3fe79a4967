using System.Buffers;
using System.Text.Json;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Hashing;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>Result of <see cref="IsccGenerator.GenTextCodeV0(string, int)"/> and <see cref="TextCodeHasher"/>.</summary>
/// <param name="Iscc">The Text-Code ("ISCC:EA…").</param>
/// <param name="Characters">Code points in the collapsed text.</param>
public sealed record TextCodeResult(string Iscc, int Characters);

/// <summary>Result of <see cref="IsccGenerator.GenMetaCodeV0(string, string?, JsonElement?, int)"/>.</summary>
/// <param name="Iscc">The Meta-Code ("ISCC:AA…").</param>
/// <param name="Name">The normalised name.</param>
/// <param name="Description">The normalised description, or null when empty.</param>
/// <param name="Meta">The metadata as a data-URL, or null when none was given.</param>
/// <param name="MetaHash">Multihash (BLAKE3, "1e20…") of the metadata payload.</param>
public sealed record MetaCodeResult(string Iscc, string Name, string? Description, string? Meta, string MetaHash);

/// <summary>Result of an Instance-Code computation.</summary>
/// <param name="Iscc">The Instance-Code ("ISCC:IA…").</param>
/// <param name="DataHash">Multihash (BLAKE3, "1e20…") of the bytes.</param>
/// <param name="FileSize">Number of bytes.</param>
public sealed record InstanceCodeResult(string Iscc, string DataHash, long FileSize);

/// <summary>
/// ISCC v0 code generators (ISO 24138:2024, conformance with iscc-core 1.3.0 <c>data.json</c>).
/// </summary>
public static class IsccGenerator
{
    /// <summary>Sliding window width for Text-Code (<c>text_ngram_size</c>).</summary>
    public const int TextNgramSize = 13;

    /// <summary>Sliding window width over characters for Meta-Code (<c>meta_ngram_size_text</c>).</summary>
    public const int MetaNgramSizeText = 3;

    /// <summary>Sliding window width over bytes for Meta-Code metadata (<c>meta_ngram_size_bytes</c>).</summary>
    public const int MetaNgramSizeBytes = 4;

    /// <summary>UTF-8 byte limit for the Meta-Code name (<c>meta_trim_name</c>).</summary>
    public const int MetaTrimName = 128;

    /// <summary>UTF-8 byte limit for the Meta-Code description (<c>meta_trim_description</c>).</summary>
    public const int MetaTrimDescription = 4096;

    private const int FeatureBatch = 2048;

    /// <summary>
    /// Text-Code v0: collapse the text (<see cref="TextNormalization.Collapse"/>), xxh32 of the UTF-8 bytes
    /// of every 13-code-point window, MinHash-256, header CONTENT/TEXT/V0.
    /// </summary>
    public static TextCodeResult GenTextCodeV0(string text, int bits = 64)
    {
        ArgumentNullException.ThrowIfNull(text);
        var collapsed = TextNormalization.Collapse(text);
        var digest = SoftHashTextV0(collapsed, out var characters);
        return new TextCodeResult(IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Content, IsccSubType.Text, 0, bits, digest), characters);
    }

    /// <summary>Text-Code of the whole text read from <paramref name="reader"/>, streamed (<see cref="TextCodeHasher"/>).</summary>
    public static TextCodeResult GenTextCodeV0(TextReader reader, int bits = 64)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var hasher = new TextCodeHasher();
        var buffer = ArrayPool<char>.Shared.Rent(32 * 1024);
        try
        {
            int read;
            while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                hasher.Append(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }

        return hasher.GetCodeAndReset(bits);
    }

    /// <summary>Text-Code of UTF-8 text read from <paramref name="utf8Stream"/>, streamed.</summary>
    public static TextCodeResult GenTextCodeV0(Stream utf8Stream, int bits = 64)
    {
        var hasher = new TextCodeHasher();
        hasher.Append(utf8Stream);
        return hasher.GetCodeAndReset(bits);
    }

    /// <summary>
    /// <c>soft_hash_text_v0</c>: the 256-bit MinHash of xxh32 features over 13-code-point windows of
    /// <paramref name="collapsed"/> (which must already be collapsed).
    /// </summary>
    public static byte[] SoftHashTextV0(string collapsed, out int characters)
    {
        ArgumentNullException.ThrowIfNull(collapsed);
        var utf8Length = Encoding.UTF8.GetByteCount(collapsed);
        var bytes = ArrayPool<byte>.Shared.Rent(Math.Max(utf8Length, 1));
        var features = ArrayPool<uint>.Shared.Rent(FeatureBatch);
        int[]? offsets = null;
        try
        {
            Encoding.UTF8.GetBytes(collapsed, bytes);
            var utf8 = bytes.AsSpan(0, utf8Length);
            var minHash = new MinHash();
            var n = 0;
            if (utf8Length == collapsed.Length)
            {
                // ASCII: one byte per code point, windows are plain byte ranges.
                characters = utf8Length;
                if (utf8Length < TextNgramSize)
                {
                    features[n++] = XxHash32.HashToUInt32(utf8);
                }
                else
                {
                    // Little-endian lane reads in Hash13 are the spec's byte order only on little-endian CPUs.
                    ref var start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(utf8);
                    var windows = utf8Length - TextNgramSize + 1;
                    for (var i = 0; i < windows; i++)
                    {
                        features[n++] = BitConverter.IsLittleEndian
                            ? XxHash32.Hash13(ref System.Runtime.CompilerServices.Unsafe.Add(ref start, i))
                            : XxHash32.HashToUInt32(utf8.Slice(i, TextNgramSize));
                        if (n == FeatureBatch)
                        {
                            minHash.Add(features.AsSpan(0, n));
                            n = 0;
                        }
                    }
                }
            }
            else
            {
                // Byte offset of every code point start, plus the end.
                offsets = ArrayPool<int>.Shared.Rent(collapsed.Length + 1);
                var cp = 0;
                for (var b = 0; b < utf8Length; b++)
                {
                    if ((utf8[b] & 0xC0) != 0x80)
                    {
                        offsets[cp++] = b;
                    }
                }

                offsets[cp] = utf8Length;
                characters = cp;
                var windows = Math.Max(cp - TextNgramSize + 1, 1);
                for (var i = 0; i < windows; i++)
                {
                    var end = offsets[Math.Min(i + TextNgramSize, cp)];
                    features[n++] = XxHash32.HashToUInt32(utf8[offsets[i]..end]);
                    if (n == FeatureBatch)
                    {
                        minHash.Add(features.AsSpan(0, n));
                        n = 0;
                    }
                }
            }

            minHash.Add(features.AsSpan(0, n));
            return minHash.Digest256();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<uint>.Shared.Return(features);
            if (offsets is not null)
            {
                ArrayPool<int>.Shared.Return(offsets);
            }
        }
    }

    /// <summary>Data-Code v0 of a byte span.</summary>
    public static string GenDataCodeV0(ReadOnlySpan<byte> data, int bits = 64)
    {
        var hasher = new DataCodeHasher();
        hasher.Append(data);
        return hasher.Code(bits);
    }

    /// <summary>Data-Code v0 of a stream (read to the end).</summary>
    public static string GenDataCodeV0(Stream stream, int bits = 64)
    {
        var hasher = new DataCodeHasher();
        hasher.Append(stream);
        return hasher.Code(bits);
    }

    /// <summary>Instance-Code v0 of a byte span.</summary>
    public static InstanceCodeResult GenInstanceCodeV0(ReadOnlySpan<byte> data, int bits = 64)
    {
        var hasher = new InstanceCodeHasher();
        hasher.Append(data);
        return hasher.Result(bits);
    }

    /// <summary>Instance-Code v0 of a stream (read to the end).</summary>
    public static InstanceCodeResult GenInstanceCodeV0(Stream stream, int bits = 64)
    {
        var hasher = new InstanceCodeHasher();
        hasher.Append(stream);
        return hasher.Result(bits);
    }

    /// <summary>
    /// Meta-Code v0 (iscc-core <c>gen_meta_code_v0</c>). <paramref name="meta"/> may be null, a JSON object
    /// (canonicalised with JCS) or a JSON string holding a data-URL; when present it replaces the description
    /// in the similarity hash.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty after normalisation, or the metadata is malformed.</exception>
    /// <exception cref="FormatException">The metadata cannot be canonicalised (see <see cref="JsonCanonicalizer.Canonicalize"/>).</exception>
    public static MetaCodeResult GenMetaCodeV0(string name, string? description = null, JsonElement? meta = null, int bits = 64)
    {
        name = TextNormalization.Trim(TextNormalization.RemoveNewlines(TextNormalization.Clean(name ?? string.Empty)), MetaTrimName);
        if (name.Length == 0)
        {
            throw new ArgumentException("name: Meta-Code requires a non-empty name (after normalisation).", nameof(name));
        }

        description = TextNormalization.Trim(TextNormalization.Clean(description ?? string.Empty), MetaTrimDescription);

        byte[] digest;
        byte[] payload;
        string? metaValue = null;
        if (meta is { } m && IsTruthy(m))
        {
            if (m.ValueKind == JsonValueKind.String)
            {
                metaValue = GetStringOrThrowFormat(m);
                payload = DecodeDataUrl(metaValue);
            }
            else if (m.ValueKind == JsonValueKind.Object)
            {
                payload = JsonCanonicalizer.Canonicalize(m);
                var mediaType = m.TryGetProperty("@context", out _) ? "application/ld+json" : "application/json";
                metaValue = $"data:{mediaType};base64,{Convert.ToBase64String(payload)}";
            }
            else
            {
                throw new ArgumentException($"meta: must be a JSON object or a data-URL string, not {m.ValueKind}.", nameof(meta));
            }

            digest = SoftHashMetaV0(name, payload);
        }
        else
        {
            payload = Encoding.UTF8.GetBytes(TextNormalization.PythonStrip(name + " " + description));
            digest = SoftHashMetaV0(name, description);
        }

        var iscc = IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Meta, IsccSubType.None, 0, bits, digest);
        var metaHash = "1e20" + Convert.ToHexString(Blake3.Hash(payload)).ToLowerInvariant();
        return new MetaCodeResult(iscc, name, description.Length > 0 ? description : null, metaValue, metaHash);
    }

    /// <summary><c>soft_hash_meta_v0</c> with a text extra (description); null or empty means name only.</summary>
    public static byte[] SoftHashMetaV0(string name, string? extra)
    {
        var nameHash = SimHashOfTextWindows(TextNormalization.Collapse(name));
        if (string.IsNullOrEmpty(extra))
        {
            return nameHash;
        }

        return Interleave(nameHash, SimHashOfTextWindows(TextNormalization.Collapse(extra)));
    }

    /// <summary><c>soft_hash_meta_v0</c> with a binary extra (metadata payload), hashed in 4-byte windows.</summary>
    public static byte[] SoftHashMetaV0(string name, ReadOnlySpan<byte> extra)
    {
        var nameHash = SimHashOfTextWindows(TextNormalization.Collapse(name));
        if (extra.IsEmpty)
        {
            return nameHash;
        }

        var sim = new SimHash(32);
        Span<byte> digest = stackalloc byte[32];
        var windows = Math.Max(extra.Length - MetaNgramSizeBytes + 1, 1);
        for (var i = 0; i < windows; i++)
        {
            Blake3.Hash(extra.Slice(i, Math.Min(MetaNgramSizeBytes, extra.Length - i)), digest);
            sim.Add(digest);
        }

        return Interleave(nameHash, sim.Digest());
    }

    private static byte[] SimHashOfTextWindows(string collapsed)
    {
        var sim = new SimHash(32);
        Span<byte> digest = stackalloc byte[32];
        var runes = new List<string>();
        foreach (var r in collapsed.EnumerateRunes())
        {
            runes.Add(r.ToString());
        }

        var windows = Math.Max(runes.Count - MetaNgramSizeText + 1, 1);
        for (var i = 0; i < windows; i++)
        {
            var sb = new StringBuilder();
            for (var j = i; j < Math.Min(i + MetaNgramSizeText, runes.Count); j++)
            {
                sb.Append(runes[j]);
            }

            Blake3.Hash(Encoding.UTF8.GetBytes(sb.ToString()), digest);
            sim.Add(digest);
        }

        return sim.Digest();
    }

    // "Interleave first half of name and extra simhashes in 32-bit chunks".
    private static byte[] Interleave(byte[] a, byte[] b)
    {
        var result = new byte[32];
        for (var i = 0; i < 4; i++)
        {
            a.AsSpan(i * 4, 4).CopyTo(result.AsSpan(i * 8));
            b.AsSpan(i * 4, 4).CopyTo(result.AsSpan((i * 8) + 4));
        }

        return result;
    }

    // Python truthiness of the meta argument: None, "" and {} mean "no metadata".
    // JsonElement.GetString throws InvalidOperationException for a string that is not valid UTF-8 or holds an unpaired
    // surrogate escape such as "\ud800" (RFC 8259 §8.1, §8.2): untrusted metadata must give the documented FormatException.
    private static string GetStringOrThrowFormat(JsonElement m)
    {
        try
        {
            return m.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw new FormatException($"meta: the string is not valid Unicode (invalid UTF-8 or an unpaired surrogate escape): {ex.Message}", ex);
        }
    }

    private static bool IsTruthy(JsonElement m) => m.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => false,
        JsonValueKind.String => GetStringOrThrowFormat(m).Length > 0,
        JsonValueKind.Object => m.EnumerateObject().MoveNext(),
        _ => true,
    };

    /// <summary>Decodes an RFC 2397 data-URL ("data:[mediatype][;base64],data") to its bytes.</summary>
    /// <exception cref="ArgumentException">The string is not a data-URL or its base64 is invalid.</exception>
    public static byte[] DecodeDataUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("meta: a metadata string must be a data-URL starting with 'data:'.", nameof(url));
        }

        var comma = url.IndexOf(',');
        if (comma < 0)
        {
            throw new ArgumentException("meta: data-URL has no ',' before its data.", nameof(url));
        }

        var header = url.AsSpan(5, comma - 5);
        var data = url[(comma + 1)..];
        if (header.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return Convert.FromBase64String(data);
            }
            catch (FormatException)
            {
                throw new ArgumentException("meta: data-URL base64 payload is invalid.", nameof(url));
            }
        }

        return Encoding.Latin1.GetBytes(Uri.UnescapeDataString(data));
    }

    /// <summary>
    /// ISCC-CODE v0 (iscc-core <c>gen_iscc_code_v0</c>): combines at least a Data- and an Instance-Code, plus
    /// optional Meta, Semantic and Content units, under one header with 64-bit bodies (128-bit Data and
    /// Instance bodies when <paramref name="wide"/> and only those two are given).
    /// </summary>
    /// <exception cref="ArgumentException">A unit is malformed, shorter than 64 bits, repeated, or Data/Instance is missing.</exception>
    public static string GenIsccCodeV0(IEnumerable<string> codes, bool wide = false)
    {
        ArgumentNullException.ThrowIfNull(codes);
        var units = new List<IsccCode>();
        foreach (var c in codes)
        {
            if (!IsccCode.TryDecode(c, out var code, out var error))
            {
                throw new ArgumentException($"codes: '{c}' is not a valid ISCC unit: {error}.", nameof(codes));
            }

            if (code!.MainType is IsccMainType.Iscc or IsccMainType.Id or IsccMainType.Flake)
            {
                throw new ArgumentException($"codes: '{c}' is a {code.MainType}, not a unit that can be combined.", nameof(codes));
            }

            if (code.BitLength < 64)
            {
                throw new ArgumentException($"codes: cannot build an ISCC-CODE from units shorter than 64 bits: '{c}'.", nameof(codes));
            }

            units.Add(code);
        }

        if (units.Count < 2)
        {
            throw new ArgumentException("codes: at least two ISCC units (Data and Instance) are required.", nameof(codes));
        }

        // Stable sort by MainType, as Python's sorted(key=itemgetter(0)).
        var ordered = units.Select((u, i) => (u, i)).OrderBy(t => (int)t.u.MainType).ThenBy(t => t.i).Select(t => t.u).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].MainType == ordered[i - 1].MainType)
            {
                throw new ArgumentException($"codes: more than one {ordered[i].MainType} unit.", nameof(codes));
            }
        }

        if (ordered.Count < 2 || ordered[^2].MainType != IsccMainType.Data || ordered[^1].MainType != IsccMainType.Instance)
        {
            throw new ArgumentException("codes: an ISCC-CODE requires a Data-Code and an Instance-Code.", nameof(codes));
        }

        byte? subType = null;
        var length = 0;
        foreach (var u in ordered)
        {
            switch (u.MainType)
            {
                case IsccMainType.Meta:
                    length |= 4;
                    break;
                case IsccMainType.Semantic or IsccMainType.Content:
                    if (subType is { } st && st != u.SubType)
                    {
                        throw new ArgumentException("codes: Semantic-Code and Content-Code must have the same SubType.", nameof(codes));
                    }

                    subType = u.SubType;
                    length |= u.MainType == IsccMainType.Semantic ? 2 : 1;
                    break;
            }
        }

        var isWide = wide && ordered.Count == 2 && ordered[0].BitLength >= 128 && ordered[1].BitLength >= 128;
        var st2 = isWide ? IsccSubType.Wide : subType ?? (ordered.Count == 2 ? IsccSubType.Sum : IsccSubType.IsccNone);
        var perUnit = isWide ? 16 : 8;
        Span<byte> buffer = stackalloc byte[8 + (5 * 16)];
        var headerLength = IsccCodec.EncodeHeader((int)IsccMainType.Iscc, st2, 0, length, buffer);
        var pos = headerLength;
        foreach (var u in ordered)
        {
            u.Body[..perUnit].CopyTo(buffer[pos..]);
            pos += perUnit;
        }

        return IsccCodec.Prefix + IsccCodec.EncodeBase32(buffer[..pos]);
    }
}
