using System.Buffers.Binary;
using Google.Protobuf;
using OptOutRegistry.Fingerprints.Hashing;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Replication;

/// <summary>
/// The events a replica applied after its snapshot, kept in <c>{data-dir}/replica/events.journal</c> so that a restarted
/// replica resumes from its own disk (and keeps answering while the primary is unreachable) instead of downloading the
/// whole snapshot again.
/// </summary>
/// <remarks>
/// Each record is <c>[u32 length][u32 xxHash32 of the payload][payload]</c>, little-endian, the payload a serialized
/// <c>optout.v1.Event</c>. Records are written with one <c>write</c> each and not fsynced: the journal is a cache of
/// what the primary still holds, so a record lost in a crash is fetched again. What matters is that a torn or damaged
/// tail is recognised: reading stops at the first record whose length or checksum does not add up, and the file is
/// cut there before new records are appended.
/// </remarks>
internal sealed class ReplicaJournal : IDisposable
{
    private const int HeaderSize = 8;

    /// <summary>An event is at most the gRPC receive limit; a larger length is damage, not data.</summary>
    private const int MaxRecordSize = 4 * 1024 * 1024;

    private readonly string _path;
    private FileStream? _append;

    public ReplicaJournal(string path) => _path = path;

    /// <summary>Records appended since the journal was last emptied (read back by <see cref="Replay"/> or counted on append).</summary>
    public long Count { get; private set; }

    /// <summary>
    /// Reads every intact record in order and hands it to <paramref name="apply"/>; stops at the first damaged record or
    /// when <paramref name="apply"/> returns false, and cuts the file there so that appends continue from a clean end.
    /// </summary>
    /// <returns>The number of records handed over and accepted.</returns>
    public long Replay(Func<Pb.Event, bool> apply)
    {
        ArgumentNullException.ThrowIfNull(apply);
        CloseAppend();
        Count = 0;
        if (!File.Exists(_path))
        {
            return 0;
        }

        long goodEnd = 0;
        using (var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            var payload = new byte[4096];
            while (true)
            {
                if (file.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize)
                {
                    break;
                }

                var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
                var checksum = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
                if (length > MaxRecordSize)
                {
                    break;
                }

                if (payload.Length < length)
                {
                    payload = new byte[Math.Max((int)length, payload.Length * 2)];
                }

                var body = payload.AsSpan(0, (int)length);
                if (file.ReadAtLeast(body, body.Length, throwOnEndOfStream: false) < body.Length
                    || XxHash32.HashToUInt32(body) != checksum)
                {
                    break;
                }

                Pb.Event @event;
                try
                {
                    @event = Pb.Event.Parser.ParseFrom(body);
                }
                catch (Google.Protobuf.InvalidProtocolBufferException)
                {
                    break;
                }

                if (!apply(@event))
                {
                    break;
                }

                goodEnd = file.Position;
                Count++;
            }
        }

        using (var truncate = new FileStream(_path, FileMode.Open, FileAccess.Write, FileShare.Read))
        {
            if (truncate.Length != goodEnd)
            {
                truncate.SetLength(goodEnd);
            }
        }

        return Count;
    }

    /// <summary>Appends one applied event. One write per record, so a kill leaves at most one torn record at the end.</summary>
    public void Append(Pb.Event @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        _append ??= new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        var size = @event.CalculateSize();
        var record = new byte[HeaderSize + size];
        var body = record.AsSpan(HeaderSize);
        @event.WriteTo(body);
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), XxHash32.HashToUInt32(body));
        _append.Write(record);
        Count++;
    }

    /// <summary>Empties the journal: called once a new snapshot has replaced the state the records were applied to.</summary>
    public void Clear()
    {
        CloseAppend();
        File.Delete(_path);
        Count = 0;
    }

    public void Dispose() => CloseAppend();

    private void CloseAppend()
    {
        _append?.Dispose();
        _append = null;
    }
}
