using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using OptOutRegistry.Core.Matching;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Produces the serialized <c>optout.v1.Reservation</c> payloads of a bulk load, in order, by calling
/// <see cref="ReservationPayloadSink.Add"/> once per payload; runs on a thread of its own. Returning ends the input;
/// throwing fails the load (after the payloads added before the failure have been decoded, so an earlier damaged
/// payload is reported first).
/// </summary>
/// <param name="sink">Where the payloads go.</param>
/// <param name="cancellationToken">Set when the load is abandoned (the building side failed, or the caller cancelled).</param>
public delegate void ReservationPayloadSource(ReservationPayloadSink sink, CancellationToken cancellationToken);

/// <summary>
/// Called on the building thread, in input order, for a payload that does not make a reservation Core accepts. Return
/// to leave the payload out and go on (the store rebuild); throw to fail the load (a snapshot is a signed file: a bad
/// record is a bad file).
/// </summary>
/// <param name="index">The payload's position in the input (0-based).</param>
/// <param name="id">The reservation id when it could be read, else empty.</param>
/// <param name="reason"><c>field: reason</c>.</param>
public delegate void ReservationRefusedHandler(long index, string id, string reason);

/// <summary>
/// The one path from stored reservation bytes to a matcher, shared by the server's rebuild at start (its store's
/// reservation rows) and every snapshot load (a replica's start, the SDK's offline checker): three stages on the
/// machine's cores. The source (one thread) copies payloads into large pooled chunks; each chunk is decoded on the
/// thread pool by <see cref="ReservationWireDecoder"/> straight from the bytes into prepared rows (selectors
/// canonicalised and hashed there; no message, model or string objects for url selectors); the calling thread inserts
/// the prepared rows into the tables (<see cref="MatcherBuilder"/>) in input order. At most a few chunks per core are in
/// flight and they are recycled, so memory stays bounded whatever the input size and the heap holds the matcher and
/// little else.
/// </summary>
/// <remarks>
/// The methods this path runs per payload or per selector (here, in <see cref="ReservationWireDecoder"/>,
/// <see cref="SnapshotReader"/> and Core's builder) are marked <c>AggressiveOptimization</c>: a bulk load runs each of them
/// ~10^6 times in a process's first seconds, while tier-1 promotion waits for a JIT thread the load keeps busy, so
/// without it about half of a first 1 M load ran in tier-0 code (Benchmarks.Core RESULTS.md, round six). Methods the
/// check path also runs are left to tiering and its profile-guided optimisation.
/// </remarks>
public static class ReservationBulkLoad
{
    /// <summary>Builds a matcher from <paramref name="source"/>'s payloads; synchronous, on the calling thread.</summary>
    /// <param name="source">The payloads, in order (its own thread).</param>
    /// <param name="options">The matcher's options; size the tables with <see cref="MatcherOptions.ExpectedSelectors"/>.</param>
    /// <param name="refused">What to do with a payload Core refuses; null leaves it out silently.</param>
    /// <param name="cancellationToken">Abandons the load (<see cref="OperationCanceledException"/>).</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    /// <remarks>An exception from <paramref name="source"/> or <paramref name="refused"/> is rethrown as it is, after the
    /// source's thread has stopped.</remarks>
    public static ReservationBulkLoadResult Run(
        ReservationPayloadSource source, MatcherOptions options, ReservationRefusedHandler? refused, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        using var pipeline = new Pipeline(source, cancellationToken);
        try
        {
            var matcher = pipeline.Build(options, refused);
            return new ReservationBulkLoadResult(matcher, pipeline.HolderNames, pipeline.Rows, pipeline.Refused)
            {
                SourceWaited = Stopwatch.GetElapsedTime(0, pipeline.ReadWaitTicks),
                BuildWaited = Stopwatch.GetElapsedTime(0, pipeline.BuildWaitTicks),
            };
        }
        catch
        {
            pipeline.Abandon();
            throw;
        }
    }

