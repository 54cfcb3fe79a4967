using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace OptOutRegistry.Transparency;

/// <summary>
/// The canonical leaf bytes of an event, the input to the RFC 9162 leaf hash. Anyone holding an event (from a
/// receipt or the feed) can recompute its leaf hash with this and check the inclusion proof.
/// Layout (all integers big-endian):
/// <code>
/// u8 version = 1
/// u64 sequence (= leaf index)
/// i64 server time, microseconds since the Unix epoch (UTC)
/// u16 len ‖ actor (UTF-8)
/// u16 len ‖ type (UTF-8)
/// u32 len ‖ payload
/// </code>
/// </summary>
public static class EventLeaf
{
    /// <summary>The only defined layout version.</summary>
    public const byte Version = 1;

    /// <summary>Upper bound on actor and type, in UTF-8 bytes (fits the u16 prefix with room to spare).</summary>
    public const int MaxNameBytes = 1024;

    /// <summary>Encodes the leaf bytes of one event.</summary>
    /// <exception cref="ArgumentException">The actor or type is longer than <see cref="MaxNameBytes"/> UTF-8 bytes.</exception>
    public static byte[] Encode(long sequence, long timeMicroseconds, string actor, string type, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[EncodedLength(actor, type, payload.Length)];
        Write(bytes, sequence, timeMicroseconds, actor, type, payload);
        return bytes;
    }

    /// <summary>The RFC 9162 leaf hash of one event.</summary>
    public static byte[] Hash(long sequence, long timeMicroseconds, string actor, string type, ReadOnlySpan<byte> payload)
    {
        var hash = new byte[MerkleHash.Size];
        Hash(sequence, timeMicroseconds, actor, type, payload, hash);
        return hash;
    }

    /// <summary>
    /// The RFC 9162 leaf hash of one event into <paramref name="destination"/> (32 bytes): the same hash as
    /// <c>MerkleHash.HashLeaf(Encode(...))</c>, with the leaf bytes built in a stack or pooled buffer (the append path
    /// hashes every event it writes).
    /// </summary>
    /// <exception cref="ArgumentException">The actor or type is longer than <see cref="MaxNameBytes"/> UTF-8 bytes.</exception>
    public static void Hash(long sequence, long timeMicroseconds, string actor, string type, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        // RFC 9162 §2.1.1: MTH of one entry = SHA-256(0x00 || entry).
        var length = 1 + EncodedLength(actor, type, payload.Length);
        byte[]? rented = null;
        var buffer = length <= 1024 ? stackalloc byte[1024] : (rented = ArrayPool<byte>.Shared.Rent(length));
        buffer[0] = 0x00;
        Write(buffer.Slice(1, length - 1), sequence, timeMicroseconds, actor, type, payload);
        SHA256.HashData(buffer[..length], destination);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int EncodedLength(string actor, string type, int payloadLength)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(type);
        var actorLength = Encoding.UTF8.GetByteCount(actor);
        var typeLength = Encoding.UTF8.GetByteCount(type);
        if (actorLength > MaxNameBytes)
        {
            throw new ArgumentException($"actor is {actorLength} UTF-8 bytes; the limit is {MaxNameBytes}.", nameof(actor));
        }

        if (typeLength > MaxNameBytes)
        {
            throw new ArgumentException($"type is {typeLength} UTF-8 bytes; the limit is {MaxNameBytes}.", nameof(type));
        }

        return 1 + 8 + 8 + 2 + actorLength + 2 + typeLength + 4 + payloadLength;
    }

    // Writes the layout above into span, which is exactly EncodedLength bytes long.
    private static void Write(Span<byte> span, long sequence, long timeMicroseconds, string actor, string type, ReadOnlySpan<byte> payload)
    {
        span[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(span[1..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(span[9..], timeMicroseconds);
        var offset = 17;
        var actorLength = Encoding.UTF8.GetBytes(actor, span[(offset + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)actorLength);
        offset += 2 + actorLength;
        var typeLength = Encoding.UTF8.GetBytes(type, span[(offset + 2)..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)typeLength);
        offset += 2 + typeLength;
        BinaryPrimitives.WriteUInt32BigEndian(span[offset..], (uint)payload.Length);
        offset += 4;
        payload.CopyTo(span[offset..]);
    }
}
