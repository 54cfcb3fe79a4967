using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// The hosts and authorities (<c>host[:port]</c>) that have rules, each with its record <b>inside</b> its hash slot:
/// 32-byte slots of (64-bit host hash, path-rule list head, host-rule list head, the screen of its path rules). A check
/// that finds its host has the heads of both rule lists, the "has url selectors" bit and the <see cref="PathScreen"/> in
/// the same cache line as the hash, one miss fewer than a slot pointing at a separate record array (issue 3: the covered
/// check was 5–7 misses), and one fewer again for a path that no rule of the host can match (the screen rejects it
/// without reading the rules).
/// <para>Heads are stored +1 so that 0 means "no list" and a fresh slot needs no initialisation; bit 31 of
/// <see cref="Slot.Paths"/> says the host has url selectors (path-rule indices stay below 2³¹).</para>
/// <para>Open addressing with linear probing from cache-line-aligned 2-slot buckets at load ≤ 0.6 and Lemire's range
/// reduction, like <see cref="KeyTable"/> (one slot per hash: a host is added once); storage from <see cref="LargePages"/>
/// (pinned, line-aligned, huge pages where available). One writer, lock-free readers: a new slot's heads are written before
/// its hash (release write); a head is updated with one 32-bit release write after the rule it points to is
/// written; growth copies into a new array published with one reference write — readers on the old array finish
/// on a consistent, possibly older, view, and every check that starts after the write sees it.</para>
/// </summary>
internal sealed class HostTable
{
    /// <summary>Bit of <see cref="Slot.Paths"/>: the authority has url selectors.</summary>
    public const uint HasUrls = 1u << 31;

    private const uint HeadMask = HasUrls - 1;
    private const int MaxLoadPercent = 60;
    private Block _slots;
    private int _count;

    public HostTable(long expected)
    {
        _slots = new Block(KeyTable.CapacityFor(expected, MaxLoadPercent));
    }

    /// <summary>Hosts in the table.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Bytes held by the slot array.</summary>
    public long Bytes => Volatile.Read(ref _slots).Bytes;

    /// <summary>Reader: the current slot array (load once per check).</summary>
    public Block Slots => Volatile.Read(ref _slots);

    /// <summary>
    /// Hints the CPU to load the home bucket of <paramref name="hash"/> and the line after it (a probe that will follow
    /// soon): with 2-slot buckets at load 0.6 about 16 % of the hosts present sit past their home line (simulated),
    /// nearly all of them in the next one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(Block slots, ulong hash)
    {
        ref var home = ref slots[slots.Home(hash)];
        CacheHint.Prefetch(ref home);
        CacheHint.Prefetch(ref Unsafe.Add(ref home, LargePages.CacheLine / 32));
    }

    /// <summary>Reader: the index of the slot holding <paramref name="hash"/> in <paramref name="slots"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Find(Block slots, ulong hash)
    {
        var i = slots.Home(hash);
        while (true)
        {
            var h = Volatile.Read(ref slots[i].Hash);
            if (h == hash)
            {
                return i;
            }

            if (h == 0)
            {
                return -1;
            }

            if (++i == slots.Capacity)
            {
                i = 0;
            }
        }
    }

    /// <summary>The head of a slot's path-rule list, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PathHead(uint paths) => (int)(paths & HeadMask) - 1;

    /// <summary>The head of a slot's host-rule list, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int HostHead(uint hosts) => (int)hosts - 1;

    /// <summary>
    /// Writer: the slot index of <paramref name="hash"/>, adding an empty slot when absent. The index is valid until
    /// the next add (which may grow the table).
    /// </summary>
    public int GetOrAdd(ulong hash, out bool added)
    {
        var slots = _slots;
        var found = Find(slots, hash);
        if (found >= 0)
        {
            added = false;
            return found;
        }

        if ((long)(_count + 1) * 100 > (long)slots.Capacity * MaxLoadPercent)
        {
            slots = Grow(slots);
        }

        added = true;
        var index = Insert(slots, new Slot { Hash = hash });
        Volatile.Write(ref _count, _count + 1);
        return index;
    }

    /// <summary>Writer: marks the authority as having url selectors.</summary>
    public void SetHasUrls(int slot)
    {
        ref var s = ref _slots[slot];
        Volatile.Write(ref s.Paths, s.Paths | HasUrls);
    }

    /// <summary>Writer: the current path-rule head of a slot (-1 when none).</summary>
    public int GetPathHead(int slot) => PathHead(_slots[slot].Paths);

    /// <summary>Writer: the current host-rule head of a slot (-1 when none).</summary>
    public int GetHostHead(int slot) => HostHead(_slots[slot].Hosts);

