using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Reads a snapshot file (docs/snapshot-format.md) front to back: <see cref="Open"/> reads the header,
/// <see cref="TryReadRecord"/> each record, and after the end marker <see cref="Footer"/> is available with
/// <see cref="DigestMatches"/>. Nothing in the file is trusted: every length is checked before it is used, and a
/// malformed file raises <see cref="SnapshotFormatException"/> naming the part and its byte offset.
/// Checking the signature (<see cref="VerifySignature"/>) against a pinned key is the caller's decision.
/// </summary>
public sealed class SnapshotReader : IDisposable
{
    private readonly Stream _input;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly bool _leaveOpen;
    private readonly byte[] _staging = new byte[256 * 1024];
    private long _offset;
    private long _records;
    private byte[] _buffer = new byte[64 * 1024];
    private int _staged;

    private SnapshotReader(Stream input, bool leaveOpen)
    {
        _input = input;
        _leaveOpen = leaveOpen;
    }

    /// <summary>The header.</summary>
    public SnapshotHeader Header { get; private set; } = null!;

    /// <summary>The footer, once <see cref="TryReadRecord"/> has returned false.</summary>
    public SnapshotFooter? Footer { get; private set; }

    /// <summary>True when the footer's digest equals the SHA-256 of the bytes read (valid once <see cref="Footer"/> is set).</summary>
    public bool DigestMatches { get; private set; }

    /// <summary>Bytes left in the file after what was read, when the stream knows its length (a bound for sizing).</summary>
    internal long? RemainingBytes => _input.CanSeek ? Math.Max(0, _input.Length - _input.Position) : null;

