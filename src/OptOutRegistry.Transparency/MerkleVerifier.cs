namespace OptOutRegistry.Transparency;

/// <summary>
/// Offline verification of RFC 9162 proofs: needs no store, only the hashes a receipt carries.
/// Rejects exactly what transparency-dev/merkle's proof/verify.go rejects (the probes in the test corpus).
/// </summary>
public static class MerkleVerifier
{
    /// <summary>
    /// Verifies that <paramref name="leafHash"/> is leaf <paramref name="leafIndex"/> of the tree of
    /// <paramref name="treeSize"/> leaves whose root is <paramref name="rootHash"/> (RFC 9162 §2.1.3.2).
    /// </summary>
    public static bool VerifyInclusion(
        long leafIndex, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> rootHash)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (leafIndex < 0 || leafIndex >= treeSize || leafHash.Length != MerkleHash.Size)
        {
            return false;
        }

        var computed = RootFromInclusionProof(leafIndex, treeSize, leafHash, proof);
        return computed is not null && rootHash.SequenceEqual(computed);
    }

    /// <summary>
    /// Verifies that the tree of <paramref name="size2"/> leaves with root <paramref name="root2"/> extends the
    /// tree of <paramref name="size1"/> leaves with root <paramref name="root1"/> (RFC 9162 §2.1.4.2).
    /// </summary>
    public static bool VerifyConsistency(
        long size1, long size2, ReadOnlySpan<byte> root1, ReadOnlySpan<byte> root2, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (size2 < size1 || size1 <= 0)
        {
            // The empty tree is consistent with everything, so a "proof" from it proves nothing: reject,
            // as verify.go does.
            return false;
        }

        if (size1 == size2)
        {
            // verify.go: equal sizes need an empty proof and identical roots, nothing more.
            return proof.Count == 0 && root1.SequenceEqual(root2);
        }

        if (proof.Count == 0)
        {
            return false;
        }

        // RFC 9162 §2.1.4.2 step 2: when size1 is a power of two the old root is implied, not sent.
        var path = new List<byte[]>(proof.Count + 1);
        if ((size1 & (size1 - 1)) == 0)
        {
            path.Add(root1.ToArray());
        }

        path.AddRange(proof);

        var fn = size1 - 1;
        var sn = size2 - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        var fr = path[0];
        var sr = path[0];
        for (var i = 1; i < path.Count; i++)
        {
            var c = path[i];
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = MerkleHash.HashChildren(c, fr);
                sr = MerkleHash.HashChildren(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = MerkleHash.HashChildren(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && root1.SequenceEqual(fr) && root2.SequenceEqual(sr);
    }

    /// <summary>
    /// The root implied by an inclusion proof, or <c>null</c> when the proof has the wrong length for the
    /// index and size (RFC 9162 §2.1.3.2 steps 1–4).
    /// </summary>
    public static byte[]? RootFromInclusionProof(long leafIndex, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (leafIndex < 0 || leafIndex >= treeSize || leafHash.Length != MerkleHash.Size)
        {
            return null;
        }

        var fn = leafIndex;
        var sn = treeSize - 1;
        var r = leafHash.ToArray();
        for (var i = 0; i < proof.Count; i++)
        {
            var p = proof[i];
            if (sn == 0)
            {
                return null;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = MerkleHash.HashChildren(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = MerkleHash.HashChildren(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 ? r : null;
    }
}
