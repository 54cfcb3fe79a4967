namespace OptOutRegistry.Snapshots;

/// <summary>
/// Constants of the snapshot file format, version 1. The normative description is docs/snapshot-format.md;
/// every number here is named there.
/// </summary>
public static class SnapshotFormat
{
    /// <summary>Current format version (header bytes 8–9).</summary>
    public const ushort Version = 1;

    /// <summary>Length of the fixed header in bytes.</summary>
    public const int HeaderLength = 36;

    /// <summary>Length of a record's prefix: type (1 byte) and payload length (4 bytes, big-endian).</summary>
    public const int RecordPrefixLength = 5;

    /// <summary>
    /// Largest record payload a reader accepts (64 MiB). A reservation holds at most 100,000 selectors, well under
    /// this; anything larger is a corrupt or hostile file, refused before it is buffered.
    /// </summary>
    public const int MaxRecordLength = 64 * 1024 * 1024;

    /// <summary>Largest public key or signature field in the footer.</summary>
    public const int MaxFooterFieldLength = 4096;

    /// <summary>The only signature algorithm of version 1: ECDSA over P-256 with SHA-256, DER-encoded signature.</summary>
    public const byte AlgorithmEcdsaP256Sha256 = 1;

    /// <summary>The first 8 bytes of every snapshot file.</summary>
    public static ReadOnlySpan<byte> Magic => "OPTOUTSN"u8;

    /// <summary>The last 8 bytes of every complete snapshot file (a truncated download lacks them).</summary>
    public static ReadOnlySpan<byte> EndMagic => "SNAPEND\n"u8;

    /// <summary>
    /// Domain separation for the signature: the signed message is this prefix followed by the 32-byte digest, so a
    /// snapshot signature can never be mistaken for a tree-head signature made with the same key.
    /// </summary>
    public static ReadOnlySpan<byte> SignaturePrefix => "optout-registry/snapshot/v1\n"u8;
}

/// <summary>What a snapshot file holds.</summary>
public enum SnapshotKind : byte
{
    /// <summary>Every reservation (in any state, for as-of checks) as of <see cref="SnapshotHeader.AsOfSequence"/>.</summary>
    Full = 1,

    /// <summary>The events after <see cref="SnapshotHeader.SinceSequence"/> up to <see cref="SnapshotHeader.AsOfSequence"/>.</summary>
    Delta = 2,
}

/// <summary>The type byte of a record.</summary>
public enum SnapshotRecordType : byte
{
    /// <summary>Terminates the record section (payload length 0).</summary>
    End = 0,

    /// <summary>A serialized <c>optout.v1.Reservation</c>.</summary>
    Reservation = 1,

    /// <summary>A serialized <c>optout.v1.Event</c> with its <c>sequence</c> set.</summary>
    Event = 2,
}

/// <summary>The fixed header of a snapshot file.</summary>
/// <param name="Kind">Full or delta.</param>
/// <param name="AsOfSequence">The last event sequence reflected in the file; -1 for an empty log.</param>
/// <param name="SinceSequence">For a delta: the sequence of the snapshot it applies to; -1 for a full snapshot.</param>
/// <param name="CreatedAt">When the file was written (server clock, microsecond precision).</param>
public sealed record SnapshotHeader(SnapshotKind Kind, long AsOfSequence, long SinceSequence, DateTimeOffset CreatedAt);

/// <summary>The footer: record count, digest, and the signature with the key that made it.</summary>
/// <param name="RecordCount">Number of records before the end marker.</param>
/// <param name="Digest">SHA-256 of every byte from the start of the file through the record count.</param>
/// <param name="Algorithm">Signature algorithm (<see cref="SnapshotFormat.AlgorithmEcdsaP256Sha256"/>).</param>
/// <param name="PublicKeySpki">The signer's public key, DER SubjectPublicKeyInfo (informative: pin it by fingerprint).</param>
/// <param name="Signature">DER ECDSA signature over <see cref="SnapshotFormat.SignaturePrefix"/> ‖ <see cref="Digest"/>.</param>
public sealed record SnapshotFooter(long RecordCount, byte[] Digest, byte Algorithm, byte[] PublicKeySpki, byte[] Signature)
{
    /// <summary>SHA-256 of <see cref="PublicKeySpki"/>, lower-case hex: the same fingerprint the Feed service publishes.</summary>
    public string KeyFingerprint => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(PublicKeySpki));
}

/// <summary>A snapshot file is malformed, truncated or altered. <see cref="Exception.Message"/> names the part and the offset.</summary>
public sealed class SnapshotFormatException(string message) : Exception(message);
