using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Decodes a full snapshot's reservation records on every core while the caller consumes them in file order.
/// One producer thread reads records (the reader hashes them; the format is a single SHA-256 over the file, so reading
/// stays sequential) and groups their payloads into chunks; each chunk is parsed (protobuf) and converted to Core's
/// model (<see cref="ProtoConvert.ToCore(Pb.Reservation)"/>, which validates and canonicalises every selector) as its
/// own task. <see cref="Reservations"/> yields the chunks' results in order. At most a few chunks per core are in
/// flight, so memory stays bounded whatever the file size.
/// </summary>
internal sealed class ParallelSnapshotDecoder
{
    // Chunks are large: every hand-over between the reading, decoding and building threads can cost a scheduler
    // wake-up, which on a loaded machine is milliseconds; ~4 MiB still gives a 1M-selector file (55 MB) 14 chunks.
    private const int ChunkRecords = 4096;
    private const int ChunkBytes = 4 << 20;

    // Average bytes per selector in a snapshot of URL selectors (~55 in the benchmark's 1M-selector file); a slight
    // under-estimate of the bytes sizes the matcher's tables a little large rather than growing them during the build.
    private const int BytesPerSelectorEstimate = 48;

    private readonly SnapshotReader _reader;
    private readonly Channel<Task<Decoded[]>> _chunks;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private ExceptionDispatchInfo? _failure;

    public ParallelSnapshotDecoder(SnapshotReader reader)
    {
        _reader = reader;
        ExpectedSelectors = reader.RemainingBytes is { } remaining ? remaining / BytesPerSelectorEstimate : 0;
        _chunks = Channel.CreateBounded<Task<Decoded[]>>(new BoundedChannelOptions((2 * Environment.ProcessorCount) + 2)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        _producer = Task.Factory.StartNew(Produce, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Selectors expected, estimated from the file size (0 when unknown).</summary>
    public long ExpectedSelectors { get; }

    /// <summary>Holder display names seen, in file order (complete once <see cref="Reservations"/> has been enumerated).</summary>
    public List<KeyValuePair<string, string>> HolderNames { get; } = [];

    /// <summary>The reservations in file order. Throws <see cref="SnapshotFormatException"/> for a damaged file.</summary>
    public IEnumerable<Reservation> Reservations()
    {
        var chunks = _chunks.Reader;
        while (chunks.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (chunks.TryRead(out var chunk))
            {
                foreach (var decoded in chunk.GetAwaiter().GetResult())
                {
                    if (decoded.HolderName is { } name)
                    {
                        HolderNames.Add(new(decoded.Reservation.HolderId, name));
                    }

                    yield return decoded.Reservation;
                }
            }
        }

        _producer.GetAwaiter().GetResult();
        _failure?.Throw();
    }

    /// <summary>Stops the producer (after a failure of the consumer) and waits for it.</summary>
    public void Stop()
    {
        _stop.Cancel();
        try
        {
            _producer.GetAwaiter().GetResult();
        }
        finally
        {
            _stop.Dispose();
        }
    }

    private void Produce()
    {
        var writer = _chunks.Writer;
        var payloads = new List<byte[]>(ChunkRecords);
        var first = 0L;
        try
        {
            var bytes = 0;
            var index = 0L;
            while (_reader.TryReadRecord(out _, out var payload))
            {
                payloads.Add(payload.ToArray());
                bytes += payload.Length;
                index++;
                if (payloads.Count == ChunkRecords || bytes >= ChunkBytes)
                {
                    Dispatch(writer, payloads, first);
                    payloads = new List<byte[]>(ChunkRecords);
                    bytes = 0;
                    first = index;
                }
            }
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            // The records read before a truncation or bad framing are decoded first, so a damaged record earlier in the
            // file is reported before the damage that stopped the reading (as a sequential load would).
            _failure = ExceptionDispatchInfo.Capture(ex);
        }

        try
        {
            if (payloads.Count > 0 && !_stop.IsCancellationRequested)
            {
                Dispatch(writer, payloads, first);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The consumer gave up (its own failure is what the caller sees).
        }
        finally
        {
            writer.TryComplete();
        }
    }

    private void Dispatch(ChannelWriter<Task<Decoded[]>> writer, List<byte[]> payloads, long first)
    {
        // Wait for room before starting the task, so at most the channel's capacity of chunks is decoded or held.
        // (One producer, and only it completes the channel: room seen here is still there at TryWrite.)
        if (writer.WaitToWriteAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
        {
            writer.TryWrite(Task.Run(() => Decode(payloads, first)));
        }
    }

    private static Decoded[] Decode(List<byte[]> payloads, long first)
    {
        var decoded = new Decoded[payloads.Count];
        for (var i = 0; i < decoded.Length; i++)
        {
            try
            {
                var message = Pb.Reservation.Parser.ParseFrom(payloads[i]);
                decoded[i] = new Decoded(ProtoConvert.ToCore(message), message.HolderName.Length > 0 ? message.HolderName : null);
            }
            catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or ModelValidationException)
            {
                throw new SnapshotFormatException($"snapshot: record {first + i}: {ex.Message}");
            }
        }

        return decoded;
    }

    private readonly record struct Decoded(Reservation Reservation, string? HolderName);
}
