using System.Globalization;
using Google.Protobuf;
using OptOutRegistry.Grpc.Client.Http2;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc.Client;

/// <summary>
/// A hedged unary call (gRFC A6 "Hedging policy"): attempt 1 at once; while no attempt has committed, attempt n+1
/// <see cref="HedgingPolicy.Delay"/> after attempt n was sent, up to <see cref="HedgingPolicy.MaxAttempts"/>, each on a
/// connection other than the previous attempt's when the pool has or may open one. The first OK answer or fatal status
/// commits; every other attempt is then cancelled (RST_STREAM CANCEL) and its answer, if any, dropped. A non-fatal
/// status sends the next attempt at once, or after the server's <c>grpc-retry-pushback-ms</c> (a negative or malformed
/// pushback stops hedging); when no attempt is left the last such status is the call's. Every attempt carries the
/// call's deadline (one deadline for all, A6) and hedges carry <c>grpc-previous-rpc-attempts</c>. On the own HTTP/2
/// transport the request is framed once and its pooled buffer shared by the attempts.
/// </summary>
internal static class HedgedUnaryCall<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    /// <summary>gRFC A6: the number of attempts before this one, sent on every hedge.</summary>
    internal const string PreviousAttemptsHeader = "grpc-previous-rpc-attempts";

    /// <summary>gRFC A6 server pushback: milliseconds to wait before the next attempt; negative or malformed stops them.</summary>
    internal const string PushbackTrailer = "grpc-retry-pushback-ms";

    public static async Task<TResponse> RunAsync(GrpcChannel channel, Method<TRequest, TResponse> method, TRequest request, CallOptions options, HedgingPolicy policy)
    {
        var transport = channel.Http2Transport;
        var attempts = new GrpcCall<TRequest, TResponse>[policy.MaxAttempts];
        var tasks = new List<Task<TResponse>>(policy.MaxAttempts);
        var nonFatal = policy.NonFatalStatusCodes;
        // As GrpcCall reads it: a local time is converted, any other kind is taken as UTC.
        var deadline = options.Deadline is { } d ? (d.Kind == DateTimeKind.Local ? d.ToUniversalTime() : d) : DateTime.MaxValue;
        var started = 0;
        var hedgingStopped = false;
        RequestPayload? payload = null;
        policy.OnCall();
        // Cancelled when the call is decided: stops the hedging timer and, on HttpClient, cancels the attempts still running
        // (there an attempt whose response headers have not arrived can only be reset through its token). Linked to the
        // caller's token, so a caller's cancel reaches every attempt as CANCELLED.
        using var decided = options.CancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken) : new CancellationTokenSource();
        // The own HTTP/2 transport resets a disposed attempt's stream at once, so its attempts keep the caller's token
        // (without one they need no token source and registrations of their own: ~400 bytes less per call).
        var shared = transport is null ? options with { CancellationToken = decided.Token } : options;
        Task? timer = null;
        try
        {
            if (transport is not null)
            {
                // Framed once: every attempt sends the same bytes (a size error fails the call here, as it would unhedged).
                attempts[0] = new GrpcCall<TRequest, TResponse>(channel, method, shared);
                payload = attempts[0].CreateUnaryPayload(request);
            }
            tasks.Add(Start());
            RpcException? lastNonFatal = null;
            var nextDelay = policy.Delay;
            while (true)
            {
                Task<TResponse>? finished = null;
                var raced = false;
                if (timer is null && !hedgingStopped && started < attempts.Length)
                {
                    if (!policy.HasHedge && tasks.Count > 0)
                    {
                        // The budget is spent: no timer (it could only wake up to find nothing to send).
                        hedgingStopped = true;
                    }
                    else if (nextDelay > TimeSpan.Zero && tasks.Count == 1)
                    {
                        // The usual wait, one attempt against the hedging delay: WaitAsync's own timer, which it drops
                        // when the attempt ends first (no Delay task, no WhenAny, no token registration).
                        await ((Task)tasks[0].WaitAsync(nextDelay)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                        finished = tasks[0].IsCompleted ? tasks[0] : null;
                        raced = true;
                    }
                    else
                    {
                        timer = nextDelay <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(nextDelay, decided.Token);
                    }
                }
                if (!raced)
                {
                    finished = timer is null ? await Task.WhenAny(tasks).ConfigureAwait(false) : await WhenAnyWithTimerAsync(tasks, timer).ConfigureAwait(false);
                }
                if (finished is null)
                {
                    timer = null;
                    nextDelay = policy.Delay;
                    if (!policy.TryTakeHedge())
                    {
                        // The hedge budget is spent: the call waits for the attempts it has (or, when every one has
                        // failed with a non-fatal status, ends with the last of them).
                        hedgingStopped = true;
                        if (tasks.Count == 0)
                        {
                            throw lastNonFatal!;
                        }
                        continue;
                    }
                    // The hedging delay passed with no answer: the next attempt, on another connection.
                    tasks.Add(Start());
                    continue;
                }
                tasks.Remove(finished);
                if (finished.IsCompletedSuccessfully)
                {
                    return finished.Result;
                }
                var error = Unwrap(finished.Exception);
                if (error is not RpcException rpc || !nonFatal.Contains(rpc.StatusCode) || options.CancellationToken.IsCancellationRequested
                    || DateTime.UtcNow >= deadline)
                {
                    // A fatal status (or the call's own deadline or cancellation) commits: it is the call's answer.
                    throw error;
                }
                lastNonFatal = rpc;
                // gRFC A6: a non-fatal status sends the next hedge at once, unless the server pushed back.
                var pushback = rpc.Trailers.GetValue(PushbackTrailer);
                if (pushback is null)
                {
                    nextDelay = TimeSpan.Zero;
                }
                else if (int.TryParse(pushback, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
                {
                    nextDelay = TimeSpan.FromMilliseconds(ms);
                }
                else
                {
                    hedgingStopped = true;
                }
                if (timer is not null)
                {
                    // Replaced by the new delay (the old timer's completion is ignored).
                    timer = null;
                }
                if (tasks.Count == 0 && (hedgingStopped || started == attempts.Length))
                {
                    throw lastNonFatal;
                }
            }
        }
        finally
        {
            decided.Cancel();
            // The committed attempt is finished; the others are cancelled (RST_STREAM CANCEL) and their answers dropped.
            // (Disposing a finished attempt does nothing.)
            for (var i = 0; i < started; i++)
            {
                attempts[i].Dispose();
            }
            foreach (var task in tasks)
            {
                // Their RpcException(CANCELLED) is expected; observed so it is not reported as unobserved.
                _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            payload?.Release();
        }

        Task<TResponse> Start()
        {
            var index = started++;
            var attemptOptions = index == 0 ? shared : shared with { Headers = WithPreviousAttempts(options.Headers, index) };
            if (transport is null)
            {
                var call = attempts[index] = new GrpcCall<TRequest, TResponse>(channel, method, attemptOptions);
                return call.RunUnaryFastAsync(request);
            }
            var attempt = index == 0 ? attempts[0] : (attempts[index] = new GrpcCall<TRequest, TResponse>(channel, method, attemptOptions));
            if (!payload!.TryAddReference())
            {
                // Unreachable while this call holds its own reference.
                throw new InvalidOperationException("The hedged request's payload was released early.");
            }
            if (index == 0)
            {
                return attempt.RunAttemptDirectAsync(transport, payload, null);
            }
            var previous = attempts[index - 1];
            return previous.AttemptStarted.IsCompleted
                ? attempt.RunAttemptDirectAsync(transport, payload, previous.StartedConnection)
                : StartAfterAsync(previous, attempt, transport, payload, decided.Token);
        }
    }

    /// <summary>
    /// A hedge whose previous attempt is still waiting for its connection (the pool's first connect): sent once that
    /// attempt's connection is known, so that it can go to another one (sent at once it would wait for the same connect).
    /// </summary>
    private static async Task<TResponse> StartAfterAsync(GrpcCall<TRequest, TResponse> previous, GrpcCall<TRequest, TResponse> attempt, Http2Handler transport,
        RequestPayload payload, CancellationToken committed)
    {
        try
        {
            await previous.AttemptStarted.ConfigureAwait(false);
        }
        catch
        {
            payload.Release();
            throw;
        }
        if (committed.IsCancellationRequested)
        {
            // The call was decided meanwhile: this hedge is not sent.
            payload.Release();
            throw new RpcException(new Status(StatusCode.Cancelled, "Hedge not sent: the call was already answered."));
        }
        return await attempt.RunAttemptDirectAsync(transport, payload, previous.StartedConnection).ConfigureAwait(false);
    }

    /// <summary>The attempt that finished, or null when <paramref name="timer"/> did first.</summary>
    private static async Task<Task<TResponse>?> WhenAnyWithTimerAsync(List<Task<TResponse>> tasks, Task timer)
    {
        if (timer.IsCompleted)
        {
            foreach (var task in tasks)
            {
                if (task.IsCompleted)
                {
                    return task;
                }
            }
            return null;
        }
        var all = new Task[tasks.Count + 1];
        for (var i = 0; i < tasks.Count; i++)
        {
            all[i] = tasks[i];
        }
        all[^1] = timer;
        var first = await Task.WhenAny(all).ConfigureAwait(false);
        return ReferenceEquals(first, timer) ? null : (Task<TResponse>)first;
    }

    private static Exception Unwrap(AggregateException? aggregate)
        => aggregate is null ? new InvalidOperationException("The attempt failed without an exception.")
            : aggregate.InnerExceptions.Count == 1 ? aggregate.InnerException! : aggregate;

    private static Metadata WithPreviousAttempts(Metadata? headers, int previous)
    {
        var copy = new Metadata();
        if (headers is not null)
        {
            foreach (var entry in headers)
            {
                if (entry.Key != PreviousAttemptsHeader)
                {
                    copy.Add(entry);
                }
            }
        }
        copy.Add(PreviousAttemptsHeader, previous.ToString(CultureInfo.InvariantCulture));
        return copy;
    }
}
