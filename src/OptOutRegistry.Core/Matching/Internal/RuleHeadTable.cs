using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// The literal heads of a host's prefix and pattern rules, up to <see cref="Capacity"/> of them in one 64-byte line
/// found by the host's hash — so a check reaches them in parallel with the host slot instead of after it. Without it,
/// an uncovered URL on a host with rules waits for two cache misses in a row (the host slot, which holds the head of
/// the rule list, then the rules); with it, for one (host slot ∥ URL slot ∥ this line), and it touches a rule itself
/// only when its head matches the path (issue 3: at 10 M selectors each dependent miss is ~170 ns here).
/// <para>Line layout (8 words): 0 host hash (0 = empty); 1 meta (low 32 bits: count in bits 0–2, bit 3 "more rules than
/// fit: walk the list", then 6 bits per entry: head length 0–8 and kind) and entry 0's rule index (high 32 bits);
/// 2–5 the heads (first up to 8 ASCII characters of the literal part, as <see cref="PathRule.Head"/>); 6–7 the rule
/// indices of entries 1–3. A host gets a line with its first prefix/pattern rule.</para>
/// <para>Open addressing, one line per bucket, linear probing at load ≤ 0.5 (1.5 lines per lookup; <see cref="Prefetch"/>
/// asks for two). One writer, lock-free readers: an entry is written before the meta word that counts it (release
/// write); a new line's meta before its hash; growth copies and publishes. Storage from <see cref="LargePages"/>.</para>
/// </summary>
internal sealed class RuleHeadTable
{
    /// <summary>Rule heads per line.</summary>
    public const int Capacity = 4;

    /// <summary>Meta bit: the host has more rules than the line holds (the reader walks the full list).</summary>
    public const uint Overflow = 1u << 3;

    private const int MaxLoadPercent = 50;
    private const int LineWords = 8;
    private Lines _lines;
    private long _count;

    public RuleHeadTable(long expectedHosts)
    {
        _lines = new Lines(CapacityFor(expectedHosts));
    }

    /// <summary>Bytes held.</summary>
    public long Bytes => Volatile.Read(ref _lines).Bytes;

    /// <summary>Reader: the current lines (load once per check).</summary>
    public Lines Current => Volatile.Read(ref _lines);

    /// <summary>Hints the CPU to load the line of <paramref name="hash"/> and the next one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong hash)
    {
        var lines = Volatile.Read(ref _lines);
        ref var word = ref lines.Word(lines.Home(hash), 0);
        CacheHint.Prefetch(ref word);
        CacheHint.Prefetch(ref Unsafe.Add(ref word, LineWords));
    }

    /// <summary>Writer: records rule <paramref name="index"/> of the host with <paramref name="hash"/>.</summary>
    public void Add(ulong hash, int index, ulong head, int headLength, byte kind)
    {
        var lines = _lines;
        var line = Lines.Find(lines, hash);
        if (line < 0)
        {
            if ((_count + 1) * 100 > (long)lines.Count * MaxLoadPercent)
            {
                lines = Grow(lines);
            }

            line = Insert(lines, hash, default);
            _count++;
        }

        ref var meta = ref lines.Word(line, 1);
        var m = (uint)meta;
        var count = (int)(m & 7);
        if ((m & Overflow) != 0)
        {
            return;
        }

        if (count == Capacity)
        {
            Volatile.Write(ref meta, (meta & ~0xFFFFFFFFUL) | m | Overflow);
            return;
        }

        lines.Word(line, 2 + count) = head;
        SetIndex(lines, line, count, (uint)index);
        m = (m & ~7u) | (uint)(count + 1) | ((uint)((headLength & 15) | (kind << 4)) << (4 + (6 * count)));
        Volatile.Write(ref meta, (meta & ~0xFFFFFFFFUL) | m);
    }

