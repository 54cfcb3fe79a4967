using System.Buffers.Binary;
using System.Security.Cryptography;
using Google.Protobuf;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Writes a snapshot file (docs/snapshot-format.md) in one pass: header, records, end marker, signed footer.
/// Hashes as it writes, so the file can stream straight to a network response or a disk without buffering.
/// </summary>
public sealed class SnapshotWriter : IDisposable
{
    private readonly Stream _output;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SnapshotKind _kind;
    private byte[] _buffer = new byte[64 * 1024];
    private long _recordCount;
    private bool _finished;

    /// <summary>Writes the header.</summary>
    /// <param name="output">Where the file goes; left open.</param>
    /// <param name="header">Kind, sequences and creation time.</param>
    public SnapshotWriter(Stream output, SnapshotHeader header)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(header);
        if (header.Kind == SnapshotKind.Full && header.SinceSequence != -1)
        {
            throw new ArgumentException("a full snapshot has since_sequence -1", nameof(header));
        }

        if (header.Kind == SnapshotKind.Delta && (header.SinceSequence < -1 || header.SinceSequence > header.AsOfSequence))
        {
            throw new ArgumentException($"a delta needs -1 <= since_sequence ({header.SinceSequence}) <= as_of_sequence ({header.AsOfSequence})", nameof(header));
        }

        _output = output;
        _kind = header.Kind;
        Span<byte> h = stackalloc byte[SnapshotFormat.HeaderLength];
        SnapshotFormat.Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt16BigEndian(h[8..], SnapshotFormat.Version);
        h[10] = (byte)header.Kind;
        h[11] = 0;
        BinaryPrimitives.WriteInt64BigEndian(h[12..], header.AsOfSequence);
        BinaryPrimitives.WriteInt64BigEndian(h[20..], header.SinceSequence);
        BinaryPrimitives.WriteInt64BigEndian(h[28..], ToMicroseconds(header.CreatedAt));
        Write(h);
    }

    /// <summary>Number of records written so far.</summary>
    public long RecordCount => _recordCount;

    /// <summary>Appends a reservation record (full snapshots).</summary>
    public void WriteReservation(Api.V1.Reservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        if (_kind != SnapshotKind.Full)
        {
            throw new InvalidOperationException("reservation records belong in full snapshots");
        }

        WriteRecord(SnapshotRecordType.Reservation, reservation);
    }

    /// <summary>Appends an event record (deltas). The event's <c>sequence</c> must be set.</summary>
    public void WriteEvent(Api.V1.Event @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        if (_kind != SnapshotKind.Delta)
        {
            throw new InvalidOperationException("event records belong in deltas");
        }

        WriteRecord(SnapshotRecordType.Event, @event);
    }

    /// <summary>Writes the end marker and the signed footer. The stream is flushed, not closed.</summary>
    /// <param name="signingKey">The registry's ECDSA P-256 key (the transparency-log key).</param>
    public void Finish(ECDsa signingKey)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        Finish(new EcdsaSnapshotSigner(signingKey));
    }

    /// <summary>Writes the end marker and the footer signed by <paramref name="signer"/>. The stream is flushed, not closed.</summary>
    public void Finish(ISnapshotSigner signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        ObjectDisposedException.ThrowIf(_finished, this);
        Span<byte> small = stackalloc byte[SnapshotFormat.RecordPrefixLength + 8];
        small[0] = (byte)SnapshotRecordType.End;
        BinaryPrimitives.WriteUInt32BigEndian(small[1..], 0);
        BinaryPrimitives.WriteInt64BigEndian(small[5..], _recordCount);
        Write(small);

        var digest = _hash.GetHashAndReset();
        var spki = signer.PublicKeySpki;
        var signature = signer.SignSnapshotDigest(digest);

        var footer = new byte[32 + 1 + 2 + spki.Length + 2 + signature.Length + SnapshotFormat.EndMagic.Length];
        var f = footer.AsSpan();
        digest.CopyTo(f);
        f[32] = SnapshotFormat.AlgorithmEcdsaP256Sha256;
        BinaryPrimitives.WriteUInt16BigEndian(f[33..], (ushort)spki.Length);
        spki.CopyTo(f[35..]);
        var o = 35 + spki.Length;
        BinaryPrimitives.WriteUInt16BigEndian(f[o..], (ushort)signature.Length);
        signature.CopyTo(f[(o + 2)..]);
        SnapshotFormat.EndMagic.CopyTo(f[(o + 2 + signature.Length)..]);
        _output.Write(footer);
        _output.Flush();
        _finished = true;
    }

    /// <inheritdoc />
    public void Dispose() => _hash.Dispose();

    /// <summary>The bytes the signature covers: <see cref="SnapshotFormat.SignaturePrefix"/> ‖ digest.</summary>
    internal static byte[] SignedMessage(ReadOnlySpan<byte> digest)
    {
        var message = new byte[SnapshotFormat.SignaturePrefix.Length + digest.Length];
        SnapshotFormat.SignaturePrefix.CopyTo(message);
        digest.CopyTo(message.AsSpan(SnapshotFormat.SignaturePrefix.Length));
        return message;
    }

    internal static long ToMicroseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    private void WriteRecord(SnapshotRecordType type, IMessage message)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        var size = message.CalculateSize();
        if (size > SnapshotFormat.MaxRecordLength)
        {
            throw new InvalidOperationException($"record of {size} bytes exceeds the format's {SnapshotFormat.MaxRecordLength}-byte limit");
        }

        var total = SnapshotFormat.RecordPrefixLength + size;
        if (_buffer.Length < total)
        {
            _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
        }

        var span = _buffer.AsSpan(0, total);
        span[0] = (byte)type;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        message.WriteTo(span[SnapshotFormat.RecordPrefixLength..]);
        Write(span);
        _recordCount++;
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _hash.AppendData(bytes);
        _output.Write(bytes);
    }
}
