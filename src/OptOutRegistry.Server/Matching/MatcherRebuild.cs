using System.Diagnostics;
using System.Threading.Channels;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// The matcher rebuild at start (issue 4: 10 M reservations in ≤ 20 s): instead of replaying every event of the log
/// (parse each <c>optout.v1.Event</c>, apply it as one locked change), it reads the store's reservation rows — each
/// row's payload is the reservation's current <c>optout.v1.Reservation</c>, state included — in one consistent
/// snapshot (<see cref="IRegistryStore.ReadReservationPayloadsAsync"/>), decodes them in parallel chunks and builds the
/// matcher in bulk (<see cref="MatcherIndex.Build"/>), then hands it to the mirror as of the snapshot's sequence.
/// <see cref="MatcherHost"/> tails the log from there. The result is the same matcher a full snapshot file gives
/// (<see cref="RegistryMirror.LoadSnapshot"/>): a snapshot is exactly these payloads in this order.
/// </summary>
public static class MatcherRebuild
{
    // As ParallelSnapshotDecoder: large chunks, because each hand-over between the reading, decoding and building
    // threads can cost a scheduler wake-up, which on a loaded machine is milliseconds.
    private const int ChunkRows = 4096;
    private const int ChunkBytes = 4 << 20;

    /// <summary>Rebuilds <paramref name="mirror"/> from <paramref name="store"/>; returns what was loaded.</summary>
    /// <param name="store">The registry store.</param>
    /// <param name="mirror">The mirror to load; its earlier state is replaced.</param>
    /// <param name="skipped">Called (on the building thread, in row order) for a row Core refuses, with the reason; the row is left out, as <see cref="MatcherHost"/> skips such an event.</param>
    /// <param name="cancellationToken">Stops the rebuild; the mirror is then unchanged.</param>
    public static async Task<MatcherRebuildResult> RunAsync(
        IRegistryStore store, RegistryMirror mirror, Action<string, string>? skipped = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(mirror);
        var started = Stopwatch.GetTimestamp();
        // One selector per event is the common case (a reservation per event, most with one URL selector): sizes the
        // tables once for a typical log; a larger registry grows them as the build goes.
        var expected = await store.GetLatestSequenceAsync(cancellationToken).ConfigureAwait(false) + 1;
        var options = mirror.Options with { ExpectedSelectors = Math.Max(0, expected) };
        using var pipeline = new Pipeline(store, cancellationToken);
        MatcherIndex matcher;
        try
        {
            // The build runs on its own thread: it is long and synchronous, and the decoders use the pool.
            matcher = await Task.Factory.StartNew(
                () => MatcherIndex.Build(pipeline.Reservations(skipped), options),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch
        {
            await pipeline.AbandonAsync().ConfigureAwait(false);
            throw;
        }

        var asOf = pipeline.AsOfSequence;
        mirror.Load(matcher, asOf, pipeline.HolderNames);
        return new MatcherRebuildResult(asOf, pipeline.Rows, pipeline.Skipped, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Store read (one thread) → parallel decode (pool) → ordered hand-over to the building thread.</summary>
    private sealed class Pipeline : IDisposable
    {
        private readonly Channel<Task<Decoded[]>> _chunks = Channel.CreateBounded<Task<Decoded[]>>(
            new BoundedChannelOptions((2 * Environment.ProcessorCount) + 2) { SingleReader = true, SingleWriter = true });

        private readonly CancellationTokenSource _stop;
        private readonly Task _reader;
        private List<byte[]> _pending = new(ChunkRows);
        private int _pendingBytes;
        private long _asOf = -1;

        public Pipeline(IRegistryStore store, CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _reader = Task.Factory.StartNew(() => Read(store), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public long AsOfSequence => Interlocked.Read(ref _asOf);

        public int Rows { get; private set; }

        public int Skipped { get; private set; }

        /// <summary>Each holder's display name as of its newest reservation that carries one.</summary>
        public Dictionary<string, string> HolderNames { get; } = new(StringComparer.Ordinal);

        /// <summary>The decoded reservations in row order; rethrows a failure of the store read.</summary>
        public IEnumerable<Reservation> Reservations(Action<string, string>? skipped)
        {
            var chunks = _chunks.Reader;
            while (chunks.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
            {
                while (chunks.TryRead(out var chunk))
                {
                    foreach (var decoded in chunk.GetAwaiter().GetResult())
                    {
                        Rows++;
                        if (decoded.Reservation is null)
                        {
                            Skipped++;
                            skipped?.Invoke(decoded.Id, decoded.Error!);
                            continue;
                        }

                        if (decoded.HolderName is { } name)
                        {
                            HolderNames[decoded.Reservation.HolderId] = name;
                        }

                        yield return decoded.Reservation;
                    }
                }
            }

            // The channel completes after the read ends; a read that failed surfaces here.
            _reader.GetAwaiter().GetResult();
        }

        /// <summary>After the build failed: stops the store read and waits for it; the build's failure is what the caller sees.</summary>
        public async Task AbandonAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _reader.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The read stopped because the build did (cancelled), or failed on its own: either way second to the build's error.
            }
        }

        public void Dispose() => _stop.Dispose();

        private void Read(IRegistryStore store)
        {
            try
            {
                var asOf = store.ReadReservationPayloadsAsync(Add, _stop.Token).GetAwaiter().GetResult();
                if (_pending.Count > 0)
                {
                    Dispatch();
                }

                Interlocked.Exchange(ref _asOf, asOf);
                _chunks.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                _chunks.Writer.TryComplete(ex);
                throw;
            }
        }

        private void Add(byte[] payload)
        {
            _pending.Add(payload);
            _pendingBytes += payload.Length;
            if (_pending.Count == ChunkRows || _pendingBytes >= ChunkBytes)
            {
                Dispatch();
            }
        }

        private void Dispatch()
        {
            // Wait for room before starting the task, so at most the channel's capacity of chunks is decoded or held.
            // One writer: room seen here is still there at TryWrite.
            var writer = _chunks.Writer;
            if (writer.WaitToWriteAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
            {
                var payloads = _pending;
                writer.TryWrite(Task.Run(() => Decode(payloads)));
            }

            _pending = new List<byte[]>(ChunkRows);
            _pendingBytes = 0;
        }

        private static Decoded[] Decode(List<byte[]> payloads)
        {
            var decoded = new Decoded[payloads.Count];
            for (var i = 0; i < decoded.Length; i++)
            {
                Pb.Reservation? message = null;
                try
                {
                    message = ParseForMatcher(payloads[i]);
                    decoded[i] = new Decoded(ProtoConvert.ToCore(message), message.HolderName.Length > 0 ? message.HolderName : null, message.Id, null);
                }
                catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or ModelValidationException)
                {
                    // A row Core refuses (e.g. written by a newer version): left out, reported by the building thread.
                    decoded[i] = new Decoded(null, null, message?.Id ?? string.Empty, ex.Message);
                }
            }

            return decoded;
        }
    }

    // optout.v1.Reservation field 15 (work: title, creators, identifiers, language) is for people and search, not for
    // matching (ProtoConvert.ToCore ignores it), and its strings are a third of the parse (UTF-8 to UTF-16 per string).
    private const byte WorkTag = (15 << 3) | 2;

    /// <summary>
    /// Parses a stored reservation without its work metadata: the top-level fields are scanned (tag and length only), and
    /// the bytes before and after the <c>work</c> field are parsed as one message — protobuf merges concatenated encodings
    /// field by field (protobuf.dev/programming-guides/encoding/#last-one-wins), so the result is the message minus
    /// <c>work</c>. Anything the scan does not expect is parsed whole, which reports a damaged payload as before.
    /// </summary>
    public static Pb.Reservation ParseForMatcher(byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ReadOnlySpan<byte> span = payload;
        var position = 0;
        while (position < span.Length)
        {
            var fieldStart = position;
            if (!TryReadVarint(span, ref position, out var tag))
            {
                break;
            }

            ulong length = 0;
            switch (tag & 7)
            {
                case 0 when TryReadVarint(span, ref position, out _):
                    continue;
                case 1:
                    position += 8;
                    continue;
                case 5:
                    position += 4;
                    continue;
                case 2 when TryReadVarint(span, ref position, out length) && length <= (ulong)(span.Length - position):
                    position += (int)length;
                    if (tag != WorkTag)
                    {
                        continue;
                    }

                    var message = Pb.Reservation.Parser.ParseFrom(span[..fieldStart]);
                    if (position < span.Length)
                    {
                        Google.Protobuf.MessageExtensions.MergeFrom(message, span[position..]);
                    }

                    return message;
            }

            break;
        }

        return Pb.Reservation.Parser.ParseFrom(payload);
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < span.Length; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct Decoded(Reservation? Reservation, string? HolderName, string Id, string? Error);
}

/// <summary>What <see cref="MatcherRebuild.RunAsync"/> loaded.</summary>
/// <param name="AsOfSequence">The log sequence the matcher is current as of (−1 for an empty log).</param>
/// <param name="Rows">Reservation rows read.</param>
/// <param name="Skipped">Rows left out because Core refused them.</param>
/// <param name="Elapsed">Wall time of the rebuild.</param>
public sealed record MatcherRebuildResult(long AsOfSequence, int Rows, int Skipped, TimeSpan Elapsed);
