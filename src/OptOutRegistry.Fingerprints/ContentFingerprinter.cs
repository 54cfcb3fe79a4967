using System.Security.Cryptography;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints;

/// <summary>All fingerprints of one piece of content, computed in a single pass.</summary>
/// <param name="Sha256">Lower-case hex SHA-256 of the bytes (exact-copy selector).</param>
/// <param name="InstanceCode">ISCC Instance-Code (BLAKE3), 64 bits.</param>
/// <param name="DataCode">ISCC Data-Code (content-defined chunks + MinHash), 64 bits.</param>
/// <param name="TextCode">ISCC Text-Code when the bytes were fingerprinted as UTF-8 text, else null.</param>
/// <param name="IsccCode">The composite ISCC-CODE of the Text (if any), Data and Instance units.</param>
/// <param name="Length">Number of bytes.</param>
public sealed record ContentFingerprints(string Sha256, string InstanceCode, string DataCode, TextCodeResult? TextCode, string IsccCode, long Length);

/// <summary>
/// Feeds the same bytes to SHA-256, Instance-Code, Data-Code and (optionally) Text-Code, so a record's content is
/// read once. Intended for <c>optout filter</c>: one instance per worker, <see cref="GetResultAndReset"/> per record.
/// </summary>
public sealed class ContentFingerprinter : IDisposable
{
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly InstanceCodeHasher _instance = new();
    private readonly DataCodeHasher _data = new();
    private readonly TextCodeHasher? _text;

    /// <summary>Creates a fingerprinter; with <paramref name="text"/> the bytes are also hashed as UTF-8 text.</summary>
    public ContentFingerprinter(bool text)
    {
        _text = text ? new TextCodeHasher() : null;
    }

    /// <summary>Appends content bytes.</summary>
    public void Append(ReadOnlySpan<byte> content)
    {
        _sha256.AppendData(content);
        _instance.Append(content);
        _data.Append(content);
        _text?.Append(content);
    }

    /// <summary>Appends a whole stream.</summary>
    public void Append(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            Append(buffer.AsSpan(0, read));
        }
    }

    /// <summary>Returns the fingerprints of everything appended and resets for the next record.</summary>
    public ContentFingerprints GetResultAndReset()
    {
        var sha = Convert.ToHexString(_sha256.GetHashAndReset()).ToLowerInvariant();
        var instance = _instance.Result();
        var data = _data.Code();
        var text = _text?.GetCodeAndReset();
        string[] units = text is null ? [data, instance.Iscc] : [text.Iscc, data, instance.Iscc];
        var result = new ContentFingerprints(sha, instance.Iscc, data, text, IsccGenerator.GenIsccCodeV0(units), instance.FileSize);
        _instance.Reset();
        _data.Reset();
        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => _sha256.Dispose();
}
