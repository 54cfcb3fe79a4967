using System.Buffers.Binary;
using System.Text;

namespace OptOutRegistry.Transparency;

/// <summary>
/// A tree head signed by the log: the log had <see cref="TreeSize"/> leaves with root <see cref="RootHash"/> at
/// <see cref="Timestamp"/> (millisecond precision). <see cref="Signature"/> is an ECDSA P-256 / SHA-256 signature,
/// DER-encoded (RFC 3279 Ecdsa-Sig-Value), over <see cref="Encode(long, ReadOnlySpan{byte}, long)"/>.
/// </summary>
public sealed record SignedTreeHead(long TreeSize, byte[] RootHash, DateTimeOffset Timestamp, byte[] Signature, string KeyFingerprint)
{
    /// <summary>Domain separation prefix of the signed encoding ("optout-registry/tree-head/v1\n").</summary>
    public static ReadOnlySpan<byte> Prefix => "optout-registry/tree-head/v1\n"u8;

    /// <summary>Length of the signed encoding.</summary>
    public static int EncodedLength => Prefix.Length + 8 + 8 + MerkleHash.Size;

    /// <summary>
    /// The canonical bytes that are signed:
    /// <c>"optout-registry/tree-head/v1\n" ‖ uint64be(tree_size) ‖ uint64be(timestamp_ms since Unix epoch) ‖ root_hash[32]</c>.
    /// Fixed length, no optional fields, so there is exactly one encoding per head (check with openssl:
    /// <c>openssl dgst -sha256 -verify key.pem -signature sig.der head.bin</c>).
    /// </summary>
    public static byte[] Encode(long treeSize, ReadOnlySpan<byte> rootHash, long timestampMilliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(treeSize);
        ArgumentOutOfRangeException.ThrowIfNegative(timestampMilliseconds);
        if (rootHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException($"The root hash must be {MerkleHash.Size} bytes.", nameof(rootHash));
        }

        var bytes = new byte[EncodedLength];
        Prefix.CopyTo(bytes);
        var span = bytes.AsSpan(Prefix.Length);
        BinaryPrimitives.WriteUInt64BigEndian(span, (ulong)treeSize);
        BinaryPrimitives.WriteUInt64BigEndian(span[8..], (ulong)timestampMilliseconds);
        rootHash.CopyTo(span[16..]);
        return bytes;
    }

    /// <summary>The canonical signed bytes of this head.</summary>
    public byte[] Encode() => Encode(TreeSize, RootHash, Timestamp.ToUnixTimeMilliseconds());

    /// <inheritdoc/>
    public override string ToString() =>
        new StringBuilder().Append("tree_size=").Append(TreeSize)
            .Append(" root=").Append(Convert.ToHexStringLower(RootHash))
            .Append(" timestamp=").Append(Timestamp.ToString("O"))
            .Append(" key=").Append(KeyFingerprint).ToString();
}