    /// <summary>Writer: publishes a new path-rule head (the rule must already be written).</summary>
    public void SetPathHead(int slot, int head)
    {
        ref var s = ref _slots[slot];
        Volatile.Write(ref s.Paths, (s.Paths & HasUrls) | (uint)(head + 1));
    }

    /// <summary>
    /// Writer: adds a path rule's screen contribution (<see cref="PathScreen.Describe"/>) to a slot. Call before the
    /// rule is published with <see cref="SetPathHead"/>, so that a reader that sees the rule sees its screen bits.
    /// </summary>
    public void AddScreen(int slot, uint screen, ulong key)
    {
        PathScreen.Bits(key, out var low, out var high);
        ref var s = ref _slots[slot];
        Volatile.Write(ref s.BloomLow, s.BloomLow | low);
        Volatile.Write(ref s.BloomHigh, s.BloomHigh | high);
        Volatile.Write(ref s.Screen, s.Screen | screen);
    }

    /// <summary>Writer: publishes a new host-rule head (the rule must already be written).</summary>
    public void SetHostHead(int slot, int head) => Volatile.Write(ref _slots[slot].Hosts, (uint)(head + 1));

    /// <summary>Writer: every stored hash (for rebuilding the Bloom filter).</summary>
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

    /// <summary>Writer: number of slots (occupied or not), for the post-build compaction's walk.</summary>
    public int Capacity => _slots.Capacity;

    /// <summary>Writer: whether a slot is occupied.</summary>
    public bool IsOccupied(int slot) => _slots[slot].Hash != 0;

    private static int Insert(Block slots, in Slot from)
    {
        var i = slots.Home(from.Hash);
        while (slots[i].Hash != 0)
        {
            if (++i == slots.Capacity)
            {
                i = 0;
            }
        }

        ref var to = ref slots[i];
        to.Paths = from.Paths;
        to.Hosts = from.Hosts;
        to.Screen = from.Screen;
        to.BloomLow = from.BloomLow;
        to.BloomHigh = from.BloomHigh;
        Volatile.Write(ref to.Hash, from.Hash);
        return i;
    }

    private Block Grow(Block old)
    {
        var grown = new Block(KeyTable.CapacityFor(Math.Max(_count + 1, (long)old.Capacity * 3 / 2 * MaxLoadPercent / 100), MaxLoadPercent));
        for (var i = 0; i < old.Capacity; i++)
        {
            ref var s = ref old[i];
            if (s.Hash != 0)
            {
                Insert(grown, in s);
            }
        }

        Volatile.Write(ref _slots, grown);
        return grown;
    }

    /// <summary>The slots: 32 bytes each, in cache-line buckets of 2.</summary>
    internal sealed class Block
    {
        private const int BucketSlots = LargePages.CacheLine / 32;
        private readonly ulong[] _words;
        private readonly int _start;
        private readonly ulong _buckets;

        public Block(int capacity)
        {
            Capacity = capacity;
            _buckets = (ulong)(capacity / BucketSlots);
            _words = LargePages.AllocateWords(capacity * 4L, out _start);
        }

        public int Capacity { get; }

        public long Bytes => (long)_words.Length * sizeof(ulong);

        /// <summary>Slot <paramref name="i"/> (0 ≤ i &lt; <see cref="Capacity"/>).</summary>
        public ref Slot this[int i]
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => ref Unsafe.As<ulong, Slot>(ref _words[_start + (i << 2)]);
        }

        /// <summary>The first slot of the home bucket of <paramref name="hash"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Home(ulong hash) => (int)(((hash >> 32) * _buckets) >> 32) * BucketSlots;
    }

    /// <summary>One host: its hash, the heads of its rule lists (+1; 0 = none) and its <see cref="PathScreen"/>, 32 bytes.</summary>
    internal struct Slot
    {
        public ulong Hash;
        public uint Paths;
        public uint Hosts;

        /// <summary><see cref="PathScreen"/>: cut-class mask (low 16 bits) and flags.</summary>
        public uint Screen;

        /// <summary><see cref="PathScreen"/>: Bloom bits 0–31.</summary>
        public uint BloomLow;

        /// <summary><see cref="PathScreen"/>: Bloom bits 32–95.</summary>
        public ulong BloomHigh;

        /// <summary>Reader: false when no path rule of this host can match <paramref name="path"/> (see <see cref="PathScreen"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool MayMatchPath(ReadOnlySpan<char> path) =>
            PathScreen.MayMatch(Volatile.Read(ref Screen), Volatile.Read(ref BloomLow), Volatile.Read(ref BloomHigh), path);
    }
}
