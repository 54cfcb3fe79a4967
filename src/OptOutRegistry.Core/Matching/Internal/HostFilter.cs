using System.Numerics;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// A blocked Bloom filter over the host-table key hashes: one 64-bit word per key with two bits set. Most hosts a
/// crawler checks have no rules, and the label suffixes of such a host are rejected here — a small array that stays
/// in cache — instead of by probes into the host table, which at tens of millions of selectors is far larger than
/// the cache. No false negatives; about 4 % false positives at 10 bits per key, which only cost the table probe that
/// would have happened anyway.
/// <para>One writer (sets bits with atomic OR), lock-free readers. When the keys outgrow the sizing, the writer builds
/// a larger filter from the table's hashes and publishes it with one reference write.</para>
/// </summary>
internal sealed class HostFilter
{
    private const int BitsPerKey = 10;
    private Words _words;

    public HostFilter(long expectedKeys)
    {
        _words = new Words(expectedKeys);
    }

    public long Bytes => (long)Volatile.Read(ref _words).Data.Length * sizeof(ulong);

    /// <summary>The number of keys the current filter was sized for.</summary>
    public long Capacity => Volatile.Read(ref _words).Capacity;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MayContain(ulong hash)
    {
        var words = Volatile.Read(ref _words);
        var bits = Bits(hash);
        return (Volatile.Read(ref words.Data[words.Start + ((int)(hash >> 20) & words.Mask)]) & bits) == bits;
    }

    /// <summary>Writer: adds a key hash.</summary>
    public void Add(ulong hash)
    {
        var words = _words;
        Interlocked.Or(ref words.Data[words.Start + ((int)(hash >> 20) & words.Mask)], Bits(hash));
    }

    /// <summary>Writer: replaces the filter with one sized for <paramref name="expectedKeys"/>, filled from <paramref name="hashes"/>.</summary>
    public void Rebuild(long expectedKeys, IEnumerable<ulong> hashes)
    {
        var words = new Words(expectedKeys);
        foreach (var h in hashes)
        {
            words.Data[words.Start + ((int)(h >> 20) & words.Mask)] |= Bits(h);
        }

        Volatile.Write(ref _words, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Bits(ulong hash) => (1UL << (int)(hash & 63)) | (1UL << (int)((hash >> 6) & 63));

    private sealed class Words
    {
        public Words(long expectedKeys)
        {
            var count = BitOperations.RoundUpToPowerOf2((ulong)Math.Max(64, expectedKeys * BitsPerKey / 64));
            count = Math.Min(count, 1UL << 30);
            // From LargePages: at 10 M selectors the filter is 2 MiB, one huge page, so its probes never miss the TLB.
            Data = LargePages.AllocateWords((long)count, out var start);
            Start = start;
            Mask = (int)count - 1;
            Capacity = (long)count * 64 / BitsPerKey;
        }

        public ulong[] Data { get; }

        public int Mask { get; }

        /// <summary>Index of word 0 in <see cref="Data"/>.</summary>
        public int Start { get; }

        public long Capacity { get; }
    }
}
