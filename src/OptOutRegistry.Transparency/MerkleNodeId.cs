namespace OptOutRegistry.Transparency;

/// <summary>
/// A complete (perfect) subtree of the log: level <see cref="Level"/> (0 = leaves) and position
/// <see cref="Index"/> within that level. It covers leaves [Index·2^Level, (Index+1)·2^Level).
/// Such nodes never change once written, which is why the store can keep them.
/// </summary>
public readonly record struct MerkleNodeId(int Level, long Index)
{
    /// <summary>The largest level a log of at most 2^62 leaves can have.</summary>
    public const int MaxLevel = 62;

    /// <summary>Packs the id into one 64-bit key (level in the top 6 bits) for storage.</summary>
    public long ToKey() => ((long)Level << 56) | Index;

    /// <summary>Inverse of <see cref="ToKey"/>.</summary>
    public static MerkleNodeId FromKey(long key) => new((int)(key >>> 56), key & ((1L << 56) - 1));
}
