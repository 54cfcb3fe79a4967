using System.Buffers.Binary;
using System.IO.Compression;

namespace OptOutRegistry.Filtering;

/// <summary>
/// Sits between a gzip file and the <see cref="GZipStream"/> decompressing it and keeps the compressed bytes of the
/// member being read, so a record that is kept can be written as its original gzip member, byte for byte (Common Crawl
/// writes one member per WARC record). .NET does not say where a member ends in the compressed input, so the end is
/// found from the member trailer (RFC 1952 §2.3.1: CRC32 and ISIZE, the uncompressed length mod 2^32) followed by the
/// next member's magic or the end of the file; the pipeline then verifies each candidate by decompressing it
/// (<see cref="Verify"/>) and falls back to re-compressing the record when it does not match. When records and members
/// do not line up (one member for the whole file, an oversized record), tracking switches off for the rest of the input
/// and memory stays bounded.
/// </summary>
internal sealed class GzipMemberTracker(Stream inner, int maxRecordBytes) : ReadOnlyForwardStream
{
    private byte[] _buffer = new byte[128 * 1024];
    private long _bufferOffset; // absolute input offset of _buffer[0]
    private int _length;        // valid bytes in _buffer
    private int _served;        // bytes of _buffer handed to the decompressor
    private long _cursor;       // absolute offset where the next record's member starts
    private bool _eof;

    /// <summary>Whether members are still being tracked.</summary>
    public bool Enabled { get; private set; } = true;

    /// <summary>
    /// The compressed bytes of the member holding the next <paramref name="decompressedLength"/> decompressed bytes, or
    /// false (and tracking off) when no member boundary fits. The span is valid until the next read.
    /// </summary>
    public bool TryTakeMember(long decompressedLength, out ReadOnlySpan<byte> member)
    {
        member = default;
        if (!Enabled)
        {
            return false;
        }

        Span<byte> pattern = stackalloc byte[7];
        BinaryPrimitives.WriteUInt32LittleEndian(pattern, unchecked((uint)decompressedLength));
        pattern[4] = 0x1F;
        pattern[5] = 0x8B;
        pattern[6] = 0x08;
        // A member is at least 18 bytes (10-byte header, an empty deflate block, 8-byte trailer); deflate expands
        // incompressible data by 5 bytes per 64 KiB stored block, and the header may carry a name or extra field.
        var limit = decompressedLength + (decompressedLength / 8) + (128 * 1024);
        var searchAt = _cursor + 14;
        while (true)
        {
            // Offsets into _buffer are recomputed each round: Fill may move the kept bytes to the front.
            var start = (int)(_cursor - _bufferOffset);
            var from = (int)(searchAt - _bufferOffset);
            if (from + 7 <= _length)
            {
                var hit = _buffer.AsSpan(from, _length - from).IndexOf(pattern);
                if (hit >= 0)
                {
                    return Take(start, from + hit + 4, out member);
                }

                searchAt = _bufferOffset + _length - 6;
            }

            if (_eof)
            {
                // The last member ends the file.
                if (_length - start >= 18 && BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(_length - 4)) == unchecked((uint)decompressedLength))
                {
                    return Take(start, _length, out member);
                }

                return Disable();
            }

            if (_length - start > limit)
            {
                return Disable();
            }

            if (!Fill())
            {
                _eof = true;
            }

            if (!Enabled)
            {
                return false;
            }
        }
    }

    /// <summary>Whether <paramref name="member"/> decompresses to exactly <paramref name="record"/>.</summary>
    public static bool Verify(byte[] member, int offset, int length, ReadOnlySpan<byte> record)
    {
        try
        {
            using var gzip = new GZipStream(new MemoryStream(member, offset, length, writable: false), CompressionMode.Decompress);
            Span<byte> chunk = stackalloc byte[16 * 1024];
            var position = 0;
            while (true)
            {
                var n = gzip.Read(chunk);
                if (n == 0)
                {
                    return position == record.Length;
                }

                if (position + n > record.Length || !chunk[..n].SequenceEqual(record.Slice(position, n)))
                {
                    return false;
                }

                position += n;
            }
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }

    private bool Take(int start, int end, out ReadOnlySpan<byte> member)
    {
        member = _buffer.AsSpan(start, end - start);
        _cursor = _bufferOffset + end;
        return true;
    }

    private bool Disable()
    {
        Enabled = false;
        return false;
    }

    public override int Read(Span<byte> buffer)
    {
        if (_served == _length)
        {
            if (!Enabled)
            {
                // Drained: pass through without keeping anything.
                _bufferOffset += _length;
                _length = _served = 0;
                return _eof ? 0 : inner.Read(buffer);
            }

            if (_eof || !Fill())
            {
                _eof = true;
                return 0;
            }
        }

        var n = Math.Min(buffer.Length, _length - _served);
        _buffer.AsSpan(_served, n).CopyTo(buffer);
        _served += n;
        return n;
    }

    // Appends input to the buffer, first dropping bytes that are both served and before the cursor.
    private bool Fill()
    {
        var keepFrom = (int)Math.Min(_served, _cursor - _bufferOffset);
        if (keepFrom > 0)
        {
            Buffer.BlockCopy(_buffer, keepFrom, _buffer, 0, _length - keepFrom);
            _bufferOffset += keepFrom;
            _length -= keepFrom;
            _served -= keepFrom;
        }

        if (_length == _buffer.Length)
        {
            if (_buffer.Length >= (2L * maxRecordBytes) + (1 << 20))
            {
                // Records and members do not line up: stop keeping compressed bytes (memory stays bounded).
                Enabled = false;
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        var n = inner.Read(_buffer, _length, _buffer.Length - _length);
        if (n == 0)
        {
            return false;
        }

        _length += n;
        return true;
    }
}