    // Large chunks: each hand-over between the reading, decoding and building threads can cost a scheduler wake-up,
    // which on a loaded machine is milliseconds.
    internal const int ChunkRows = 8192;
    internal const int ChunkBytes = 4 << 20;

    /// <summary>Payloads copied in, then decoded in place: one unit of hand-over, recycled.</summary>
    internal sealed class Chunk
    {
        // A chunk starts small and grows to its limits as it fills (and keeps its size when recycled): a load of a few
        // records (a small registry, a test) does not allocate and clear 5 MiB per chunk.
        private const int InitialRows = 64;

        public byte[] Data = new byte[16 << 10];
        public int[] Ends = new int[InitialRows];
        public int Count;
        public int Bytes;
        public long First;
        public PreparedReservation[] Rows = new PreparedReservation[InitialRows];
        public int[] SelectorEnds = new int[InitialRows];
        public string?[] HolderNames = new string?[InitialRows];
        public string?[] Ids = new string?[InitialRows];
        public string?[] Errors = new string?[InitialRows];
        public readonly List<PreparedSelector> Selectors = new(InitialRows);

        public bool Fits(int length) => Count < ChunkRows && (Count == 0 || Bytes + length <= ChunkBytes);

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Add(ReadOnlySpan<byte> payload)
        {
            if (Bytes + payload.Length > Data.Length)
            {
                // Doubling up to the chunk's size (plus room for the payload that crosses it); a single payload larger
                // than a chunk gets a chunk of its own size (Fits sent the chunk off before otherwise).
                Array.Resize(ref Data, Math.Max(Bytes + payload.Length, Math.Min(2 * Data.Length, ChunkBytes + (64 << 10))));
            }

            if (Count == Ends.Length)
            {
                var rows = Math.Min(2 * Count, ChunkRows);
                Array.Resize(ref Ends, rows);
                Array.Resize(ref Rows, rows);
                Array.Resize(ref SelectorEnds, rows);
                Array.Resize(ref HolderNames, rows);
                Array.Resize(ref Ids, rows);
                Array.Resize(ref Errors, rows);
            }

            payload.CopyTo(Data.AsSpan(Bytes));
            Bytes += payload.Length;
            Ends[Count++] = Bytes;
        }

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Decode(ReservationWireDecoder decoder)
        {
            Selectors.Clear();
            var start = 0;
            for (var i = 0; i < Count; i++)
            {
                var payload = Data.AsSpan(start, Ends[i] - start);
                start = Ends[i];
                if (decoder.TryDecode(payload, Selectors, out Rows[i], out HolderNames[i], out var id, out var error))
                {
                    Ids[i] = null;
                    Errors[i] = null;
                }
                else
                {
                    // Refused by Core (damaged, or written by a newer version): the building thread decides, in order.
                    Ids[i] = id;
                    Errors[i] = error;
                }

                SelectorEnds[i] = Selectors.Count;
            }
        }

        public void Reset()
        {
            // Drop the strings of the rows just built, so a pooled chunk does not keep them alive.
            Array.Clear(Rows, 0, Count);
            Array.Clear(HolderNames, 0, Count);
            Array.Clear(Ids, 0, Count);
            Array.Clear(Errors, 0, Count);
            Selectors.Clear();
            Count = 0;
            Bytes = 0;
        }
    }

    /// <summary>Source (one thread) → decode (pool) → ordered hand-over to the building thread.</summary>
    internal sealed class Pipeline : IDisposable
    {
        // Chunks in flight: read, decoding or decoded and queued. Bounds memory (a chunk is ~5 MiB) and lets the source
        // run ahead of the build by a few chunks.
        private static readonly int Capacity = (2 * Environment.ProcessorCount) + 2;

        private readonly Channel<Task<Chunk>> _chunks = Channel.CreateBounded<Task<Chunk>>(
            new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = true });

