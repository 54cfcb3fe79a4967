using System.Threading.Channels;
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

    /// <summary>How long a single check waits for others to share its batch. Small: a lone check is barely delayed.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Batches in flight at once.</summary>
    public int MaxConcurrentBatches { get; init; } = 4;

    /// <summary>Whether single checks ask for provenance (reservation ids, selector, policy URL). On by default.</summary>
    public bool IncludeMatches { get; init; } = true;
}

/// <summary>
/// Typed client of the <c>optout.v1.Check</c> service. Single checks (<see cref="CheckAsync"/>, <see cref="CheckUrlAsync"/>)
/// are batched automatically: concurrent callers' subjects travel together in one <c>CheckBatch</c> call of up to
/// <see cref="CheckClientOptions.MaxBatchSize"/> subjects, each caller getting its own result.
/// </summary>
public sealed class CheckClient : IUrlChecker, IAsyncDisposable
{
    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> CheckBatchMethod =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckBatch");

    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> CheckStreamMethod =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckStream");

    private static readonly Method<Pb.ExplainRequest, Pb.ExplainResponse> ExplainMethod =
        Method<Pb.ExplainRequest, Pb.ExplainResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "Explain");

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;
    private readonly CheckClientOptions _options;
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _inFlight;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _batcher;

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

        _inFlight = new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentBatches));
        _batcher = Task.Run(BatchLoopAsync);
    }

    /// <summary>A client for the registry at <paramref name="address"/> (e.g. <c>http://localhost:50051</c>).</summary>
    public static CheckClient Create(string address, CheckClientOptions? options = null) =>
        new(GrpcChannel.ForAddress(address), options, ownsChannel: true);

    /// <summary>Checks up to 10,000 subjects in one call; results in input order.</summary>
    public Task<Pb.CheckBatchResponse> CheckBatchAsync(Pb.CheckBatchRequest request, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(CheckBatchMethod, request, Call(cancellationToken));

    /// <summary>Explains how a verdict was reached.</summary>
    public Task<Pb.ExplainResponse> ExplainAsync(Pb.ExplainRequest request, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(ExplainMethod, request, Call(cancellationToken));

    /// <summary>Opens a <c>CheckStream</c>: write requests, read one response per request, in order.</summary>
    public AsyncDuplexStreamingCall<Pb.CheckBatchRequest, Pb.CheckBatchResponse> OpenStream(CancellationToken cancellationToken = default) =>
        _channel.DuplexStreaming(CheckStreamMethod, Call(cancellationToken));

    /// <summary>Checks one URL now (batched with concurrent checks).</summary>
    public ValueTask<Pb.CheckResult> CheckUrlAsync(string url, Pb.UsageCategory purpose, CancellationToken cancellationToken = default) =>
        new(CheckAsync(new Pb.Subject { Url = url }, purpose, cancellationToken));

    /// <summary>Checks one subject now (batched with concurrent checks of the same purpose).</summary>
    public Task<Pb.CheckResult> CheckAsync(Pb.Subject subject, Pb.UsageCategory purpose, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var pending = new Pending(subject, purpose, new TaskCompletionSource<Pb.CheckResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(CheckClient));
        }

        return cancellationToken.CanBeCanceled ? pending.Result.Task.WaitAsync(cancellationToken) : pending.Result.Task;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        try
        {
            await _batcher.ConfigureAwait(false);
        }
        finally
        {
            _stop.Cancel();
            _stop.Dispose();
            if (_ownsChannel)
            {
                _channel.Dispose();
            }
        }
    }

    private CallOptions Call(CancellationToken cancellationToken)
    {
        Metadata? headers = null;
        if (_options.ApiKey is { Length: > 0 } key)
        {
            headers = new Metadata { { "authorization", "Bearer " + key } };
        }

        return new CallOptions(headers, null, cancellationToken);
    }

    private async Task BatchLoopAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<Pending>(_options.MaxBatchSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (!reader.TryRead(out var first))
            {
                continue;
            }

            batch.Add(first);
            // Gather what else arrives within MaxBatchDelay, up to MaxBatchSize.
            using (var window = new CancellationTokenSource(_options.MaxBatchDelay))
            {
                while (batch.Count < _options.MaxBatchSize)
                {
                    if (reader.TryRead(out var next))
                    {
                        batch.Add(next);
                        continue;
                    }

                    try
                    {
                        if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            await _inFlight.WaitAsync().ConfigureAwait(false);
            var toSend = batch.ToArray();
            batch.Clear();
            _ = SendAsync(toSend);
        }

        // Let the batches in flight finish before the channel goes away.
        for (var i = 0; i < Math.Max(1, _options.MaxConcurrentBatches); i++)
        {
            await _inFlight.WaitAsync().ConfigureAwait(false);
        }
    }

    private async Task SendAsync(Pending[] batch)
    {
        try
        {
            // One call per purpose present in the batch (usually one).
            foreach (var group in batch.GroupBy(p => p.Purpose))
            {
                var items = group.ToArray();
                var request = new Pb.CheckBatchRequest { Purpose = group.Key, IncludeMatches = _options.IncludeMatches };
                foreach (var item in items)
                {
                    request.Subjects.Add(item.Subject);
                }

                try
                {
                    var response = await CheckBatchAsync(request, _stop.Token).ConfigureAwait(false);
                    for (var i = 0; i < items.Length; i++)
                    {
                        items[i].Result.TrySetResult(response.Results[i]);
                    }
                }
                catch (Exception ex)
                {
                    foreach (var item in items)
                    {
                        item.Result.TrySetException(ex);
                    }
                }
            }
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private sealed record Pending(Pb.Subject Subject, Pb.UsageCategory Purpose, TaskCompletionSource<Pb.CheckResult> Result);
}
