using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>
/// Pipelines batches over one <c>Check.CheckStream</c> call: callers send requests concurrently without waiting for
/// earlier answers (up to <c>maxInFlight</c> outstanding), and each gets the response to its own request. The server
/// answers a stream's requests one per request, in order (check.proto), so responses are matched to requests by
/// position in a FIFO; the <c>request_id</c> echo is checked as a guard.
/// </summary>
public sealed class CheckStreamPipeline : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<CheckBatchRequestWriter, Pb.CheckBatchResponse> _call;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _inFlight;
    private readonly Queue<(string Id, TaskCompletionSource<Pb.CheckBatchResponse> Result)> _pending = new();
    private readonly Lock _pendingLock = new();
    private readonly Task _readLoop;
    private long _nextId;
    private Exception? _failure;

    /// <summary>Opens the stream on <paramref name="client"/>.</summary>
    /// <param name="client">The check client (its API key is sent).</param>
    /// <param name="maxInFlight">Most requests sent and not yet answered.</param>
    /// <param name="cancellationToken">Cancels the whole stream.</param>
    public CheckStreamPipeline(CheckClient client, int maxInFlight = 8, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInFlight, 1);
        _inFlight = new SemaphoreSlim(maxInFlight, maxInFlight);
        _call = client.OpenWriterStream(cancellationToken);
        _readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
    }

    /// <summary>The highest <c>as_of_sequence</c> any response carried so far (-1 before the first).</summary>
    public long LastSequence { get; private set; } = -1;

    /// <summary>The lowest <c>as_of_sequence</c> any response carried so far (-1 before the first).</summary>
    public long FirstSequence { get; private set; } = -1;

    /// <summary>Sends one request (at most 10,000 subjects) and returns its response. Safe to call concurrently.</summary>
    /// <exception cref="RpcException">The stream failed (e.g. UNAUTHENTICATED, RESOURCE_EXHAUSTED, UNAVAILABLE).</exception>
    public async Task<Pb.CheckBatchResponse> SendAsync(Pb.CheckBatchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await _inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = new TaskCompletionSource<Pb.CheckBatchResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                request.RequestId = (++_nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
                lock (_pendingLock)
                {
                    // Checked under the same lock Fail drains the queue with, so no request is left waiting forever.
                    if (_failure is { } failure)
                    {
                        throw failure;
                    }

                    _pending.Enqueue((request.RequestId, result));
                }

                await _call.RequestStream.WriteAsync(new CheckBatchRequestWriter(request), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            return await result.Task.ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            bool failed;
            lock (_pendingLock)
            {
                failed = _failure is not null;
            }

            if (!failed)
            {
                await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (RpcException)
        {
            // The stream already ended; the read loop has recorded why.
        }
        finally
        {
            _writeLock.Release();
        }

        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        finally
        {
            _call.Dispose();
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (await _call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false))
            {
                var response = _call.ResponseStream.Current;
                (string Id, TaskCompletionSource<Pb.CheckBatchResponse> Result) next;
                lock (_pendingLock)
                {
                    if (!_pending.TryDequeue(out next))
                    {
                        throw new RpcException(new Status(StatusCode.Internal, "CheckStream: a response arrived for no request"));
                    }
                }

                if (response.RequestId.Length > 0 && response.RequestId != next.Id)
                {
                    throw new RpcException(new Status(StatusCode.Internal, $"CheckStream: response for request {response.RequestId} arrived where {next.Id} was expected"));
                }

                if (FirstSequence < 0) { FirstSequence = response.AsOfSequence; }
                LastSequence = Math.Max(LastSequence, response.AsOfSequence);
                next.Result.TrySetResult(response);
            }

            Fail(new RpcException(new Status(StatusCode.Unavailable, "CheckStream: the server ended the stream")));
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void Fail(Exception ex)
    {
        lock (_pendingLock)
        {
            _failure ??= ex;
            while (_pending.TryDequeue(out var p))
            {
                p.Result.TrySetException(ex);
            }
        }
    }
}