        private readonly ConcurrentQueue<Chunk> _free = new();
        private readonly ConcurrentBag<ReservationWireDecoder> _decoders = [];
        private readonly CancellationTokenSource _stop;
        private readonly Task _reader;
        private Chunk _pending = new();
        private long _added;
        private ExceptionDispatchInfo? _sourceFailure;

        public Pipeline(ReservationPayloadSource source, CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var sink = new ReservationPayloadSink(this);
            _reader = Task.Factory.StartNew(() => Read(source, sink), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        /// <summary>Stopwatch ticks the source waited for room (the decoders and the build were behind).</summary>
        public long ReadWaitTicks { get; private set; }

        /// <summary>Stopwatch ticks the building thread waited for a decoded chunk (the source or the decoders were behind).</summary>
        public long BuildWaitTicks { get; private set; }

        public int Rows { get; private set; }

        public int Refused { get; private set; }

        /// <summary>Each holder's display name as of its last payload that carries one.</summary>
        public Dictionary<string, string> HolderNames { get; } = new(StringComparer.Ordinal);

        /// <summary>Builds the matcher from the decoded chunks in input order; rethrows a failure of the source.</summary>
        public MatcherIndex Build(MatcherOptions options, ReservationRefusedHandler? refused)
        {
            var builder = new MatcherBuilder(options);
            var chunks = _chunks.Reader;
            while (Waited(chunks.WaitToReadAsync(_stop.Token)))
            {
                while (chunks.TryRead(out var task))
                {
                    var chunk = Waited(task);
                    Add(builder, chunk, refused);
                    chunk.Reset();
                    _free.Enqueue(chunk);
                }
            }

            // The channel completes after the source ends; a source that failed surfaces here, after everything it
            // produced before the failure was built (or refused).
            _reader.GetAwaiter().GetResult();
            _sourceFailure?.Throw();
            return builder.Complete();
        }

        /// <summary>After the build failed: stops the source and waits for it; the build's failure is what the caller sees.</summary>
        public void Abandon()
        {
            _stop.Cancel();
            try
            {
                _reader.GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // Read catches everything it can; nothing here is more informative than the build's own failure.
            }
        }

        public void Dispose() => _stop.Dispose();

        /// <summary>Called by the sink on the source's thread.</summary>
        public void Add(ReadOnlySpan<byte> payload)
        {
            if (!_pending.Fits(payload.Length))
            {
                Dispatch();
            }

            if (_pending.Count == 0)
            {
                _pending.First = _added;
            }

            _pending.Add(payload);
            _added++;
        }

        // The building thread's waits, timed only when it has to wait: which side is the floor.
        private bool Waited(ValueTask<bool> wait)
        {
            if (wait.IsCompleted)
            {
                return wait.GetAwaiter().GetResult();
            }

            var start = Stopwatch.GetTimestamp();
            var result = wait.AsTask().GetAwaiter().GetResult();
            BuildWaitTicks += Stopwatch.GetTimestamp() - start;
            return result;
        }

        private Chunk Waited(Task<Chunk> task)
        {
            if (task.IsCompleted)
            {
                return task.GetAwaiter().GetResult();
            }

            var start = Stopwatch.GetTimestamp();
            var chunk = task.GetAwaiter().GetResult();
            BuildWaitTicks += Stopwatch.GetTimestamp() - start;
            return chunk;
        }

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Add(MatcherBuilder builder, Chunk chunk, ReservationRefusedHandler? refused)
        {
            var selectors = CollectionsMarshal.AsSpan(chunk.Selectors);
            var start = 0;
            for (var i = 0; i < chunk.Count; i++)
            {
                Rows++;
                var end = chunk.SelectorEnds[i];
                var error = chunk.Errors[i];
                ref readonly var row = ref chunk.Rows[i];
                if (error is null)
                {
                    try
                    {
                        if (!builder.TryAdd(row, selectors[start..end], out var field, out var reason))
                        {
                            error = $"{field}: {reason}";
                        }
                    }
                    catch (Core.Model.ModelValidationException ex)
                    {
                        // A second reservation with an id already built: the index refuses it before changing anything.
                        error = "id: " + ex.Message;
                    }
                }

                start = end;
                if (error is not null)
                {
                    Refused++;
                    refused?.Invoke(chunk.First + i, chunk.Ids[i] ?? row.Id ?? string.Empty, error);
                    continue;
                }

                if (chunk.HolderNames[i] is { } name)
                {
                    HolderNames[row.HolderId] = name;
                }
            }
        }

        private void Read(ReservationPayloadSource source, ReservationPayloadSink sink)
        {
            try
            {
                source(sink, _stop.Token);
            }
            catch (Exception ex) when (!_stop.IsCancellationRequested)
            {
                _sourceFailure = ExceptionDispatchInfo.Capture(ex);
            }
            catch (Exception)
            {
                // Stopped because the build gave up or the caller cancelled: the build's side reports that.
                _chunks.Writer.TryComplete();
                return;
            }

            try
            {
                // What was added before the end (or the failure) is built too: an earlier refused payload is reported
                // before the failure that stopped the source, as a sequential load would.
                if (_pending.Count > 0 && !_stop.IsCancellationRequested)
                {
                    Dispatch();
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                // The build gave up or the caller cancelled: the build's side reports it.
            }
            finally
            {
                _chunks.Writer.TryComplete();
            }
        }

        private void Dispatch()
        {
            // Wait for room before starting the task, so at most the channel's capacity of chunks is decoded or held
            // (plus the one being filled and the one being built): the pool of chunks stays at Capacity + 2.
            // One writer: room seen here is still there at TryWrite.
            var writer = _chunks.Writer;
            var wait = writer.WaitToWriteAsync(_stop.Token);
            bool room;
            if (wait.IsCompleted)
            {
                room = wait.GetAwaiter().GetResult();
            }
            else
            {
                var start = Stopwatch.GetTimestamp();
                room = wait.AsTask().GetAwaiter().GetResult();
                ReadWaitTicks += Stopwatch.GetTimestamp() - start;
            }

            if (room)
            {
                var chunk = _pending;
                writer.TryWrite(Task.Run(() =>
                {
                    if (!_decoders.TryTake(out var decoder))
                    {
                        decoder = new ReservationWireDecoder();
                    }

                    chunk.Decode(decoder);
                    _decoders.Add(decoder);
                    return chunk;
                }));
            }

            _pending = _free.TryDequeue(out var free) ? free : new Chunk();
        }
    }
}

/// <summary>Receives a <see cref="ReservationPayloadSource"/>'s payloads (on the source's thread).</summary>
public sealed class ReservationPayloadSink
{
    private readonly ReservationBulkLoad.Pipeline _pipeline;

    internal ReservationPayloadSink(ReservationBulkLoad.Pipeline pipeline) => _pipeline = pipeline;

    /// <summary>Adds the next payload (copied; the span may be reused afterwards). Blocks while the decoders and the build are behind.</summary>
    /// <exception cref="OperationCanceledException">The load was abandoned.</exception>
    public void Add(ReadOnlySpan<byte> payload) => _pipeline.Add(payload);
}

/// <summary>What <see cref="ReservationBulkLoad.Run"/> built.</summary>
/// <param name="Matcher">The matcher, complete.</param>
/// <param name="HolderNames">Each holder's display name as of its last payload that carries one.</param>
/// <param name="Rows">Payloads read.</param>
/// <param name="Refused">Payloads left out because Core refused them (each passed to the refusal handler).</param>
public sealed record ReservationBulkLoadResult(MatcherIndex Matcher, IReadOnlyDictionary<string, string> HolderNames, int Rows, int Refused)
{
    /// <summary>Wall time the source waited for the decoders and the build to take chunks (they were the slower side).</summary>
    public TimeSpan SourceWaited { get; init; }

    /// <summary>Wall time the build waited for decoded chunks (the source or the decoding was the slower side).</summary>
    public TimeSpan BuildWaited { get; init; }
}
