using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Reliability.Crash;

/// <summary>The offline checks a log monitor does (RFC 9162 §2.1.3.2 inclusion, §2.1.4.2 consistency, signed heads).</summary>
internal static class TransparencyChecks
{
    /// <summary>Verifies a signed tree head with the registry's public key, as ReceiptVerifier does for a receipt's head.</summary>
    public static bool VerifyHeadSignature(Pb.SignedTreeHead head, string publicKeyPem)
    {
        if (head.Timestamp is null || head.RootHash.Length != MerkleHash.Size)
        {
            return false;
        }

        var ms = (head.Timestamp.Seconds * 1000) + (head.Timestamp.Nanos / 1_000_000);
        var signed = new SignedTreeHead(head.TreeSize, head.RootHash.ToByteArray(), DateTimeOffset.FromUnixTimeMilliseconds(ms),
            head.Signature.ToByteArray(), head.KeyFingerprint);
        return TreeHeadSigner.Verify(signed, publicKeyPem);
    }

    /// <summary>Whether <paramref name="proof"/> shows the leaf bytes at <paramref name="leafIndex"/> in the tree (size, root).</summary>
    public static bool VerifyInclusion(ReadOnlySpan<byte> leafData, long leafIndex, long treeSize, ReadOnlySpan<byte> root, Pb.InclusionProof proof) =>
        proof.LeafIndex == leafIndex && proof.TreeSize == treeSize
        && MerkleVerifier.VerifyInclusion(leafIndex, treeSize, MerkleHash.HashLeaf(leafData), ToArrays(proof.Hashes), root);

    /// <summary>Whether <paramref name="proof"/> shows the tree (size1, root1) is a prefix of (size2, root2).</summary>
    public static bool VerifyConsistency(long size1, ReadOnlySpan<byte> root1, long size2, ReadOnlySpan<byte> root2, Pb.ConsistencyProof proof) =>
        proof.FirstSize == size1 && proof.SecondSize == size2 && MerkleVerifier.VerifyConsistency(size1, size2, root1, root2, ToArrays(proof.Hashes));

    private static byte[][] ToArrays(Google.Protobuf.Collections.RepeatedField<Google.Protobuf.ByteString> hashes)
    {
        var result = new byte[hashes.Count][];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = hashes[i].ToByteArray();
        }

        return result;
    }
}
