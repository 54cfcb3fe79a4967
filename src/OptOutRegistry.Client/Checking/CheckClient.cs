using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>Options of a <see cref="CheckClient"/>.</summary>
public sealed record CheckClientOptions
{
    /// <summary>API key sent as <c>authorization: Bearer KEY</c>; null for anonymous checks.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Most single checks merged into one <c>CheckBatch</c> call (at most 10,000, the server's limit).</summary>
    public int MaxBatchSize { get; init; } = 1000;

    /// <summary>
    /// Extra time queued single checks wait for others before their batch is sent, under load only: a check that finds a
    /// free batch slot (fewer than <see cref="MaxConcurrentBatches"/> calls in flight) is always sent at once, alone.
    /// Zero by default: checks that arrive while every slot is busy already travel together in the next batch, so no
    /// timer is needed to form batches.
    /// </summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Batches in flight at once.</summary>
    public int MaxConcurrentBatches { get; init; } = 4;

    /// <summary>Whether single checks ask for provenance (reservation ids, selector, policy URL). On by default.</summary>
    public bool IncludeMatches { get; init; } = true;

    /// <summary>
    /// Hedges every <c>CheckBatch</c> call (single checks and <see cref="CheckClient.CheckBatchAsync"/>): when an answer
    /// is late by <see cref="HedgingPolicy.Delay"/> the same check goes out again on another connection and the first
    /// answer wins (gRFC A6; checks are idempotent reads). Costs extra server calls only for the late ones. Null (the
    /// default) turns it off. Validated when the client is created.
    /// </summary>
    public HedgingPolicy? Hedging { get; init; }
}

/// <summary>
/// Typed client of the <c>optout.v1.Check</c> service. Single checks (<see cref="CheckAsync"/>, <see cref="CheckUrlAsync"/>)
/// are batched automatically and adaptively: a check that finds one of the <see cref="CheckClientOptions.MaxConcurrentBatches"/>
/// batch slots free goes out at once in its own call (no linger, so a lone check costs one unary call); checks that arrive
/// while every slot is busy queue and leave together, up to <see cref="CheckClientOptions.MaxBatchSize"/> per
/// <c>CheckBatch</c> call, as soon as a slot frees. Each caller gets its own result.
/// </summary>
public sealed class CheckClient : IUrlChecker, IAsyncDisposable
{
    // CheckBatch with the request written by CheckBatchRequestWriter (same bytes as the generated serializer, less CPU);
    // the name and kind come from the service descriptor, so a renamed method still fails at start-up.
    private static readonly Method<CheckBatchRequestWriter, CheckBatchResponseReader> CheckBatchMethod = Method<CheckBatchRequestWriter, CheckBatchResponseReader>.Create(
        Pb.CheckReflection.Descriptor.Services[0].FullName,
        Pb.CheckReflection.Descriptor.Services[0].FindMethodByName("CheckBatch").Name,
        MethodType.Unary);

    // CheckStream for CheckStreamPipeline, whose requests CheckBatchRequestWriter writes (OpenStream keeps the plain types).
    private static readonly Method<CheckBatchRequestWriter, Pb.CheckBatchResponse> CheckStreamWriterMethod = Method<CheckBatchRequestWriter, Pb.CheckBatchResponse>.Create(
        Pb.CheckReflection.Descriptor.Services[0].FullName,
        Pb.CheckReflection.Descriptor.Services[0].FindMethodByName("CheckStream").Name,
        MethodType.DuplexStreaming);

    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> CheckStreamMethod =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckStream");

