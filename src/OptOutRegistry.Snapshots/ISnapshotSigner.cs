using System.Security.Cryptography;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Signs snapshot files (docs/snapshot-format.md "Footer"): the registry's ECDSA P-256 key, which is also the
/// transparency log's, so one published public key verifies tree heads, receipts and snapshots. The server's
/// implementation is the log's signer itself, so the private key is loaded once.
/// </summary>
public interface ISnapshotSigner
{
    /// <summary>The public key as DER SubjectPublicKeyInfo, embedded in the footer.</summary>
    ReadOnlySpan<byte> PublicKeySpki { get; }

    /// <summary>
    /// The DER (RFC 3279) ECDSA-SHA256 signature over <see cref="SnapshotFormat.SignaturePrefix"/> ‖
    /// <paramref name="digest"/>.
    /// </summary>
    byte[] SignSnapshotDigest(ReadOnlySpan<byte> digest);
}

/// <summary>An <see cref="ISnapshotSigner"/> over a key the caller owns (tests, tools, benchmarks).</summary>
internal sealed class EcdsaSnapshotSigner(ECDsa key) : ISnapshotSigner
{
    private readonly byte[] _spki = key.ExportSubjectPublicKeyInfo();

    public ReadOnlySpan<byte> PublicKeySpki => _spki;

    public byte[] SignSnapshotDigest(ReadOnlySpan<byte> digest)
        => key.SignData(SnapshotWriter.SignedMessage(digest), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
}
