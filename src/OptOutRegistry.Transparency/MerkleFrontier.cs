namespace OptOutRegistry.Transparency;

/// <summary>
/// The right edge of a Merkle tree of <see cref="Size"/> leaves (a "compact range"): the root of the
/// complete subtree for each set bit of the size. It is enough to append a leaf, emitting every node that
/// the new leaf completes, and to compute the current root, with O(log n) hashes and no reads.
/// </summary>
public sealed class MerkleFrontier
{
    private readonly byte[]?[] _levels = new byte[]?[MerkleNodeId.MaxLevel + 1];

    /// <summary>Number of leaves appended so far.</summary>
    public long Size { get; private set; }

    /// <summary>Creates the frontier of the empty tree.</summary>
    public MerkleFrontier()
    {
    }

    /// <summary>
    /// Restores a frontier from <see cref="Serialize"/>'s output: the subtree roots ordered from the highest
    /// level to the lowest, one per set bit of <paramref name="size"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The blob does not hold exactly one hash per set bit.</exception>
    public static MerkleFrontier Deserialize(long size, ReadOnlySpan<byte> blob)
    {
        if (size < 0)
        {
            throw new InvalidDataException($"Merkle frontier size {size} is negative.");
        }

        var expected = System.Numerics.BitOperations.PopCount((ulong)size) * MerkleHash.Size;
        if (blob.Length != expected)
        {
            throw new InvalidDataException(
                $"Merkle frontier for size {size} must hold {expected} bytes but holds {blob.Length}.");
        }

        var frontier = new MerkleFrontier { Size = size };
        var offset = 0;
        for (var level = MerkleNodeId.MaxLevel; level >= 0; level--)
        {
            if ((size & (1L << level)) != 0)
            {
                frontier._levels[level] = blob.Slice(offset, MerkleHash.Size).ToArray();
                offset += MerkleHash.Size;
            }
        }

        return frontier;
    }

    /// <summary>Serialises the subtree roots, highest level first (see <see cref="Deserialize"/>).</summary>
    public byte[] Serialize()
    {
        var result = new byte[System.Numerics.BitOperations.PopCount((ulong)Size) * MerkleHash.Size];
        var offset = 0;
        for (var level = MerkleNodeId.MaxLevel; level >= 0; level--)
        {
            if (_levels[level] is { } hash)
            {
                hash.CopyTo(result, offset);
                offset += MerkleHash.Size;
            }
        }

        return result;
    }

    /// <summary>
    /// Appends a leaf hash; every complete subtree of level ≥ 1 that this leaf closes is passed to
    /// <paramref name="completedNode"/> (lowest level first). Returns the new leaf's index.
    /// </summary>
    public long Append<TSink>(ReadOnlySpan<byte> leafHash, ref TSink completedNode)
        where TSink : struct, IMerkleNodeSink
    {
        if (leafHash.Length != MerkleHash.Size)
        {
            throw new ArgumentException($"A leaf hash must be {MerkleHash.Size} bytes.", nameof(leafHash));
        }

        var leafIndex = Size;
        var hash = leafHash.ToArray();
        var index = leafIndex;
        var level = 0;
        while ((index & 1) == 1)
        {
            var left = _levels[level]!;
            _levels[level] = null;
            var parent = new byte[MerkleHash.Size];
            MerkleHash.HashChildren(left, hash, parent);
            hash = parent;
            level++;
            index >>= 1;
            completedNode.Add(new MerkleNodeId(level, index), hash);
        }

        _levels[level] = hash;
        Size = leafIndex + 1;
        return leafIndex;
    }

    /// <summary>Appends a leaf hash, discarding the completed nodes.</summary>
    public long Append(ReadOnlySpan<byte> leafHash)
    {
        var sink = default(DiscardSink);
        return Append(leafHash, ref sink);
    }

    /// <summary>The root hash of the tree as it stands (RFC 9162 MTH of all leaves).</summary>
    public byte[] ComputeRoot()
    {
        byte[]? acc = null;
        for (var level = 0; level <= MerkleNodeId.MaxLevel; level++)
        {
            if (_levels[level] is { } hash)
            {
                acc = acc is null ? hash.ToArray() : MerkleHash.HashChildren(hash, acc);
            }
        }

        return acc ?? MerkleHash.EmptyRoot.ToArray();
    }

    private struct DiscardSink : IMerkleNodeSink
    {
        public readonly void Add(MerkleNodeId id, byte[] hash)
        {
        }
    }
}

/// <summary>Receives the nodes a <see cref="MerkleFrontier"/> append completes (a struct, so the JIT specialises).</summary>
public interface IMerkleNodeSink
{
    /// <summary>Called once per completed node.</summary>
    void Add(MerkleNodeId id, byte[] hash);
}
