using System.Collections;
using System.Text;

namespace OptOutRegistry.Grpc;

/// <summary>
/// Custom request headers, response headers or trailers of a call. Keys are lower-case ASCII
/// (<c>[0-9a-z_.-]</c>); a key ending in <c>-bin</c> carries a binary value, base64-encoded on the wire
/// (PROTOCOL-HTTP2.md "Custom-Metadata").
/// </summary>
public sealed class Metadata : IList<Metadata.Entry>
{
    /// <summary>The suffix that marks a binary metadata key.</summary>
    public const string BinaryHeaderSuffix = "-bin";

    private readonly List<Entry> _entries;

    /// <summary>Creates empty metadata.</summary>
    public Metadata()
    {
        _entries = new List<Entry>();
    }

    internal Metadata(int capacity)
    {
        _entries = new List<Entry>(capacity);
    }

    /// <summary>Adds an ASCII entry. Throws <see cref="ArgumentException"/> on an invalid key or value, or a binary key.</summary>
    public void Add(string key, string value) => _entries.Add(new Entry(key, value));

    /// <summary>Adds a binary entry; the key must end in <c>-bin</c>.</summary>
    public void Add(string key, byte[] value) => _entries.Add(new Entry(key, value));

    /// <summary>The string value of the last entry with <paramref name="key"/>, or null. Throws for a binary key.</summary>
    public string? GetValue(string key)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            var e = _entries[i];
            if (string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return e.Value;
            }
        }
        return null;
    }

    /// <summary>The bytes of the last entry with <paramref name="key"/>, or null (for an ASCII entry, its ASCII bytes).</summary>
    public byte[]? GetValueBytes(string key)
    {
        for (var i = _entries.Count - 1; i >= 0; i--)
        {
            var e = _entries[i];
            if (string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return e.ValueBytes;
            }
        }
        return null;
    }

    /// <summary>All entries with <paramref name="key"/>, in order.</summary>
    public IEnumerable<Entry> GetAll(string key)
    {
        foreach (var e in _entries)
        {
            if (string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                yield return e;
            }
        }
    }

    /// <inheritdoc />
    public Entry this[int index] { get => _entries[index]; set => _entries[index] = value; }

    /// <inheritdoc />
    public int Count => _entries.Count;

    /// <inheritdoc />
    public bool IsReadOnly => false;

    /// <inheritdoc />
    public void Add(Entry item) => _entries.Add(item);

    /// <inheritdoc />
    public void Clear() => _entries.Clear();

    /// <inheritdoc />
    public bool Contains(Entry item) => _entries.Contains(item);

    /// <inheritdoc />
    public void CopyTo(Entry[] array, int arrayIndex) => _entries.CopyTo(array, arrayIndex);

    /// <inheritdoc />
    public IEnumerator<Entry> GetEnumerator() => _entries.GetEnumerator();

    /// <inheritdoc />
    public int IndexOf(Entry item) => _entries.IndexOf(item);

    /// <inheritdoc />
    public void Insert(int index, Entry item) => _entries.Insert(index, item);

    /// <inheritdoc />
    public bool Remove(Entry item) => _entries.Remove(item);

    /// <inheritdoc />
    public void RemoveAt(int index) => _entries.RemoveAt(index);

    IEnumerator IEnumerable.GetEnumerator() => _entries.GetEnumerator();

    internal static bool IsBinaryKey(string key) => key.EndsWith(BinaryHeaderSuffix, StringComparison.OrdinalIgnoreCase);

    /// <summary>One metadata entry.</summary>
    public sealed class Entry
    {
        private readonly string? _value;
        private readonly byte[]? _valueBytes;

        /// <summary>Creates an ASCII entry.</summary>
        public Entry(string key, string value)
        {
            Key = NormalizeKey(key);
            ArgumentNullException.ThrowIfNull(value);
            if (IsBinaryKey(Key))
            {
                throw new ArgumentException($"Metadata key '{Key}' ends in '-bin' and needs a byte[] value.", nameof(key));
            }
            // PROTOCOL-HTTP2.md: ASCII-Value = 1*( %x20-%x7E ).
            foreach (var c in value)
            {
                if (c < 0x20 || c > 0x7E)
                {
                    throw new ArgumentException($"Metadata value for key '{Key}' contains a character outside printable ASCII (U+{(int)c:X4}).", nameof(value));
                }
            }
            _value = value;
        }

        /// <summary>Creates a binary entry; <paramref name="key"/> must end in <c>-bin</c>.</summary>
        public Entry(string key, byte[] valueBytes)
        {
            Key = NormalizeKey(key);
            ArgumentNullException.ThrowIfNull(valueBytes);
            if (!IsBinaryKey(Key))
            {
                throw new ArgumentException($"Metadata key '{Key}' carries a byte[] value and must end in '-bin'.", nameof(key));
            }
            _valueBytes = valueBytes;
        }

        /// <summary>The lower-case key.</summary>
        public string Key { get; }

        /// <summary>The string value. Throws for a binary entry.</summary>
        public string Value => _value ?? throw new InvalidOperationException($"Metadata entry '{Key}' is binary; use ValueBytes.");

        /// <summary>The binary value (for an ASCII entry, its ASCII bytes).</summary>
        public byte[] ValueBytes => _valueBytes ?? Encoding.ASCII.GetBytes(_value!);

        /// <summary>True when the key ends in <c>-bin</c>.</summary>
        public bool IsBinary => _valueBytes is not null;

        /// <inheritdoc />
        public override string ToString() => IsBinary ? $"[Entry: Key={Key}, ValueBytes={Convert.ToBase64String(_valueBytes!)}]" : $"[Entry: Key={Key}, Value={_value}]";

        private static string NormalizeKey(string key)
        {
            ArgumentNullException.ThrowIfNull(key);
            if (key.Length == 0)
            {
                throw new ArgumentException("Metadata key is empty.", nameof(key));
            }
            var needsLower = false;
            foreach (var c in key)
            {
                // PROTOCOL-HTTP2.md: Header-Name = 1*( %x30-39 / %x61-7A / "_" / "-" / "." ); upper case is folded.
                if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-' or '.')
                {
                    continue;
                }
                if (c is >= 'A' and <= 'Z')
                {
                    needsLower = true;
                    continue;
                }
                throw new ArgumentException($"Metadata key '{key}' contains an invalid character '{c}'; allowed are 0-9 a-z _ - .", nameof(key));
            }
            return needsLower ? key.ToLowerInvariant() : key;
        }
    }
}
