using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Open-addressing hash table from a 64-bit key hash to 32-bit values, linear probing, several values per
/// hash allowed (each in its own slot). Layout: one array of 16-byte slots (<c>ulong</c> hash, <c>uint</c> value,
/// 4 bytes padding), so a probe costs one cache miss rather than one per parallel array; 0 hash = empty. The capacity is not a power of two: the home slot is <c>(hash₃₂ × capacity) &gt;&gt; 32</c>
/// (Lemire's multiply-shift range reduction), so a table sized for n keys holds them at load 0.8, i.e.
/// 20 bytes per entry, instead of the up-to-2× waste of power-of-two sizing.
/// <para>
/// Concurrency: one writer (the caller serialises writes), any number of lock-free readers. The writer stores
/// the value first and then the hash with a release write, so a reader that sees a hash sees its value.
/// Growth (×1.5) builds a new slot set and publishes it with one reference write; readers on the old set
/// finish unharmed. Entries are never removed (history is kept for as-of checks).
/// </para>
/// </summary>
internal sealed class KeyTable
{
    private const int MaxLoadPercent = 80;
    private Slots _slots;
    private long _count;

    public KeyTable(long expected)
    {
        _slots = new Slots(CapacityFor(expected));
    }

    public long Count => _count;

    /// <summary>Bytes held by the slot arrays.</summary>
    public long Bytes => (long)Volatile.Read(ref _slots).Entries.Length * 16;

    /// <summary>A read cursor over the values stored under <paramref name="hash"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Cursor Find(ulong hash) => new(Volatile.Read(ref _slots), hash);

    /// <summary>
    /// Hints the CPU to load the home slot of <paramref name="hash"/>, so that the miss overlaps with other work
    /// (the check issues it before probing the host table, whose miss it then shares).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong hash)
    {
        var entries = Volatile.Read(ref _slots).Entries;
        CacheHint.Prefetch(ref entries[Home(hash, entries.Length)]);
    }

    /// <summary>Adds a value under a hash (writer only).</summary>
    public void Add(ulong hash, uint value)
    {
        var slots = _slots;
        if ((_count + 1) * 100 > (long)slots.Entries.Length * MaxLoadPercent)
        {
            slots = Grow(slots);
        }

        Insert(slots, hash, value);
        _count++;
    }

    /// <summary>Writer: every stored hash (for rebuilding filters).</summary>
    public IEnumerable<ulong> Hashes()
    {
        foreach (var e in _slots.Entries)
        {
            if (e.Hash != 0)
            {
                yield return e.Hash;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Home(ulong hash, int capacity) => (int)(((hash >> 32) * (ulong)capacity) >> 32);

    private static void Insert(Slots slots, ulong hash, uint value)
    {
        var entries = slots.Entries;
        var capacity = entries.Length;
        var i = Home(hash, capacity);
        while (entries[i].Hash != 0)
        {
            if (++i == capacity)
            {
                i = 0;
            }
        }

        entries[i].Value = value;
        Volatile.Write(ref entries[i].Hash, hash);
    }

    private Slots Grow(Slots old)
    {
        var grown = new Slots(CapacityFor(Math.Max(_count + 1, (long)old.Entries.Length * 3 / 2 * MaxLoadPercent / 100)));
        foreach (var e in old.Entries)
        {
            if (e.Hash != 0)
            {
                Insert(grown, e.Hash, e.Value);
            }
        }

        Volatile.Write(ref _slots, grown);
        return grown;
    }

    private static int CapacityFor(long expected)
    {
        var capacity = Math.Max(8, (expected * 100 / MaxLoadPercent) + 1);
        if (capacity > Array.MaxLength)
        {
            throw new InvalidOperationException($"A key table of {expected} entries exceeds the largest array; shard the index.");
        }

        return (int)capacity;
    }

    internal sealed class Slots(int capacity)
    {
        public readonly Entry[] Entries = new Entry[capacity];
    }

    internal struct Entry
    {
        public ulong Hash;
        public uint Value;
    }

    /// <summary>Iterates the values stored under one hash. A struct: no allocation.</summary>
    public struct Cursor
    {
        private readonly Entry[] _entries;
        private readonly ulong _hash;
        private int _index;

        internal Cursor(Slots slots, ulong hash)
        {
            _entries = slots.Entries;
            _hash = hash;
            _index = Home(hash, _entries.Length);
        }

        /// <summary>Moves to the next value under the hash; false at the end of the probe run.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Next(out uint value)
        {
            var entries = _entries;
            var i = _index;
            while (true)
            {
                var h = Volatile.Read(ref entries[i].Hash);
                if (h == 0)
                {
                    _index = i;
                    value = 0;
                    return false;
                }

                var slot = i;
                if (++i == entries.Length)
                {
                    i = 0;
                }

                if (h == _hash)
                {
                    _index = i;
                    value = entries[slot].Value;
                    return true;
                }
            }
        }
    }
}