    private static void SetIndex(Lines lines, int line, int entry, uint index)
    {
        switch (entry)
        {
            case 0:
                ref var w1 = ref lines.Word(line, 1);
                w1 = (w1 & 0xFFFFFFFFUL) | ((ulong)index << 32);
                break;
            case 1:
                ref var w6 = ref lines.Word(line, 6);
                w6 = (w6 & ~0xFFFFFFFFUL) | index;
                break;
            case 2:
                ref var w6b = ref lines.Word(line, 6);
                w6b = (w6b & 0xFFFFFFFFUL) | ((ulong)index << 32);
                break;
            default:
                lines.Word(line, 7) = index;
                break;
        }
    }

    private static int Insert(Lines lines, ulong hash, ReadOnlySpan<ulong> body)
    {
        var i = lines.Home(hash);
        while (lines.Word(i, 0) != 0)
        {
            if (++i == lines.Count)
            {
                i = 0;
            }
        }

        for (var w = 1; w < LineWords && !body.IsEmpty; w++)
        {
            lines.Word(i, w) = body[w - 1];
        }

        Volatile.Write(ref lines.Word(i, 0), hash);
        return i;
    }

    private Lines Grow(Lines old)
    {
        var grown = new Lines(CapacityFor(Math.Max(_count + 1, (long)old.Count * 3 / 2 * MaxLoadPercent / 100)));
        Span<ulong> body = stackalloc ulong[LineWords - 1];
        for (var i = 0; i < old.Count; i++)
        {
            var hash = old.Word(i, 0);
            if (hash == 0)
            {
                continue;
            }

            for (var w = 1; w < LineWords; w++)
            {
                body[w - 1] = old.Word(i, w);
            }

            Insert(grown, hash, body);
        }

        Volatile.Write(ref _lines, grown);
        return grown;
    }

    private static int CapacityFor(long expected)
    {
        var count = Math.Max(16, (expected * 100 / MaxLoadPercent) + 1);
        if (count * LineWords > Array.MaxLength - 1024)
        {
            throw new InvalidOperationException($"A rule-head table of {expected} hosts exceeds the largest array; shard the index.");
        }

        return (int)count;
    }

    /// <summary>One line set.</summary>
    internal sealed class Lines
    {
        private readonly ulong[] _words;
        private readonly int _start;

        public Lines(int count)
        {
            Count = count;
            _words = LargePages.AllocateWords((long)count * LineWords, out _start);
        }

        /// <summary>Lines (occupied or not).</summary>
        public int Count { get; }

        public long Bytes => (long)_words.Length * sizeof(ulong);

        /// <summary>Word <paramref name="word"/> of line <paramref name="line"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ref ulong Word(int line, int word) => ref _words[_start + (line * LineWords) + word];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Home(ulong hash) => (int)(((hash >> 32) * (ulong)Count) >> 32);

        /// <summary>Reader: the line of <paramref name="hash"/>, or -1.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int Find(Lines lines, ulong hash)
        {
            var i = lines.Home(hash);
            while (true)
            {
                var h = Volatile.Read(ref lines.Word(i, 0));
                if (h == hash)
                {
                    return i;
                }

                if (h == 0)
                {
                    return -1;
                }

                if (++i == lines.Count)
                {
                    i = 0;
                }
            }
        }

        /// <summary>Reader: the meta word of a line (count, overflow bit, per-entry head length and kind).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public uint Meta(int line) => (uint)Volatile.Read(ref Word(line, 1));

        /// <summary>Reader: the head of entry <paramref name="entry"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ulong Head(int line, int entry) => Word(line, 2 + entry);

        /// <summary>Reader: the rule index of entry <paramref name="entry"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Index(int line, int entry) => entry switch
        {
            0 => (int)(Word(line, 1) >> 32),
            1 => (int)(uint)Word(line, 6),
            2 => (int)(Word(line, 6) >> 32),
            _ => (int)(uint)Word(line, 7),
        };
    }
}
