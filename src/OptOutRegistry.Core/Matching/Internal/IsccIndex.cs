using System.Numerics;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Near-duplicate search over 64-bit ISCC unit heads by multi-index hashing (Norouzi, Punjani, Fleet,
/// "Fast Search in Hamming Space with Multi-Index Hashing", CVPR 2012). Each head is split into
/// <see cref="Blocks"/> 16-bit blocks, each block value has a bucket (a linked list through <c>_next</c>).
/// Pigeonhole principle: if two heads differ in at most r bits, some block differs in at most ⌊r / 4⌋ bits,
/// so a query enumerates, per block, every value within that radius (for r = 8: 1 + 16 + 120 = 137 buckets)
/// and checks the full distance only for the candidates found there. A candidate is reported from the first
/// block in which it is within the radius, so nothing is reported twice.
/// <para>Memory per unit: head 8 B + value 4 B + text reference 4 B + type 2 B + flag 1 B + 4 × next 4 B = 40 B with padding, plus fixed 4 × 65,536 bucket heads.</para>
/// <para>One writer, lock-free readers: an entry is fully written before it is linked into its buckets.</para>
/// </summary>
internal sealed class IsccIndex
{
    public const int Blocks = 4;
    private const int BucketsPerBlock = 1 << 16;

    private readonly int[] _heads = new int[Blocks * BucketsPerBlock];
    private readonly AppendArray<Entry> _entries = new(16);

    public IsccIndex(int maxDistance)
    {
        if (maxDistance is < 0 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDistance), maxDistance, "The Hamming threshold must be between 0 and 32 bits of 64.");
        }

        MaxDistance = maxDistance;
        BlockRadius = maxDistance / Blocks;
        Array.Fill(_heads, -1);
    }

    /// <summary>Largest Hamming distance (of 64 bits) that counts as a near-duplicate.</summary>
    public int MaxDistance { get; }

    /// <summary>Radius searched in each block: ⌊MaxDistance / Blocks⌋.</summary>
    public int BlockRadius { get; }

    public int Count => _entries.Count;

    public long Bytes => (long)_heads.Length * sizeof(int) + (long)_entries.Capacity * 40;

    /// <summary>Writer: indexes a unit head of a comparable type with its value (reservation reference).</summary>
    public void Add(ulong head, ushort typeKey, uint value, bool exactOnly, uint text)
    {
        var entry = new Entry { Head = head, TypeKey = typeKey, Value = value, ExactOnly = exactOnly, Text = text };
        var index = _entries.Count;
        for (var b = 0; b < Blocks; b++)
        {
            entry.Next(b) = _heads[Bucket(b, head)];
        }

        _entries.Add(entry);
        for (var b = 0; b < Blocks; b++)
        {
            Volatile.Write(ref _heads[Bucket(b, head)], index);
        }
    }

    /// <summary>
    /// Calls <paramref name="sink"/> for every indexed unit of type <paramref name="typeKey"/> within
    /// <see cref="MaxDistance"/> of <paramref name="head"/> (exact-only units: distance 0).
    /// </summary>
    public void Search<TSink>(ulong head, ushort typeKey, ref TSink sink)
        where TSink : struct, IIsccSink
    {
        for (var b = 0; b < Blocks; b++)
        {
            var q = (int)((head >> (16 * b)) & 0xFFFF);
            // Enumerate all block values within BlockRadius of q by flipping up to BlockRadius bits (radius ≤ 8
            // for the supported thresholds; 16 choose 2 = 120 at the default).
            EnumerateFlips(b, q, 0, 0, head, typeKey, ref sink);
        }
    }

    private void EnumerateFlips<TSink>(int block, int value, int firstBit, int depth, ulong head, ushort typeKey, ref TSink sink)
        where TSink : struct, IIsccSink
    {
        ScanBucket(block, value, head, typeKey, ref sink);
        if (depth == BlockRadius)
        {
            return;
        }

        for (var bit = firstBit; bit < 16; bit++)
        {
            EnumerateFlips(block, value ^ (1 << bit), bit + 1, depth + 1, head, typeKey, ref sink);
        }
    }

    private void ScanBucket<TSink>(int block, int value, ulong head, ushort typeKey, ref TSink sink)
        where TSink : struct, IIsccSink
    {
        var e = Volatile.Read(ref _heads[(block * BucketsPerBlock) + value]);
        if (e < 0)
        {
            return;
        }

        var entries = _entries.Items;
        while (e >= 0)
        {
            ref var entry = ref entries[e];
            if (entry.TypeKey == typeKey)
            {
                var distance = BitOperations.PopCount(entry.Head ^ head);
                if ((entry.ExactOnly ? distance == 0 : distance <= MaxDistance) && FirstBlockWithin(entry.Head ^ head) == block)
                {
                    sink.Add(entry.Value, entry.Head, distance, entry.Text);
                }
            }

            e = entry.Next(block);
        }
    }

    private int FirstBlockWithin(ulong diff)
    {
        for (var b = 0; b < Blocks; b++)
        {
            if (BitOperations.PopCount((diff >> (16 * b)) & 0xFFFF) <= BlockRadius)
            {
                return b;
            }
        }

        return -1;
    }

    private static int Bucket(int block, ulong head) => (block * BucketsPerBlock) + (int)((head >> (16 * block)) & 0xFFFF);

    private struct Entry
    {
        public ulong Head;
        public uint Value;
        public uint Text;
        public ushort TypeKey;
        public bool ExactOnly;
        public NextLinks Links;

        [System.Diagnostics.CodeAnalysis.UnscopedRef]
        public ref int Next(int block) => ref Links[block];
    }

    [System.Runtime.CompilerServices.InlineArray(Blocks)]
    internal struct NextLinks
    {
        private int _element;
    }
}

/// <summary>Receives ISCC search hits.</summary>
internal interface IIsccSink
{
    void Add(uint value, ulong head, int distance, uint text);
}
