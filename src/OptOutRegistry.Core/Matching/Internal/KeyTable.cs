using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Open-addressing hash table from a 64-bit key hash to a 32-bit value and 32 bits of inline data, linear probing,
/// several values per hash allowed (each in its own slot). Slots are 16 bytes (<c>ulong</c> hash, <c>uint</c> value,
/// <c>uint</c> extra); 0 hash = empty.
/// <para><b>Cache lines, not slots.</b> A probe starts at the first slot of a 4-slot bucket, and buckets are cache
/// lines (the storage is line-aligned, <see cref="LargePages"/>). Linear probing stops at the first empty slot, so a
/// lookup touches one line unless its home bucket is full. With plain slot-granular linear probing at load 0.8 an
/// unsuccessful lookup — every uncovered URL on a host that has url selectors, and every successful one too since all
/// values under a hash are collected — scanned ~13 slots (≈ 3–4 lines) on average; bucket-aligned at load 0.6 it
/// reads 1.5 lines (simulated: 1.50 buckets; 2.1 at 0.7, 3.7 at 0.8), and <see cref="Prefetch"/> asks for both lines
/// at once. The home bucket is <c>(hash₃₂ × buckets) &gt;&gt; 32</c> (Lemire's range reduction), so capacity need not
/// be a power of two.</para>
/// <para>Concurrency: one writer (the caller serialises writes), any number of lock-free readers. The writer stores
/// value and extra first and then the hash with a release write, so a reader that sees a hash sees its data.
/// Growth (×1.5) builds a new slot set and publishes it with one reference write; readers on the old set
/// finish unharmed. Entries are never removed (history is kept for as-of checks).</para>
/// </summary>
internal sealed class KeyTable
{
    private readonly int _maxLoadPercent;
    private Slots _slots;
    private long _count;

    /// <param name="expected">Entries to size for.</param>
    /// <param name="maxLoadPercent">Load at which the table grows: lower means fewer lines per lookup, more bytes.</param>
    public KeyTable(long expected, int maxLoadPercent = 80)
    {
        _maxLoadPercent = maxLoadPercent;
        _slots = new Slots(CapacityFor(expected, maxLoadPercent));
    }

    public long Count => _count;

    /// <summary>Bytes held by the slot arrays.</summary>
    public long Bytes => Volatile.Read(ref _slots).Bytes;

    /// <summary>A read cursor over the values stored under <paramref name="hash"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Cursor Find(ulong hash) => new(Volatile.Read(ref _slots), hash);

    /// <summary>
    /// Hints the CPU to load the home bucket of <paramref name="hash"/> and the line after it (the overflow bucket), so
    /// that the misses overlap with other work.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong hash)
    {
        var slots = Volatile.Read(ref _slots);
        ref var home = ref slots[slots.Home(hash)];
        CacheHint.Prefetch(ref home);
        CacheHint.Prefetch(ref Unsafe.Add(ref home, Slots.BucketSlots));
    }

    /// <summary>Adds a value (and its inline data) under a hash (writer only).</summary>
    public void Add(ulong hash, uint value, uint extra = 0)
    {
        var slots = _slots;
        if ((_count + 1) * 100 > (long)slots.Capacity * _maxLoadPercent)
        {
            slots = Grow(slots);
        }

        Insert(slots, hash, value, extra);
        _count++;
    }

    /// <summary>Writer: every stored hash (for rebuilding filters).</summary>
    public IEnumerable<ulong> Hashes()
    {
        var slots = _slots;
        for (var i = 0; i < slots.Capacity; i++)
        {
            var h = slots[i].Hash;
            if (h != 0)
            {
                yield return h;
            }
        }
    }

    private static void Insert(Slots slots, ulong hash, uint value, uint extra)
    {
        var capacity = slots.Capacity;
        var i = slots.Home(hash);
        while (slots[i].Hash != 0)
        {
            if (++i == capacity)
            {
                i = 0;
            }
        }

        ref var entry = ref slots[i];
        entry.Value = value;
        entry.Extra = extra;
        Volatile.Write(ref entry.Hash, hash);
    }

    private Slots Grow(Slots old)
    {
        var grown = new Slots(CapacityFor(Math.Max(_count + 1, (long)old.Capacity * 3 / 2 * _maxLoadPercent / 100), _maxLoadPercent));
        for (var i = 0; i < old.Capacity; i++)
        {
            ref var e = ref old[i];
            if (e.Hash != 0)
            {
                Insert(grown, e.Hash, e.Value, e.Extra);
            }
        }

        Volatile.Write(ref _slots, grown);
        return grown;
    }

    /// <summary>Slots for <paramref name="expected"/> entries at the load limit, rounded up to whole buckets.</summary>
    internal static int CapacityFor(long expected, int maxLoadPercent)
    {
        var capacity = Math.Max(2 * Slots.BucketSlots, (expected * 100 / maxLoadPercent) + 1);
        capacity = (capacity + Slots.BucketSlots - 1) / Slots.BucketSlots * Slots.BucketSlots;
        if (capacity * 2 > Array.MaxLength - 1024)
        {
            throw new InvalidOperationException($"A key table of {expected} entries exceeds the largest array; shard the index.");
        }

        return (int)capacity;
    }

    /// <summary>One slot set: 16-byte entries in cache-line buckets of 4 (see <see cref="LargePages"/>).</summary>
    internal sealed class Slots
    {
        public const int BucketSlots = LargePages.CacheLine / 16;

        private readonly ulong[] _words;
        private readonly int _start;
        private readonly ulong _buckets;

        public Slots(int capacity)
        {
            Capacity = capacity;
            _buckets = (ulong)(capacity / BucketSlots);
            _words = LargePages.AllocateWords(capacity * 2L, out _start);
        }

        public int Capacity { get; }

        public long Bytes => (long)_words.Length * sizeof(ulong);

        /// <summary>Slot <paramref name="i"/> (0 ≤ i &lt; <see cref="Capacity"/>).</summary>
        public ref Entry this[int i]
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => ref Unsafe.As<ulong, Entry>(ref _words[_start + (i << 1)]);
        }

        /// <summary>The first slot of the home bucket of <paramref name="hash"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Home(ulong hash) => (int)(((hash >> 32) * _buckets) >> 32) * BucketSlots;
    }

    internal struct Entry
    {
        public ulong Hash;
        public uint Value;
        public uint Extra;
    }

    /// <summary>Iterates the values stored under one hash. A struct: no allocation.</summary>
    public struct Cursor
    {
        private readonly Slots _slots;
        private readonly ulong _hash;
        private int _index;

        internal Cursor(Slots slots, ulong hash)
        {
            _slots = slots;
            _hash = hash;
            _index = slots.Home(hash);
        }

        /// <summary>Moves to the next value under the hash; false at the end of the probe run.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Next(out uint value) => Next(out value, out _);

        /// <summary>Moves to the next value and its inline data; false at the end of the probe run.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Next(out uint value, out uint extra)
        {
            var slots = _slots;
            var i = _index;
            while (true)
            {
                ref var entry = ref slots[i];
                var h = Volatile.Read(ref entry.Hash);
                if (h == 0)
                {
                    _index = i;
                    value = 0;
                    extra = 0;
                    return false;
                }

                if (++i == slots.Capacity)
                {
                    i = 0;
                }

                if (h == _hash)
                {
                    _index = i;
                    value = entry.Value;
                    extra = entry.Extra;
                    return true;
                }
            }
        }
    }
}
