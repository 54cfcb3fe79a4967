using System.Buffers.Binary;
using System.Text;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Append-only storage of short byte strings (reservation ids, prefix/pattern paths, selector texts) in 1 MiB
/// chunks, addressed by a 32-bit reference (<c>chunk &lt;&lt; 20 | offset</c>, up to 4 GiB). Each entry is a
/// 2-byte little-endian length followed by the bytes. One writer, lock-free readers; a reference is only
/// handed out after its bytes are written.
/// </summary>
internal sealed class ByteArena
{
    private const int ChunkBits = 20;
    private const int ChunkSize = 1 << ChunkBits;

    /// <summary>The "no entry" reference.</summary>
    public const uint None = uint.MaxValue;

    private byte[][] _chunks = [new byte[ChunkSize]];
    private int _chunk;
    private int _offset;

    /// <summary>Bytes allocated.</summary>
    public long Bytes => (long)(_chunk + 1) * ChunkSize;

    /// <summary>Writer: stores ASCII/UTF-8 text and returns its reference.</summary>
    public uint Add(ReadOnlySpan<char> text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"An arena entry is limited to {ushort.MaxValue} bytes; got {length}.", nameof(text));
        }

        if (_offset + 2 + length > ChunkSize)
        {
            _chunk++;
            if (_chunk >= 4096)
            {
                throw new InvalidOperationException("The string arena is full (4 GiB).");
            }

            if (_chunk == _chunks.Length)
            {
                var grown = new byte[_chunks.Length * 2][];
                Array.Copy(_chunks, grown, _chunks.Length);
                grown[_chunk] = new byte[ChunkSize];
                Volatile.Write(ref _chunks, grown);
            }
            else
            {
                _chunks[_chunk] = new byte[ChunkSize];
            }

            _offset = 0;
        }

        var chunk = _chunks[_chunk];
        BinaryPrimitives.WriteUInt16LittleEndian(chunk.AsSpan(_offset), (ushort)length);
        Encoding.UTF8.GetBytes(text, chunk.AsSpan(_offset + 2));
        var reference = ((uint)_chunk << ChunkBits) | (uint)_offset;
        _offset += 2 + length;
        return reference;
    }

    /// <summary>The bytes of an entry.</summary>
    public ReadOnlySpan<byte> Get(uint reference)
    {
        var chunk = Volatile.Read(ref _chunks)[reference >> ChunkBits];
        var offset = (int)(reference & (ChunkSize - 1));
        var length = BinaryPrimitives.ReadUInt16LittleEndian(chunk.AsSpan(offset));
        return chunk.AsSpan(offset + 2, length);
    }

    /// <summary>An entry as a string (provenance, not the hot path).</summary>
    public string GetString(uint reference) => Encoding.UTF8.GetString(Get(reference));
}
