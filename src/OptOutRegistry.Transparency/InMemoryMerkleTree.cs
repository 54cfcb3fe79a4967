namespace OptOutRegistry.Transparency;

/// <summary>
/// A Merkle tree held in memory, built the same way the stores build theirs (every complete subtree kept).
/// For offline tools that rebuild a log from its events, and as the reference the stores are tested against.
/// </summary>
public sealed class InMemoryMerkleTree
{
    private readonly Dictionary<MerkleNodeId, byte[]> _nodes = [];
    private readonly MerkleFrontier _frontier = new();

    /// <summary>Number of leaves.</summary>
    public long Size => _frontier.Size;

    /// <summary>Appends a leaf by its leaf hash and returns its index.</summary>
    public long AppendLeafHash(ReadOnlySpan<byte> leafHash)
    {
        var index = _frontier.Size;
        var sink = new DictionarySink(_nodes);
        _frontier.Append(leafHash, ref sink);
        _nodes[new MerkleNodeId(0, index)] = leafHash.ToArray();
        return index;
    }

    /// <summary>Appends a leaf by its data (hashed per RFC 9162 §2.1.1) and returns its index.</summary>
    public long AppendLeaf(ReadOnlySpan<byte> leafData) => AppendLeafHash(MerkleHash.HashLeaf(leafData));

    /// <summary>The current root.</summary>
    public byte[] Root => _frontier.ComputeRoot();

    /// <summary>The root at an earlier size.</summary>
    public byte[] RootAt(long treeSize)
    {
        EnsureSize(treeSize);
        return treeSize == 0 ? MerkleHash.EmptyRoot.ToArray() : MerkleProofPlan.ForRoot(treeSize).Resolve(Lookup)[0];
    }

    /// <summary>The inclusion proof of a leaf in the tree at <paramref name="treeSize"/>.</summary>
    public byte[][] InclusionProof(long leafIndex, long treeSize)
    {
        EnsureSize(treeSize);
        return MerkleProofPlan.ForInclusion(leafIndex, treeSize).Resolve(Lookup);
    }

    /// <summary>The consistency proof between two sizes.</summary>
    public byte[][] ConsistencyProof(long size1, long size2)
    {
        EnsureSize(size2);
        return MerkleProofPlan.ForConsistency(size1, size2).Resolve(Lookup);
    }

    private byte[]? Lookup(MerkleNodeId id) => _nodes.GetValueOrDefault(id);

    private void EnsureSize(long treeSize)
    {
        if (treeSize < 0 || treeSize > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(treeSize), $"Tree size {treeSize} is outside 0..{Size}.");
        }
    }

    private readonly struct DictionarySink(Dictionary<MerkleNodeId, byte[]> nodes) : IMerkleNodeSink
    {
        public void Add(MerkleNodeId id, byte[] hash) => nodes[id] = hash;
    }
}
