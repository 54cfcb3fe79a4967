using System.Buffers.Binary;
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

        var bytes = new byte[1 + 8 + 8 + 2 + actorLength + 2 + typeLength + 4 + payload.Length];
        var span = bytes.AsSpan();
        span[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(span[1..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(span[9..], timeMicroseconds);
        var offset = 17;
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)actorLength);
        offset += 2;
        offset += Encoding.UTF8.GetBytes(actor, span[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)typeLength);
        offset += 2;
        offset += Encoding.UTF8.GetBytes(type, span[offset..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[offset..], (uint)payload.Length);
        offset += 4;
        payload.CopyTo(span[offset..]);
        return bytes;
    }

    /// <summary>The RFC 9162 leaf hash of one event.</summary>
    public static byte[] Hash(long sequence, long timeMicroseconds, string actor, string type, ReadOnlySpan<byte> payload) =>
        MerkleHash.HashLeaf(Encode(sequence, timeMicroseconds, actor, type, payload));
}
