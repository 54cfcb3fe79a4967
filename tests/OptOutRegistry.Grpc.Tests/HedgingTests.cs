using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Client;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// Hedged unary calls (gRFC A6) against a real Kestrel server whose UnaryEcho runs a script per test: each attempt is
/// recorded as it arrives (its <c>grpc-previous-rpc-attempts</c>, its connection) and may be held until the server sees
/// it cancelled, answered, or failed with a status. Hedging delays are either zero or far longer than any test, so
/// which attempts go out never depends on timing; nothing asserts a speed.
/// </summary>
public sealed class HedgingTests(HedgingTests.ScriptedServer server) : IClassFixture<HedgingTests.ScriptedServer>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);

    public static TheoryData<GrpcTransport> Transports => new() { GrpcTransport.Http2, GrpcTransport.HttpClient };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task FirstAttemptHeld_HedgeAnswers_HeldAttemptIsCancelledOnTheServer(GrpcTransport transport)
    {
        // Attempt 1 is held until cancelled; the hedge (sent at once: delay 0) answers.
        var script = server.NewScript((attempt, _) => attempt == 0 ? Hold() : AnswerOnceTheFirstArrived("from hedge"));
        using var channel = Channel(transport);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, TimeSpan.Zero)).WaitAsync(Patience);

        Assert.Equal("from hedge", response.Message);
        await script.Attempts[0].Cancelled.Task.WaitAsync(Patience);
        Assert.Equal(2, script.Attempts.Count);
        Assert.Null(script.Attempts[0].PreviousAttempts);
        Assert.Equal("1", script.Attempts[1].PreviousAttempts);
        if (transport == GrpcTransport.Http2)
        {
            // The own transport sends a hedge on another connection than the attempt it covers for.
            Assert.NotEqual(script.Attempts[0].Peer, script.Attempts[1].Peer);
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task FirstAttemptHeld_TheHedgeGoesOutWhenTheDelayHasPassed(GrpcTransport transport)
    {
        // A real (short) hedging delay: the first attempt never answers, so the call can only end through the hedge the
        // delay's timer sends. Nothing is asserted about how long it took.
        var script = server.NewScript((attempt, _) => attempt == 0 ? Hold() : AnswerOnceTheFirstArrived("after the delay"));
        using var channel = Channel(transport);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, TimeSpan.FromMilliseconds(20))).WaitAsync(Patience);

        Assert.Equal("after the delay", response.Message);
        await script.Attempts[0].Cancelled.Task.WaitAsync(Patience);
        Assert.Equal("1", script.Attempts[1].PreviousAttempts);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AnswerBeforeTheDelay_NoHedgeIsSent(GrpcTransport transport)
    {
        var script = server.NewScript((_, _) => Answer("only"));
        using var channel = Channel(transport);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, Never)).WaitAsync(Patience);

        Assert.Equal("only", response.Message);
        Assert.Single(script.Attempts);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task FatalStatusOnTheFirstAttempt_EndsTheCall_NoHedge(GrpcTransport transport)
    {
        // PermissionDenied is not in NonFatalStatusCodes: it commits. The hedging delay is never reached.
        var script = server.NewScript((_, _) => Fail(StatusCode.PermissionDenied, "no"));
        using var channel = Channel(transport);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, Never, StatusCode.Unavailable)).WaitAsync(Patience));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Single(script.Attempts);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task NonFatalStatus_SendsTheNextAttemptAtOnce(GrpcTransport transport)
    {
        // gRFC A6: a non-fatal status sends the next hedge without waiting for the (here endless) hedging delay.
        var script = server.NewScript((attempt, _) => attempt == 0 ? Fail(StatusCode.Unavailable, "busy") : Answer("second"));
        using var channel = Channel(transport);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, Never, StatusCode.Unavailable)).WaitAsync(Patience);

        Assert.Equal("second", response.Message);
        Assert.Equal(2, script.Attempts.Count);
        Assert.Equal("1", script.Attempts[1].PreviousAttempts);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("soon")]
    public async Task PushbackThatRefuses_StopsHedging_LastNonFatalStatusIsTheCalls(string pushback)
    {
        // A negative or malformed grpc-retry-pushback-ms: no further attempts (gRFC A6 "Pushback").
        var script = server.NewScript((_, _) => Fail(StatusCode.Unavailable, "go away", pushback));
        using var channel = Channel(GrpcTransport.Http2);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, Never, StatusCode.Unavailable)).WaitAsync(Patience));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("go away", ex.Status.Detail);
        Assert.Single(script.Attempts);
    }

    [Fact]
    public async Task PushbackOfZero_SendsTheNextAttemptAtOnce()
    {
        var script = server.NewScript((attempt, _) => attempt == 0 ? Fail(StatusCode.Unavailable, "later", "0") : Answer("after pushback"));
        using var channel = Channel(GrpcTransport.Http2);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, Never, StatusCode.Unavailable)).WaitAsync(Patience);

        Assert.Equal("after pushback", response.Message);
        Assert.Equal(2, script.Attempts.Count);
    }

    [Fact]
    public async Task EveryAttemptNonFatal_TheLastStatusIsTheCalls_MaxAttemptsRespected()
    {
        var script = server.NewScript((attempt, _) => Fail(StatusCode.Unavailable, $"attempt {attempt}"));
        using var channel = Channel(GrpcTransport.Http2);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, Never, StatusCode.Unavailable)).WaitAsync(Patience));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("attempt 2", ex.Status.Detail);
        Assert.Equal(3, script.Attempts.Count);
        Assert.Equal(new string?[] { null, "1", "2" }, script.Attempts.Select(a => a.PreviousAttempts));
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task AllAttemptsHeld_MaxAttemptsGoOut_CallerCancelCancelsEveryOne(GrpcTransport transport)
    {
        // Delay 0: all MaxAttempts go out at once, and no more.
        var script = server.NewScript((_, _) => Hold());
        using var channel = Channel(transport);
        using var cts = new CancellationTokenSource();

        var call = channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(3, TimeSpan.Zero) with { CancellationToken = cts.Token });
        await script.WaitForAttemptsAsync(3);
        cts.Cancel();

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(Patience));
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        foreach (var attempt in script.Attempts)
        {
            await attempt.Cancelled.Task.WaitAsync(Patience);
        }

        Assert.Equal(3, script.Attempts.Count);
    }

    [Fact]
    public async Task Deadline_CoversEveryAttempt_AllAreEndedWithDeadlineExceeded()
    {
        // Every attempt is held; the call's one deadline ends them all (each carries the remaining time as grpc-timeout).
        var script = server.NewScript((_, _) => Hold());
        using var channel = Channel(GrpcTransport.Http2);
        var deadline = DateTime.UtcNow.AddSeconds(2);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, TimeSpan.Zero) with { Deadline = deadline }).WaitAsync(Patience));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.Equal(2, script.Attempts.Count);
        foreach (var attempt in script.Attempts)
        {
            await attempt.Cancelled.Task.WaitAsync(Patience);
            // Each attempt carried the call's deadline as grpc-timeout.
            Assert.NotEqual(DateTime.MaxValue, attempt.Deadline);
        }
    }

    [Fact]
    public async Task CustomMetadata_GoesWithEveryAttempt()
    {
        var script = server.NewScript((attempt, _) => attempt == 0 ? Hold() : AnswerOnceTheFirstArrived("ok"));
        using var channel = Channel(GrpcTransport.Http2);
        var headers = new Metadata { { "x-tenant", "acme" } };

        await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, TimeSpan.Zero) with { Headers = headers }).WaitAsync(Patience);

        Assert.Equal(2, script.Attempts.Count);
        Assert.All(script.Attempts, a => Assert.Equal("acme", a.Tenant));
        Assert.Equal("1", script.Attempts[1].PreviousAttempts);
    }

    [Fact]
    public async Task HedgeBudget_Spent_LaterCallsWaitForTheirFirstAttempt()
    {
        // A budget of 0.01 hedges per call: the burst of HedgeBurst (10) hedges goes out, then the 11th call gets none.
        var policy = new HedgingPolicy { MaxAttempts = 2, Delay = TimeSpan.Zero, MaxHedgesPerCall = 0.01 };
        using var channel = Channel(GrpcTransport.Http2);
        for (var i = 0; i < HedgingPolicy.HedgeBurst; i++)
        {
            var hedged = server.NewScript((attempt, _) => attempt == 0 ? Hold() : AnswerOnceTheFirstArrived("hedge " + i));
            var response = await channel.UnaryAsync(Methods.UnaryEcho, hedged.Request, new CallOptions(Hedging: policy)).WaitAsync(Patience);
            Assert.Equal("hedge " + i, response.Message);
            Assert.Equal(2, hedged.Attempts.Count);
        }

        var script = server.NewScript((attempt, _) => attempt == 0 ? Hold() : Answer("budget was not spent"));
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, script.Request,
            new CallOptions(Hedging: policy, Deadline: DateTime.UtcNow.AddSeconds(1))).WaitAsync(Patience));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.Single(script.Attempts);
    }

    [Theory]
    [InlineData(1, 1, false, "MaxAttempts")]
    [InlineData(6, 1, false, "MaxAttempts")]
    [InlineData(2, -1, false, "Delay")]
    [InlineData(2, 1, true, "NonFatalStatusCodes")]
    [InlineData(2, 1, false, "MaxHedgesPerCall", 0.0)]
    [InlineData(2, 1, false, "MaxHedgesPerCall", 1.5)]
    [InlineData(3, 1, false, "MaxHedgesPerCall", double.NaN)]
    public void InvalidPolicy_IsRefusedBeforeAnythingIsSent_NamingTheField(int maxAttempts, int delayMs, bool okNonFatal, string field, double hedgesPerCall = 0.1)
    {
        var policy = new HedgingPolicy { MaxAttempts = maxAttempts, Delay = TimeSpan.FromMilliseconds(delayMs), MaxHedgesPerCall = hedgesPerCall };
        if (okNonFatal)
        {
            policy.NonFatalStatusCodes.Add(StatusCode.OK);
        }

        var script = server.NewScript((_, _) => Answer("never"));
        using var channel = Channel(GrpcTransport.Http2);

        // Thrown by UnaryAsync itself, synchronously: no task, no attempt.
        var ex = Assert.Throws<ArgumentException>(() => { _ = channel.UnaryAsync(Methods.UnaryEcho, script.Request, new CallOptions(Hedging: policy)); });

        Assert.Equal(field, ex.ParamName);
        Assert.Contains("HedgingPolicy." + field, ex.Message, StringComparison.Ordinal);
        Assert.Empty(script.Attempts);
    }

    [Fact]
    public async Task LargeRequest_HedgedOnTheOwnTransport_SharesOnePooledBufferAndBothAttemptsReceiveTheSameBytes()
    {
        // 200 KB: larger than a DATA frame, so each attempt's bytes go out through the stream's own send task.
        var payload = Google.Protobuf.ByteString.CopyFrom(Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31)).ToArray());
        var script = server.NewScript((attempt, _) => attempt == 0 ? Hold() : AnswerOnceTheFirstArrived("big"));
        script.Request.Payload = payload;
        using var channel = Channel(GrpcTransport.Http2);

        var response = await channel.UnaryAsync(Methods.UnaryEcho, script.Request, Hedged(2, TimeSpan.Zero)).WaitAsync(Patience);

        Assert.Equal("big", response.Message);
        Assert.All(script.Attempts, a => Assert.Equal(payload, a.Payload));
    }

    [Fact]
    public void RequestPayload_ReturnsItsBufferOnce_AfterTheLastReference()
    {
        var payload = RequestPayload.Rent(70_000);
        Assert.True(payload.TryAddReference());
        payload.Release();
        Assert.False(payload.IsReleased);
        Assert.Equal(70_000, payload.Span.Length);
        payload.Release();

        Assert.True(payload.IsReleased);
        Assert.False(payload.TryAddReference());
        Assert.Throws<ObjectDisposedException>(() => payload.Span.Length);
        Assert.Throws<InvalidOperationException>(payload.Release);
    }

    private GrpcChannel Channel(GrpcTransport transport) => GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { Transport = transport });

    private static CallOptions Hedged(int maxAttempts, TimeSpan delay, params StatusCode[] nonFatal)
    {
        var policy = new HedgingPolicy { MaxAttempts = maxAttempts, Delay = delay };
        foreach (var code in nonFatal)
        {
            policy.NonFatalStatusCodes.Add(code);
        }

        return new CallOptions(Hedging: policy);
    }

    private static Func<ServerCallContext, Attempt, Task<EchoResponse>> Answer(string message) => (_, _) => Task.FromResult(new EchoResponse { Message = message });

    /// <summary>
    /// The hedge's answer, held until the first attempt is in the server's handler: otherwise the hedge may win before the
    /// first attempt's HEADERS were even processed, and the server never sees the attempt whose cancellation is checked.
    /// </summary>
    private static Func<ServerCallContext, Attempt, Task<EchoResponse>> AnswerOnceTheFirstArrived(string message) => async (_, attempt) =>
    {
        await attempt.Owner.FirstArrived.WaitAsync(Patience);
        return new EchoResponse { Message = message };
    };

    private static Func<ServerCallContext, Attempt, Task<EchoResponse>> Hold() => async (context, attempt) =>
    {
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            attempt.Cancelled.TrySetResult();
            throw;
        }

        throw new InvalidOperationException("unreachable");
    };

    private static Func<ServerCallContext, Attempt, Task<EchoResponse>> Fail(StatusCode code, string detail, string? pushback = null) => (context, _) =>
    {
        if (pushback is not null)
        {
            // Our server keeps grpc-* names out of handler trailers, so the pushback goes straight into the
            // trailers-only response's header block, as a server that implements gRFC A6 pushback would send it.
            context.HttpContext.Response.Headers["grpc-retry-pushback-ms"] = pushback;
        }

        throw new RpcException(new Status(code, detail));
    };

    /// <summary>One attempt as the server saw it.</summary>
    public sealed class Attempt
    {
        public required Script Owner { get; init; }

        public int Number { get; init; }

        public string? PreviousAttempts { get; init; }

        public string? Tenant { get; init; }

        public required string Peer { get; init; }

        public DateTime Deadline { get; init; }

        public Google.Protobuf.ByteString Payload { get; init; } = Google.Protobuf.ByteString.Empty;

        public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>What the server does with each attempt of one test's call, and the attempts it saw.</summary>
    public sealed class Script(EchoRequest request, Func<int, ServerCallContext, Func<ServerCallContext, Attempt, Task<EchoResponse>>> behaviour)
    {
        private readonly List<Attempt> _attempts = [];
        private readonly TaskCompletionSource _firstArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EchoRequest Request { get; } = request;

        /// <summary>Completes when attempt 0 reaches the handler.</summary>
        public Task FirstArrived => _firstArrived.Task;

        /// <summary>The attempts that arrived, by attempt number (arrival order is a race when hedges go out at once).</summary>
        public IReadOnlyList<Attempt> Attempts
        {
            get
            {
                lock (_attempts)
                {
                    return [.. _attempts.OrderBy(a => a.Number)];
                }
            }
        }

        public async Task WaitForAttemptsAsync(int count)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Attempts.Count < count)
            {
                Assert.True(waited.Elapsed < Patience, $"{Attempts.Count} attempts arrived, expected {count}");
                await Task.Delay(1);
            }
        }

        public Task<EchoResponse> Run(EchoRequest received, ServerCallContext context)
        {
            var previous = context.RequestHeaders.GetValue("grpc-previous-rpc-attempts");
            var attempt = new Attempt
            {
                Owner = this,
                // gRFC A6: the first attempt has no header, hedge n carries n.
                Number = previous is null ? 0 : int.Parse(previous, System.Globalization.CultureInfo.InvariantCulture),
                PreviousAttempts = previous,
                Tenant = context.RequestHeaders.GetValue("x-tenant"),
                Peer = context.Peer,
                Deadline = context.Deadline,
                Payload = received.Payload,
            };
            lock (_attempts)
            {
                _attempts.Add(attempt);
            }

            if (attempt.Number == 0)
            {
                _firstArrived.TrySetResult();
            }

            return behaviour(attempt.Number, context)(context, attempt);
        }
    }

    /// <summary>A Kestrel h2c server whose UnaryEcho hands each call to the script named by its message.</summary>
    public sealed class ScriptedServer : IAsyncLifetime
    {
        private readonly ConcurrentDictionary<string, Script> _scripts = new();
        private WebApplication? _app;

        public string Address { get; private set; } = "";

        public Script NewScript(Func<int, ServerCallContext, Func<ServerCallContext, Attempt, Task<EchoResponse>>> behaviour)
        {
            var key = Guid.NewGuid().ToString("N");
            var script = new Script(new EchoRequest { Message = key }, behaviour);
            _scripts[key] = script;
            return script;
        }

        public async Task InitializeAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpcTransport(o => o.ResponseCompressionAlgorithm = null);
            _app = builder.Build();
            _app.MapGrpcService(InteropTestReflection.Descriptor.Services[0], b => b
                .Unary<EchoRequest, EchoResponse>("UnaryEcho", (request, context) => _scripts[request.Message].Run(request, context)));
            ThreadPoolHeadroom.Ensure();
            await _app.StartAsync();
            Address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        }

        public async Task DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.StopAsync();
                await _app.DisposeAsync();
            }
        }
    }
}
