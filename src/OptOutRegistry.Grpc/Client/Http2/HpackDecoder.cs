using System.Text;

namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>A header block that is not valid HPACK: a connection error of type COMPRESSION_ERROR (RFC 7540 4.3).</summary>
internal sealed class HpackDecodingException(string message) : Exception(message);

/// <summary>
/// Decodes HPACK header blocks (RFC 7541) for one connection: the static table, the dynamic table with eviction and
/// size updates, integers with prefixes, and literal strings raw or Huffman-coded. Not thread-safe: one reader loop
/// per connection decodes every block in the order the frames arrived, which is what keeps the dynamic table in step
/// with the server's encoder.
/// </summary>
internal sealed class HpackDecoder
{
    /// <summary>RFC 7541 Appendix A. Index 1 is the first entry.</summary>
    internal static readonly (string Name, string Value)[] StaticTable =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""), ("etag", ""),
        ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""), ("if-modified-since", ""),
        ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""),
        ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""),
        ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""), ("set-cookie", ""),
        ("strict-transport-security", ""), ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""),
        ("www-authenticate", ""),
    ];

    /// <summary>RFC 7541 4.1: an entry's size is its name and value lengths plus 32.</summary>
    private const int EntryOverhead = 32;

    // The dynamic table as a ring: _entries[_newest] is index 62, older entries follow backwards.
    private (string Name, string Value)[] _entries = new (string, string)[16];
    private int _newest = -1;
    private int _count;
    private int _size;
    private int _maxSize;
    private readonly int _maxSizeLimit;
    private byte[] _scratch = new byte[256];

    /// <param name="maxTableSize">SETTINGS_HEADER_TABLE_SIZE as we advertise it (4,096 unless we send another value).</param>
    public HpackDecoder(int maxTableSize = 4096)
    {
        _maxSize = maxTableSize;
        _maxSizeLimit = maxTableSize;
    }

    /// <summary>Entries in the dynamic table (tests).</summary>
    internal int DynamicCount => _count;

    /// <summary>The dynamic table's size by RFC 7541 4.1 (tests).</summary>
    internal int DynamicSize => _size;

    /// <summary>
    /// Decodes one complete header block into <paramref name="headers"/> (cleared first). Returns false when the
    /// decoded list is larger than <paramref name="maxListSize"/> (name + value + 32 per field, RFC 7540 6.5.2); the
    /// block is still decoded to the end so the dynamic table stays in step. Throws <see cref="HpackDecodingException"/>
    /// for invalid HPACK.
    /// </summary>
    public bool Decode(ReadOnlySpan<byte> block, List<KeyValuePair<string, string>> headers, int maxListSize)
    {
        headers.Clear();
        var listSize = 0;
        var fits = true;
        var fieldSeen = false;
        var pos = 0;
        while (pos < block.Length)
        {
            var b = block[pos];
            string name;
            string value;
            if ((b & 0x80) != 0)
            {
                // 6.1 Indexed Header Field.
                var index = ReadInteger(block, ref pos, 7);
                (name, value) = Lookup(index);
            }
            else if ((b & 0xC0) == 0x40)
            {
                // 6.2.1 Literal with Incremental Indexing.
                var index = ReadInteger(block, ref pos, 6);
                name = index == 0 ? ReadString(block, ref pos) : Lookup(index).Name;
                value = ReadString(block, ref pos);
                Insert(name, value);
            }
            else if ((b & 0xE0) == 0x20)
            {
                // 6.3 Dynamic Table Size Update: only at the start of a block (4.2), never above our setting.
                if (fieldSeen)
                {
                    throw new HpackDecodingException("A dynamic table size update came after a header field.");
                }
                var size = ReadInteger(block, ref pos, 5);
                if (size > _maxSizeLimit)
                {
                    throw new HpackDecodingException($"Dynamic table size update to {size} exceeds the limit of {_maxSizeLimit}.");
                }
                _maxSize = size;
                Evict(0);
                continue;
            }
            else
            {
                // 6.2.2 Literal without Indexing (0000xxxx) and 6.2.3 Never Indexed (0001xxxx).
                var index = ReadInteger(block, ref pos, 4);
                name = index == 0 ? ReadString(block, ref pos) : Lookup(index).Name;
                value = ReadString(block, ref pos);
            }
            fieldSeen = true;
            listSize += name.Length + value.Length + EntryOverhead;
            if (listSize > maxListSize)
            {
                fits = false;
            }
            if (fits)
            {
                headers.Add(new KeyValuePair<string, string>(name, value));
            }
        }
        if (!fits)
        {
            headers.Clear();
        }
        return fits;
    }

    private (string Name, string Value) Lookup(int index)
    {
        if (index <= 0)
        {
            throw new HpackDecodingException("Header index 0 is not valid.");
        }
        if (index <= StaticTable.Length)
        {
            return StaticTable[index - 1];
        }
        var dynamicIndex = index - StaticTable.Length - 1;
        if (dynamicIndex >= _count)
        {
            throw new HpackDecodingException($"Header index {index} is beyond the dynamic table ({_count} entries).");
        }
        var slot = _newest - dynamicIndex;
        if (slot < 0)
        {
            slot += _entries.Length;
        }
        return _entries[slot];
    }

    private void Insert(string name, string value)
    {
        var entrySize = name.Length + value.Length + EntryOverhead;
        if (entrySize > _maxSize)
        {
            // 4.4: an entry larger than the table empties it and is not added.
            Evict(_maxSize + 1);
            return;
        }
        Evict(entrySize);
        if (_count == _entries.Length)
        {
            var larger = new (string, string)[_entries.Length * 2];
            for (var i = 0; i < _count; i++)
            {
                // Oldest first, so the newest lands at _count - 1.
                var slot = _newest - (_count - 1 - i);
                larger[i] = _entries[slot < 0 ? slot + _entries.Length : slot];
            }
            _entries = larger;
            _newest = _count - 1;
        }
        _newest = (_newest + 1) % _entries.Length;
        _entries[_newest] = (name, value);
        _count++;
        _size += entrySize;
    }

    /// <summary>Drops the oldest entries until <paramref name="room"/> more bytes fit (4.4).</summary>
    private void Evict(int room)
    {
        while (_count > 0 && _size + room > _maxSize)
        {
            var oldest = _newest - (_count - 1);
            if (oldest < 0)
            {
                oldest += _entries.Length;
            }
            var (name, value) = _entries[oldest];
            _size -= name.Length + value.Length + EntryOverhead;
            _entries[oldest] = default;
            _count--;
        }
    }

    /// <summary>RFC 7541 5.1, limited to values that fit an int (anything larger is not a sane index or length).</summary>
    internal static int ReadInteger(ReadOnlySpan<byte> block, ref int pos, int prefixBits)
    {
        var mask = (1 << prefixBits) - 1;
        var value = block[pos] & mask;
        pos++;
        if (value < mask)
        {
            return value;
        }
        var shift = 0;
        while (true)
        {
            if (pos >= block.Length)
            {
                throw new HpackDecodingException("The header block ends inside an integer.");
            }
            var b = block[pos++];
            if (shift > 21)
            {
                throw new HpackDecodingException("An HPACK integer is too large.");
            }
            value += (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private string ReadString(ReadOnlySpan<byte> block, ref int pos)
    {
        if (pos >= block.Length)
        {
            throw new HpackDecodingException("The header block ends before a string.");
        }
        var huffman = (block[pos] & 0x80) != 0;
        var length = ReadInteger(block, ref pos, 7);
        if (length > block.Length - pos)
        {
            throw new HpackDecodingException($"A string of {length} bytes runs past the end of the header block.");
        }
        var raw = block.Slice(pos, length);
        pos += length;
        if (!huffman)
        {
            return raw.Length == 0 ? "" : Intern(raw);
        }
        // The shortest code is 5 bits, so n bytes decode to at most 8n/5 symbols.
        var max = (length * 8 / 5) + 1;
        if (_scratch.Length < max)
        {
            _scratch = new byte[Math.Max(max, _scratch.Length * 2)];
        }
        var written = HuffmanDecoder.Decode(raw, _scratch);
        if (written < 0)
        {
            throw new HpackDecodingException("A Huffman-coded string is not valid (RFC 7541 5.2).");
        }
        return written == 0 ? "" : Intern(_scratch.AsSpan(0, written));
    }

    private const int InternMaxLength = 48;
    private readonly string?[] _interned = new string?[64];

    /// <summary>
    /// Kestrel sends grpc-status, content-type and the like as literals without indexing on every response, so the
    /// same short strings would be allocated per call (~110 B/call measured); a small direct-mapped cache of recent
    /// short literals returns the previous string when the bytes match.
    /// </summary>
    private string Intern(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > InternMaxLength)
        {
            return Encoding.Latin1.GetString(bytes);
        }
        var hash = (uint)bytes.Length;
        foreach (var b in bytes)
        {
            hash = (hash * 31) + b;
        }
        ref var slot = ref _interned[hash & (uint)(_interned.Length - 1)];
        if (slot is { } cached && cached.Length == bytes.Length && Latin1Equals(cached, bytes))
        {
            return cached;
        }
        return slot = Encoding.Latin1.GetString(bytes);
    }

    private static bool Latin1Equals(string text, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (text[i] != bytes[i])
            {
                return false;
            }
        }
        return true;
    }
}
