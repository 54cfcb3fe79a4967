namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// A growable array with one writer and lock-free readers. The writer appends (copying to a larger array
/// when full and publishing it with one reference write) and may update elements in place; a reader takes
/// <see cref="Items"/> after it has obtained an index from a structure the writer published later, so the
/// array it gets always contains that index.
/// </summary>
internal sealed class AppendArray<T>
{
    private T[] _items;
    private int _count;

    public AppendArray(int capacity)
    {
        _items = NewArray(Math.Max(4, capacity));
    }

    /// <summary>The current backing array (readers: load after obtaining an index).</summary>
    public T[] Items => Volatile.Read(ref _items);

    /// <summary>Number of elements appended.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Allocated length.</summary>
    public int Capacity => _items.Length;

    /// <summary>Writer: a reference to an element, for in-place updates.</summary>
    public ref T this[int index] => ref _items[index];

    /// <summary>Writer: appends and returns the new element's index.</summary>
    public int Add(T item)
    {
        var items = _items;
        if (_count == items.Length)
        {
            var grown = NewArray(items.Length >= 1 << 29 ? Array.MaxLength : items.Length * 2);
            Array.Copy(items, grown, _count);
            Volatile.Write(ref _items, grown);
            items = grown;
        }

        items[_count] = item;
        var index = _count;
        Volatile.Write(ref _count, index + 1);
        return index;
    }

    private static T[] NewArray(int length)
    {
        // Records and rules are read at random by every check: huge pages where available (a hint, see LargePages).
        var array = new T[length];
        LargePages.Advise(array);
        return array;
    }
}