    private static readonly Method<Pb.ExplainRequest, Pb.ExplainResponse> ExplainMethod =
        Method<Pb.ExplainRequest, Pb.ExplainResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "Explain");

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;
    private readonly CheckClientOptions _options;
    private readonly Metadata? _headers;
    private readonly int _maxConcurrentBatches;

    // Guards _queue, _inFlight, _disposed and _drained. Held only to count slots and move checks in or out of the queue.
    private readonly Lock _lock = new();
    private readonly Queue<Pending> _queue = new();
    private int _inFlight;
    private bool _disposed;
    private TaskCompletionSource? _drained;

    /// <summary>A client over an existing channel (not disposed with the client).</summary>
    public CheckClient(GrpcChannel channel, CheckClientOptions? options = null)
        : this(channel, options, ownsChannel: false)
    {
    }

    private CheckClient(GrpcChannel channel, CheckClientOptions? options, bool ownsChannel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _channel = channel;
        _ownsChannel = ownsChannel;
        _options = options ?? new CheckClientOptions();
        if (_options.MaxBatchSize is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatchSize must be 1..10000");
        }

        if (_options.MaxBatchDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxBatchDelay must not be negative");
        }

        _options.Hedging?.Validate();
        _maxConcurrentBatches = Math.Max(1, _options.MaxConcurrentBatches);
        // Built once: the transport only reads call headers.
        _headers = _options.ApiKey is { Length: > 0 } key ? new Metadata { { "authorization", "Bearer " + key } } : null;
    }

    /// <summary>A client for the registry at <paramref name="address"/> (e.g. <c>http://localhost:50051</c>).</summary>
    public static CheckClient Create(string address, CheckClientOptions? options = null) =>
        new(GrpcChannel.ForAddress(address), options, ownsChannel: true);

    /// <summary>
    /// Checks up to 10,000 subjects in one call; results in input order, one per subject. A response with another number
    /// of results fails with <see cref="StatusCode.Internal"/>.
    /// </summary>
    public Task<Pb.CheckBatchResponse> CheckBatchAsync(Pb.CheckBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return CheckBatchCountedAsync(request.Subjects.Count, _channel.UnaryAsync(CheckBatchMethod, new CheckBatchRequestWriter(request), Call(cancellationToken) with { Hedging = _options.Hedging }));
    }

    private static async Task<Pb.CheckBatchResponse> CheckBatchCountedAsync(int asked, Task<CheckBatchResponseReader> call)
    {
        var response = (await call.ConfigureAwait(false)).Response;
        return response.Results.Count == asked ? response : throw WrongCount(response.Results.Count, asked);
    }

    /// <summary>Explains how a verdict was reached.</summary>
    public Task<Pb.ExplainResponse> ExplainAsync(Pb.ExplainRequest request, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(ExplainMethod, request, Call(cancellationToken));

    /// <summary>Opens a <c>CheckStream</c>: write requests, read one response per request, in order.</summary>
    public AsyncDuplexStreamingCall<Pb.CheckBatchRequest, Pb.CheckBatchResponse> OpenStream(CancellationToken cancellationToken = default) =>
        _channel.DuplexStreaming(CheckStreamMethod, Call(cancellationToken));

    /// <summary>A <c>CheckStream</c> whose requests are written by <see cref="CheckBatchRequestWriter"/>.</summary>
    internal AsyncDuplexStreamingCall<CheckBatchRequestWriter, Pb.CheckBatchResponse> OpenWriterStream(CancellationToken cancellationToken) =>
        _channel.DuplexStreaming(CheckStreamWriterMethod, Call(cancellationToken));

    /// <summary>Checks one URL now (batched with concurrent checks).</summary>
    public ValueTask<Pb.CheckResult> CheckUrlAsync(string url, Pb.UsageCategory purpose, CancellationToken cancellationToken = default) =>
        new(CheckAsync(new Pb.Subject { Url = url }, purpose, cancellationToken));

    /// <summary>
    /// Checks one subject: sent at once in its own call when a batch slot is free, otherwise with the other checks queued
    /// meanwhile (of the same purpose) as soon as one is. Cancelling stops the wait; a check sent alone is cancelled too.
    /// </summary>
    public Task<Pb.CheckResult> CheckAsync(Pb.Subject subject, Pb.UsageCategory purpose, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var pending = new Pending(subject, purpose, cancellationToken);
        bool sendNow;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            sendNow = _inFlight < _maxConcurrentBatches;
            if (sendNow)
            {
                _inFlight++;
            }
            else
            {
                _queue.Enqueue(pending);
            }
        }

        if (sendNow)
        {
            // The direct path: this caller's thread serialises and hands the call to the connection, as a plain unary
            // call would; the slot then keeps draining the queue until it is empty.
            _ = RunSlotAsync(pending);
        }

        return cancellationToken.CanBeCanceled ? pending.Task.WaitAsync(cancellationToken) : pending.Task;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Task drained;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            // A slot gives itself up only when the queue is empty, so once none is in flight every queued check is answered.
            drained = _inFlight == 0 ? Task.CompletedTask : (_drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        try
        {
            await drained.ConfigureAwait(false);
        }
        finally
        {
            if (_ownsChannel)
            {
                _channel.Dispose();
            }
        }
    }

    private CallOptions Call(CancellationToken cancellationToken) => new(_headers, null, cancellationToken);

    /// <summary>One batch slot: sends <paramref name="first"/>, then whatever queued meanwhile, until the queue is empty.</summary>
    private async Task RunSlotAsync(Pending first)
    {
        await SendAsync(first).ConfigureAwait(false);
        while (true)
        {
            if (_options.MaxBatchDelay > TimeSpan.Zero && QueuedBelowBatchSize())
            {
                // Only reached under load (checks queued while every slot was busy): let more join the batch.
                await Task.Delay(_options.MaxBatchDelay).ConfigureAwait(false);
            }

            Pending[] batch;
            List<Pending>? cancelled = null;
            lock (_lock)
            {
                var taken = new List<Pending>(Math.Min(_queue.Count, _options.MaxBatchSize));
                while (taken.Count < _options.MaxBatchSize && _queue.TryDequeue(out var next))
                {
                    // A caller that gave up while queued is not sent: its answer would go nowhere.
                    if (next.CancellationToken.IsCancellationRequested)
                    {
                        (cancelled ??= []).Add(next);
                        continue;
                    }

                    taken.Add(next);
                }

                if (taken.Count == 0)
                {
                    _inFlight--;
                    if (_inFlight == 0)
                    {
                        _drained?.TrySetResult();
                    }
                }

                batch = taken.Count == 0 ? [] : taken.ToArray();
            }

            if (cancelled is not null)
            {
                foreach (var item in cancelled)
                {
                    item.TrySetCanceled(item.CancellationToken);
                }
            }

            if (batch.Length == 0)
            {
                return;
            }

            await SendAsync(batch).ConfigureAwait(false);
        }
    }

    private bool QueuedBelowBatchSize()
    {
        lock (_lock)
        {
            return _queue.Count is > 0 && _queue.Count < _options.MaxBatchSize;
        }
    }

    /// <summary>A check sent alone: the caller's cancellation cancels the call itself.</summary>
    private async Task SendAsync(Pending single)
    {
        var request = new Pb.CheckBatchRequest { Purpose = single.Purpose, IncludeMatches = _options.IncludeMatches };
        request.Subjects.Add(single.Subject);
        try
        {
            var response = await CheckBatchAsync(request, single.CancellationToken).ConfigureAwait(false);
            if (response.Results.Count != 1)
            {
                single.TrySetException(WrongCount(response.Results.Count, 1));
                return;
            }

            single.TrySetResult(response.Results[0]);
        }
        catch (Exception ex)
        {
            single.TrySetException(ex);
        }
    }

    /// <summary>Checks that queued while every slot was busy: one call per purpose present (usually one), answers in order.</summary>
    private async Task SendAsync(Pending[] batch)
    {
        var group = new List<Pending>(batch.Length);
        var taken = new bool[batch.Length];
        for (var start = 0; start < batch.Length; start++)
        {
            if (taken[start])
            {
                continue;
            }

            var purpose = batch[start].Purpose;
            group.Clear();
            var request = new Pb.CheckBatchRequest { Purpose = purpose, IncludeMatches = _options.IncludeMatches };
            for (var i = start; i < batch.Length; i++)
            {
                if (!taken[i] && batch[i].Purpose == purpose)
                {
                    taken[i] = true;
                    group.Add(batch[i]);
                    request.Subjects.Add(batch[i].Subject);
                }
            }

            try
            {
                // Not cancelled by any one caller: the call carries other callers' checks too.
                var response = await CheckBatchAsync(request, CancellationToken.None).ConfigureAwait(false);
                if (response.Results.Count != group.Count)
                {
                    var error = WrongCount(response.Results.Count, group.Count);
                    foreach (var item in group)
                    {
                        item.TrySetException(error);
                    }

                    continue;
                }

                for (var i = 0; i < group.Count; i++)
                {
                    group[i].TrySetResult(response.Results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var item in group)
                {
                    item.TrySetException(ex);
                }
            }
        }
    }

    private static RpcException WrongCount(int answered, int asked) =>
        new(new Status(StatusCode.Internal, $"results: the server answered {answered} results for {asked} subjects"));

    /// <summary>One single check waiting for its answer (the task completion source itself, to save an object per check).</summary>
    private sealed class Pending(Pb.Subject subject, Pb.UsageCategory purpose, CancellationToken cancellationToken)
        : TaskCompletionSource<Pb.CheckResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public Pb.Subject Subject { get; } = subject;

        public Pb.UsageCategory Purpose { get; } = purpose;

        public CancellationToken CancellationToken { get; } = cancellationToken;
    }
}