    /// <summary>Opens a snapshot and reads its header.</summary>
    /// <exception cref="SnapshotFormatException">Not a snapshot, an unknown version or a bad header field.</exception>
    public static SnapshotReader Open(Stream input, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        var reader = new SnapshotReader(input, leaveOpen);
        try
        {
            reader.ReadHeader();
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>Reads the next record. Returns false at the end marker, after reading and checking the footer's layout.</summary>
    /// <param name="type">The record type.</param>
    /// <param name="payload">The protobuf bytes; valid until the next call.</param>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadRecord(out SnapshotRecordType type, out ReadOnlyMemory<byte> payload)
    {
        if (Footer is not null)
        {
            type = SnapshotRecordType.End;
            payload = default;
            return false;
        }

        var at = _offset;
        Span<byte> prefix = stackalloc byte[SnapshotFormat.RecordPrefixLength];
        ReadHashed(prefix, "record prefix");
        type = (SnapshotRecordType)prefix[0];
        var length = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (type == SnapshotRecordType.End)
        {
            if (length != 0)
            {
                throw Error(at, $"end marker with length {length}, expected 0");
            }

            ReadFooter();
            payload = default;
            return false;
        }

        var expected = Header.Kind == SnapshotKind.Full ? SnapshotRecordType.Reservation : SnapshotRecordType.Event;
        if (type != expected)
        {
            throw Error(at, $"record type {(byte)type} in a {Header.Kind.ToString().ToLowerInvariant()} snapshot (expected {(byte)expected})");
        }

        if (length > SnapshotFormat.MaxRecordLength)
        {
            throw Error(at, $"record length {length} exceeds {SnapshotFormat.MaxRecordLength}");
        }

        if (_buffer.Length < length)
        {
            _buffer = new byte[Math.Max(length, _buffer.Length * 2)];
        }

        ReadHashed(_buffer.AsSpan(0, (int)length), "record payload");
        _records++;
        payload = _buffer.AsMemory(0, (int)length);
        return true;
    }

    /// <summary>
    /// Verifies the footer's signature with <paramref name="publicKeySpki"/> (DER SubjectPublicKeyInfo), or with the
    /// key embedded in the footer when null. True only if the digest matched too.
    /// </summary>
    public bool VerifySignature(ReadOnlySpan<byte> publicKeySpki = default)
    {
        if (Footer is null)
        {
            throw new InvalidOperationException("read every record first");
        }

        if (!DigestMatches || Footer.Algorithm != SnapshotFormat.AlgorithmEcdsaP256Sha256)
        {
            return false;
        }

        try
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(publicKeySpki.IsEmpty ? Footer.PublicKeySpki : publicKeySpki, out _);
            return key.VerifyData(SnapshotWriter.SignedMessage(Footer.Digest), Footer.Signature, HashAlgorithmName.SHA256,
                DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            // A footer key on a curve this platform does not know throws PlatformNotSupportedException from the import:
            // it is not the registry's key either (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _hash.Dispose();
        if (!_leaveOpen)
        {
            _input.Dispose();
        }
    }

    private void ReadHeader()
    {
        Span<byte> h = stackalloc byte[SnapshotFormat.HeaderLength];
        ReadHashed(h, "header");
        if (!h[..8].SequenceEqual(SnapshotFormat.Magic))
        {
            throw Error(0, "not an OptOutRegistry snapshot (magic 'OPTOUTSN' missing)");
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(h[8..]);
        if (version != SnapshotFormat.Version)
        {
            throw Error(8, $"format version {version}; this reader understands {SnapshotFormat.Version}");
        }

        var kind = (SnapshotKind)h[10];
        if (kind is not (SnapshotKind.Full or SnapshotKind.Delta))
        {
            throw Error(10, $"unknown kind {h[10]}");
        }

        if (h[11] != 0)
        {
            throw Error(11, $"reserved byte is {h[11]}, expected 0");
        }

        var asOf = BinaryPrimitives.ReadInt64BigEndian(h[12..]);
        var since = BinaryPrimitives.ReadInt64BigEndian(h[20..]);
        var created = BinaryPrimitives.ReadInt64BigEndian(h[28..]);
        if (asOf < -1)
        {
            throw Error(12, $"as_of_sequence {asOf} < -1");
        }

        if (kind == SnapshotKind.Full ? since != -1 : since < -1 || since > asOf)
        {
            throw Error(20, $"since_sequence {since} is invalid for a {kind.ToString().ToLowerInvariant()} snapshot as of {asOf}");
        }

        DateTimeOffset createdAt;
        try
        {
            createdAt = DateTimeOffset.UnixEpoch.AddTicks(checked(created * 10));
        }
        catch (Exception ex) when (ex is OverflowException or ArgumentOutOfRangeException)
        {
            throw Error(28, $"created_at {created} is out of range");
        }

        Header = new SnapshotHeader(kind, asOf, since, createdAt);
    }

    private void ReadFooter()
    {
        var at = _offset;
        Span<byte> count = stackalloc byte[8];
        ReadHashed(count, "record count");
        var recordCount = BinaryPrimitives.ReadInt64BigEndian(count);
        if (recordCount != _records)
        {
            throw Error(at, $"footer says {recordCount} records, the file holds {_records}");
        }

        var digest = new byte[32];
        ReadRaw(digest, "digest");
        FlushHash();
        var computed = _hash.GetHashAndReset();
        Span<byte> algorithmAndLength = stackalloc byte[3];
        ReadRaw(algorithmAndLength, "signature algorithm");
        var spki = ReadField(BinaryPrimitives.ReadUInt16BigEndian(algorithmAndLength[1..]), "public key");
        Span<byte> length = stackalloc byte[2];
        ReadRaw(length, "signature length");
        var signature = ReadField(BinaryPrimitives.ReadUInt16BigEndian(length), "signature");
        Span<byte> end = stackalloc byte[8];
        ReadRaw(end, "end magic");
        if (!end.SequenceEqual(SnapshotFormat.EndMagic))
        {
            throw Error(_offset - 8, "end magic 'SNAPEND\\n' missing (truncated or corrupt file)");
        }

        DigestMatches = CryptographicOperations.FixedTimeEquals(digest, computed);
        Footer = new SnapshotFooter(recordCount, digest, algorithmAndLength[0], spki, signature);
    }

    private byte[] ReadField(ushort length, string what)
    {
        if (length > SnapshotFormat.MaxFooterFieldLength)
        {
            throw Error(_offset, $"{what} of {length} bytes exceeds {SnapshotFormat.MaxFooterFieldLength}");
        }

        var bytes = new byte[length];
        ReadRaw(bytes, what);
        return bytes;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadHashed(Span<byte> destination, string what)
    {
        ReadRaw(destination, what);
        Hash(destination);
    }

    // Each append to the hash is a call into the platform's crypto library, and a record is two small reads (5 bytes,
    // then ~50-200): the bytes are staged and hashed 256 KiB at a time, one call instead of two per record. Reading a
    // 1 M-record file: Benchmarks.Core RESULTS.md, round six.
    private void Hash(ReadOnlySpan<byte> data)
    {
        if (data.Length > _staging.Length - _staged)
        {
            FlushHash();
            if (data.Length >= _staging.Length)
            {
                _hash.AppendData(data);
                return;
            }
        }

        data.CopyTo(_staging.AsSpan(_staged));
        _staged += data.Length;
    }

    private void FlushHash()
    {
        if (_staged > 0)
        {
            _hash.AppendData(_staging.AsSpan(0, _staged));
            _staged = 0;
        }
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadRaw(Span<byte> destination, string what)
    {
        var at = _offset;
        try
        {
            _input.ReadExactly(destination);
        }
        catch (EndOfStreamException)
        {
            throw Error(at, $"file ends inside the {what} (truncated)");
        }

        _offset += destination.Length;
    }

    private static SnapshotFormatException Error(long offset, string reason) => new($"snapshot: at byte {offset}: {reason}");
}
