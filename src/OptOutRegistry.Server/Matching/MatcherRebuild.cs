using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// The matcher rebuild at start (issue 4: 10 M reservations in ≤ 20 s): instead of replaying every event of the log
/// (parse each <c>optout.v1.Event</c>, apply it as one locked change), it reads the store's reservation rows — each
/// row's payload is the reservation's current <c>optout.v1.Reservation</c>, state included — in one consistent
/// snapshot (<see cref="IRegistryStore.ReadReservationPayloadSpansAsync"/>) and builds the matcher in bulk, then hands it to
/// the mirror as of the snapshot's sequence. <see cref="MatcherHost"/> tails the log from there.
/// <para>Three stages on two cores: the store read copies payloads into large pooled chunks (one thread); each chunk is
/// decoded on the pool by <see cref="ReservationWireDecoder"/> straight from the bytes into prepared rows (selectors
/// canonicalised and hashed there, no message, model or string objects for url selectors); one thread inserts the
/// prepared rows into the tables (<see cref="MatcherBuilder"/>) in row order. The chunks are recycled, so the heap
/// holds the matcher and little else (round four's rows path parsed messages and made <see cref="Reservation"/>
/// objects that lived until the build took them: 3 µs per row more than its stages summed).</para>
/// The result is the same matcher the replay or a full snapshot file gives (tested).
/// </summary>
public static class MatcherRebuild
{
    // Large chunks: each hand-over between the reading, decoding and building threads can cost a scheduler wake-up,
    // which on a loaded machine is milliseconds.
    private const int ChunkRows = 8192;
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
                () => pipeline.Build(options, skipped),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch
        {
            await pipeline.AbandonAsync().ConfigureAwait(false);
            throw;
        }

