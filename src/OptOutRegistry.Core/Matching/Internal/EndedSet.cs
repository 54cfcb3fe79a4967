namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// One bit per reservation: set once the reservation has been superseded or revoked (its end instant changed after
/// it was indexed). It lets a check trust the verdict data stored inline in a URL slot (<see cref="MatcherIndex"/>)
/// without reading the 32-byte reservation record, which at 10 M selectors is a cache miss of its own: the set is
/// 1 bit per reservation (312 KB at 2.5 M reservations), small enough to stay in the L2 cache.
/// <para>One writer, lock-free readers. The writer sets a bit (atomic OR, a full fence) before it writes the new end
/// instant into the record, so a reader that sees the bit clear sees, at worst, the state before the write — as any
/// check that overlaps a write may. Growth copies and publishes; a reservation index beyond a reader's array reads
/// as "maybe ended", which only sends the reader to the record.</para>
/// </summary>
internal sealed class EndedSet
{
    private ulong[] _words = new ulong[64];

    /// <summary>Bytes held.</summary>
    public long Bytes => (long)Volatile.Read(ref _words).Length * sizeof(ulong);

    /// <summary>Writer: makes room for reservation indices below <paramref name="count"/> (call before publishing one).</summary>
    public void EnsureCapacity(int count)
    {
        var words = _words;
        var needed = (count + 63) >> 6;
        if (needed <= words.Length)
        {
            return;
        }

        var grown = new ulong[Math.Max(needed, words.Length * 2)];
        Array.Copy(words, grown, words.Length);
        Volatile.Write(ref _words, grown);
    }

    /// <summary>Writer: marks reservation <paramref name="index"/> as ended.</summary>
    public void Set(int index) => Interlocked.Or(ref _words[index >> 6], 1UL << (index & 63));

    /// <summary>Reader: false only when the reservation has certainly not been ended since it was indexed.</summary>
    public bool MaybeSet(int index)
    {
        var words = Volatile.Read(ref _words);
        var w = index >> 6;
        return (uint)w >= (uint)words.Length || (Volatile.Read(ref words[w]) & (1UL << (index & 63))) != 0;
    }
}