        var asOf = pipeline.AsOfSequence;
        mirror.Load(matcher, asOf, pipeline.HolderNames);
        return new MatcherRebuildResult(asOf, pipeline.Rows, pipeline.Skipped, Stopwatch.GetElapsedTime(started))
        {
            ReadWaited = Stopwatch.GetElapsedTime(0, pipeline.ReadWaitTicks),
            BuildWaited = Stopwatch.GetElapsedTime(0, pipeline.BuildWaitTicks),
        };
    }

    /// <summary>Rows read from the store, then decoded in place: one unit of hand-over, recycled.</summary>
    private sealed class Chunk
    {
        public byte[] Data = new byte[ChunkBytes + (64 << 10)];
        public int[] Ends = new int[ChunkRows];
        public int Count;
        public int Bytes;
        public PreparedReservation[] Rows = new PreparedReservation[ChunkRows];
        public int[] SelectorEnds = new int[ChunkRows];
        public string?[] HolderNames = new string?[ChunkRows];
        public string?[] Ids = new string?[ChunkRows];
        public string?[] Errors = new string?[ChunkRows];
        public readonly List<PreparedSelector> Selectors = new(ChunkRows);

        public bool Fits(int length) => Count < ChunkRows && (Count == 0 || Bytes + length <= ChunkBytes);

        public void Add(ReadOnlySpan<byte> payload)
        {
            if (Bytes + payload.Length > Data.Length)
            {
                // Only a single payload larger than a chunk gets here (Fits sent the chunk off before otherwise).
                Array.Resize(ref Data, Bytes + payload.Length);
            }

            payload.CopyTo(Data.AsSpan(Bytes));
            Bytes += payload.Length;
            Ends[Count++] = Bytes;
        }

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
                    // A row Core refuses (damaged, or written by a newer version): left out, reported by the building thread.
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

    /// <summary>Store read (one thread) → decode (pool) → ordered hand-over to the building thread.</summary>
    private sealed class Pipeline : IDisposable
    {
        // Chunks in flight: read, decoding or decoded and queued. Bounds memory (a chunk is ~5 MiB) and lets the reader
        // run ahead of the build by a few chunks.
        private static readonly int Capacity = (2 * Environment.ProcessorCount) + 2;

        private readonly Channel<Task<Chunk>> _chunks = Channel.CreateBounded<Task<Chunk>>(
            new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = true });

        private readonly ConcurrentQueue<Chunk> _free = new();
        private readonly ConcurrentBag<ReservationWireDecoder> _decoders = [];
        private readonly CancellationTokenSource _stop;
        private readonly Task _reader;
        private Chunk _pending;
        private long _asOf = -1;

        public Pipeline(IRegistryStore store, CancellationToken cancellationToken)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _pending = new Chunk();
            _reader = Task.Factory.StartNew(() => Read(store), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public long AsOfSequence => Interlocked.Read(ref _asOf);

        /// <summary>Stopwatch ticks the reading thread waited for room (the decoders and the build were behind).</summary>
        public long ReadWaitTicks { get; private set; }

        /// <summary>Stopwatch ticks the building thread waited for a decoded chunk (the read or the decoders were behind).</summary>
        public long BuildWaitTicks { get; private set; }

        public int Rows { get; private set; }

        public int Skipped { get; private set; }

        /// <summary>Each holder's display name as of its newest reservation that carries one.</summary>
        public Dictionary<string, string> HolderNames { get; } = new(StringComparer.Ordinal);

        /// <summary>Builds the matcher from the decoded chunks in row order; rethrows a failure of the store read.</summary>
        public MatcherIndex Build(MatcherOptions options, Action<string, string>? skipped)
        {
            var builder = new MatcherBuilder(options);
            var chunks = _chunks.Reader;
            while (Waited(chunks.WaitToReadAsync(_stop.Token)))
            {
                while (chunks.TryRead(out var task))
                {
                    var chunk = Waited(task);
                    Add(builder, chunk, skipped);
                    chunk.Reset();
                    _free.Enqueue(chunk);
                }
            }

            // The channel completes after the read ends; a read that failed surfaces here.
            _reader.GetAwaiter().GetResult();
            return builder.Complete();
        }

        // The building thread's waits, timed only when it has to wait: which side is the floor (issue 4's ≤ 20 s).
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

        private void Add(MatcherBuilder builder, Chunk chunk, Action<string, string>? skipped)
        {
            var selectors = CollectionsMarshal.AsSpan(chunk.Selectors);
            var start = 0;
            for (var i = 0; i < chunk.Count; i++)
            {
                Rows++;
                var end = chunk.SelectorEnds[i];
                var error = chunk.Errors[i];
                ref readonly var row = ref chunk.Rows[i];
                if (error is null && !builder.TryAdd(row, selectors[start..end], out var field, out var reason))
                {
                    error = $"{field}: {reason}";
                }

                start = end;
                if (error is not null)
                {
                    Skipped++;
                    skipped?.Invoke(chunk.Ids[i] ?? row.Id ?? string.Empty, error);
                    continue;
                }

                if (chunk.HolderNames[i] is { } name)
                {
                    HolderNames[row.HolderId] = name;
                }
            }
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
                // The span form: the store hands out its own buffer (SQLite's column), copied once into the chunk.
                var asOf = store.ReadReservationPayloadSpansAsync(static (payload, self) => ((Pipeline)self!).Add(payload), this, _stop.Token)
                    .GetAwaiter().GetResult();
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

        private void Add(ReadOnlySpan<byte> payload)
        {
            if (!_pending.Fits(payload.Length))
            {
                Dispatch();
            }

            _pending.Add(payload);
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

/// <summary>What <see cref="MatcherRebuild.RunAsync"/> loaded.</summary>
/// <param name="AsOfSequence">The log sequence the matcher is current as of (−1 for an empty log).</param>
/// <param name="Rows">Reservation rows read.</param>
/// <param name="Skipped">Rows left out because Core refused them.</param>
/// <param name="Elapsed">Wall time of the rebuild.</param>
public sealed record MatcherRebuildResult(long AsOfSequence, int Rows, int Skipped, TimeSpan Elapsed)
{
    /// <summary>Wall time the store read waited for the decoders and the build to take chunks (they were the slower side).</summary>
    public TimeSpan ReadWaited { get; init; }

    /// <summary>Wall time the build waited for decoded chunks (the store read or the decoding was the slower side).</summary>
    public TimeSpan BuildWaited { get; init; }
}
