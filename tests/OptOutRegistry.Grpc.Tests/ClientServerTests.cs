using System.Text;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Testing;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>Our client on its own HTTP/2 transport (the default) against our server over a real Kestrel h2c endpoint.</summary>
[Collection(ServerCollection.Name)]
public sealed class ClientServerTests(ServerFixture server) : ClientServerTestsBase(server, GrpcTransport.Http2);

/// <summary>The same cases with the client on HttpClient, so neither transport rots.</summary>
[Collection(ServerCollection.Name)]
public sealed class ClientServerHttpClientTests(ServerFixture server) : ClientServerTestsBase(server, GrpcTransport.HttpClient);

/// <summary>Our client against our server over a real Kestrel h2c endpoint, on the transport a subclass picks.</summary>
public abstract class ClientServerTestsBase(ServerFixture server, GrpcTransport transport) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { Transport = transport });

    [Fact]
    public void Channel_UsesTheRequestedTransport() => Assert.Equal(transport, _channel.Transport);

    public void Dispose() => _channel.Dispose();

    [Fact]
    public async Task Unary_EchoesMessage()
    {
        var response = await _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "hello", Payload = ByteString.CopyFromUtf8("abc") });
        Assert.Equal("hello", response.Message);
        Assert.Equal("abc", response.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task AsyncUnaryCall_ReportsOkStatusAndEmptyTrailers()
    {
        using var call = _channel.AsyncUnaryCall(Methods.UnaryEcho, new EchoRequest { Message = "x" });
        var response = await call;
        Assert.Equal("x", response.Message);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Empty(call.GetTrailers());
    }

    [Fact]
    public async Task ServerStreaming_ReceivesAllMessagesInOrder()
    {
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 50, PayloadSize = 10, FailAfter = -1, Message = "m" });
        var received = new List<string>();
        await foreach (var r in call.ResponseStream.ReadAllAsync())
        {
            received.Add(r.Message);
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task ServerStreaming_ErrorAfterMessages_ArrivesInTrailers()
    {
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 5, FailAfter = 3, FailCode = (int)StatusCode.Aborted, Message = "é" });
        var received = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                received++;
            }
        });
        Assert.Equal(3, received);
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal("failed after 3 messages: é", ex.Status.Detail);
    }

    [Fact]
    public async Task ClientStreaming_CountsMessages()
    {
        using var call = _channel.ClientStreaming(Methods.ClientStream);
        for (var i = 0; i < 100; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = i.ToString(), Payload = ByteString.CopyFrom(new byte[i]) });
        }
        await call.RequestStream.CompleteAsync();
        var summary = await call;
        Assert.Equal(100, summary.Count);
        Assert.Equal(Enumerable.Range(0, 100).Sum(), summary.TotalBytes);
        Assert.Equal(string.Join(",", Enumerable.Range(0, 100)), summary.Joined);
    }

    /// <summary>
    /// Writes return once the message is queued and a send loop hands whole batches to HttpClient, so pipelined
    /// writes share DATA frames; above 64 KiB queued the writer waits. Every message must still arrive, in order,
    /// whether small (many per batch), mid-sized (the queue limit is hit) or larger than a kept batch buffer.
    /// </summary>
    [Theory]
    [InlineData(20_000, 0)]
    [InlineData(300, 40_000)]
    [InlineData(4, 3_000_000)]
    public async Task ClientStreaming_PipelinedWrites_ArriveCompleteAndInOrder(int count, int payloadSize)
    {
        using var call = _channel.ClientStreaming(Methods.ClientStream);
        var payload = ByteString.CopyFrom(new byte[payloadSize]);
        for (var i = 0; i < count; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = i.ToString(), Payload = payload });
        }
        await call.RequestStream.CompleteAsync();
        var summary = await call;
        Assert.Equal(count, summary.Count);
        Assert.Equal((long)count * payloadSize, summary.TotalBytes);
        Assert.Equal(string.Join(",", Enumerable.Range(0, count)), summary.Joined);
    }

    [Fact]
    public async Task Duplex_PipelinedWritesWhileReading_EchoedInOrder()
    {
        const int Count = 10_000;
        using var call = _channel.DuplexStreaming(Methods.Bidi);
        var reader = Task.Run(async () =>
        {
            var expected = 0;
            while (await call.ResponseStream.MoveNext())
            {
                Assert.Equal($"m{expected}", call.ResponseStream.Current.Message);
                expected++;
            }
            return expected;
        });
        for (var i = 0; i < Count; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = $"m{i}" });
        }
        await call.RequestStream.CompleteAsync();
        Assert.Equal(Count, await reader);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task ClientStreaming_WriteAfterComplete_Throws()
    {
        using var call = _channel.ClientStreaming(Methods.ClientStream);
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "a" });
        await call.RequestStream.CompleteAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => call.RequestStream.WriteAsync(new EchoRequest { Message = "b" }));
        Assert.Equal("a", (await call).Joined);
    }

    [Fact]
    public async Task Redirect_IsNotFollowed_AndMapsToUnknown()
    {
        // doc/http-grpc-status-mapping.md: a non-200 HTTP status without grpc-status is mapped, 3xx to UNKNOWN.
        var method = Method<EchoRequest, EchoResponse>.Create("redirect.Test", "Call", MethodType.Unary);
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(method, new EchoRequest { Message = "x" }));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.Equal("Bad gRPC response. HTTP status code: 307", ex.Status.Detail);
    }

    [Fact]
    public async Task Duplex_ReachesTheServer_BeforeTheClientWritesAnything()
    {
        // The server answers an unknown method with UNIMPLEMENTED as soon as it sees the request headers. If the client
        // held the headers back until its first write, this call would hang until a keep-alive PING (about a minute).
        var unknown = Method<EchoRequest, EchoResponse>.Create("optout.interop.v1.InteropTest", "NoSuchMethod", MethodType.DuplexStreaming);
        using var call = _channel.DuplexStreaming(unknown);
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }

    [Fact]
    public async Task ClientStream_ReachesTheServer_BeforeTheClientWritesAnything()
    {
        var unknown = Method<EchoRequest, EchoResponse>.Create("optout.interop.v1.InteropTest", "NoSuchMethod", MethodType.ClientStreaming);
        using var call = _channel.ClientStreaming(unknown);
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }

    [Fact]
    public async Task ClientStreaming_ZeroMessages_ReturnsEmptySummary()
    {
        using var call = _channel.ClientStreaming(Methods.ClientStream);
        await call.RequestStream.CompleteAsync();
        var summary = await call;
        Assert.Equal(0, summary.Count);
    }

    [Fact]
    public async Task Duplex_EchoesEachMessageBeforeTheNextIsSent()
    {
        using var call = _channel.DuplexStreaming(Methods.Bidi);
        for (var i = 0; i < 20; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = $"ping{i}" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal($"ping{i}", call.ResponseStream.Current.Message);
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, "no such work")]
    [InlineData(StatusCode.InvalidArgument, "url: must be absolute — «ж» 日本 \u00e9 100% done\r\nnext line")]
    [InlineData(StatusCode.AlreadyExists, "")]
    public async Task Fail_TrailersOnlyError_CarriesCodeMessageAndTrailers(StatusCode code, string message)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Fail, new FailRequest { Code = (int)code, Message = message }));
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);
        Assert.Equal("requested", ex.Trailers.GetValue("fail-reason"));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, ex.Trailers.GetValueBytes("fail-detail-bin"));
    }

    [Fact]
    public async Task Throw_UnexpectedException_IsUnknownWithoutInternals()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Throw, new EchoRequest { Message = "x" }));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.Equal("Exception was thrown by handler.", ex.Status.Detail);
        Assert.DoesNotContain("secret", ex.Status.Detail);
    }

    [Fact]
    public async Task UnboundMethod_IsUnimplemented()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.NotBound, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Method is unimplemented.", ex.Status.Detail);
    }

    [Fact]
    public async Task UnknownService_IsUnimplemented()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnknownService, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Service is unimplemented.", ex.Status.Detail);
    }

    [Fact]
    public async Task UnknownMethodOfKnownService_IsUnimplemented()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnknownMethod, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("Method is unimplemented.", ex.Status.Detail);
    }

    [Fact]
    public async Task Deadline_Exceeded_ClientSeesDeadlineAndServerHandlerIsCancelled()
    {
        var id = Guid.NewGuid().ToString();
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Sleep, new SleepRequest { Ms = 10_000, Id = id },
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300))));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var outcome = await _channel.UnaryAsync(Methods.SleepOutcome, new OutcomeQuery { Id = id, WaitMs = 5000 });
        Assert.True(outcome.Seen);
        Assert.True(outcome.Cancelled);
    }

    [Fact]
    public async Task Deadline_DuringServerStream_EndsWithDeadlineExceededAfterSomeMessages()
    {
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 1000, DelayMs = 20, FailAfter = -1, Message = "d" },
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(500)));
        var received = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                received++;
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.InRange(received, 1, 999);
    }

    [Fact]
    public async Task Deadline_NotReached_CallSucceeds()
    {
        var response = await _channel.UnaryAsync(Methods.Sleep, new SleepRequest { Ms = 10, Id = Guid.NewGuid().ToString() },
            new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(30)));
        Assert.Equal("slept", response.Message);
    }

    [Fact]
    public async Task Deadline_AlreadyPassed_FailsLocally()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest(),
            new CallOptions(Deadline: DateTime.UtcNow.AddSeconds(-1))));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
    }

    [Fact]
    public async Task ClientCancel_ServerSeesRequestAborted()
    {
        var id = Guid.NewGuid().ToString();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Sleep, new SleepRequest { Ms = 10_000, Id = id },
            new CallOptions(CancellationToken: cts.Token)));
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        var outcome = await _channel.UnaryAsync(Methods.SleepOutcome, new OutcomeQuery { Id = id, WaitMs = 5000 });
        Assert.True(outcome.Cancelled);
    }

    [Fact]
    public async Task ClientCancel_AfterHeaders_ServerStreamStops()
    {
        using var cts = new CancellationTokenSource();
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 1000, DelayMs = 20, FailAfter = -1 },
            new CallOptions(CancellationToken: cts.Token));
        Assert.True(await call.ResponseStream.MoveNext());
        await call.ResponseHeadersAsync;
        cts.Cancel();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
    }

    [Fact]
    public async Task Dispose_CancelsRunningCall()
    {
        var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 1000, DelayMs = 20, FailAfter = -1 });
        Assert.True(await call.ResponseStream.MoveNext());
        call.Dispose();
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Metadata_AsciiAndBinary_RoundTripThroughHeadersAndTrailers()
    {
        var headers = new Metadata
        {
            { "echo-text", "plain value" },
            { "echo-data-bin", new byte[] { 0, 0xFF, 0x10, 0x80, 7 } },
            { "x-other", "y" },
        };
        using var call = _channel.AsyncUnaryCall(Methods.EchoMetadata, new EchoRequest(), new CallOptions(Headers: headers));
        var response = await call;
        var pairs = response.Pairs.ToDictionary(p => p.Key);
        Assert.Equal("plain value", pairs["echo-text"].Value);
        Assert.Equal(new byte[] { 0, 0xFF, 0x10, 0x80, 7 }, pairs["echo-data-bin"].ValueBytes.ToByteArray());
        Assert.Equal("y", pairs["x-other"].Value);
        Assert.DoesNotContain("te", pairs.Keys);
        Assert.DoesNotContain("grpc-accept-encoding", pairs.Keys);
        var responseHeaders = await call.ResponseHeadersAsync;
        Assert.Equal("plain value", responseHeaders.GetValue("echo-text"));
        Assert.Equal(new byte[] { 0, 0xFF, 0x10, 0x80, 7 }, responseHeaders.GetValueBytes("echo-data-bin"));
        var trailers = call.GetTrailers();
        Assert.Equal("plain value", trailers.GetValue("echo-text"));
        Assert.Equal(new byte[] { 0, 0xFF, 0x10, 0x80, 7 }, trailers.GetValueBytes("echo-data-bin"));
    }

    [Fact]
    public async Task LargeMessage_3MiB_RoundTrips()
    {
        var payload = new byte[3 * 1024 * 1024];
        new Random(42).NextBytes(payload);
        var response = await _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Payload = ByteString.CopyFrom(payload) });
        Assert.Equal(payload, response.Payload.ToByteArray());
    }

    [Fact]
    public async Task RequestOverServerLimit_IsResourceExhausted()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Payload = ByteString.CopyFrom(new byte[5 * 1024 * 1024]) }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Received message exceeds the maximum configured message size.", ex.Status.Detail);
    }

    [Fact]
    public async Task ResponseOverClientLimit_IsResourceExhausted()
    {
        using var small = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { Transport = transport, MaxReceiveMessageSize = 1000 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => small.UnaryAsync(Methods.UnaryEcho, new EchoRequest { ResponseSize = 2000 }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task RequestOverClientSendLimit_IsResourceExhaustedWithoutSending()
    {
        using var small = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { Transport = transport, MaxSendMessageSize = 100 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => small.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Payload = ByteString.CopyFrom(new byte[200]) }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Sending message exceeds the maximum configured message size.", ex.Status.Detail);
    }

    [Fact]
    public async Task GzipRequests_AreDecompressedByServer()
    {
        using var gz = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { Transport = transport, CompressionEncoding = "gzip" });
        var text = string.Concat(Enumerable.Repeat("compressible ", 10_000));
        var response = await gz.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = text });
        Assert.Equal(text, response.Message);
        using var call = gz.ClientStreaming(Methods.ClientStream);
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "a" });
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "b" });
        await call.RequestStream.CompleteAsync();
        Assert.Equal("a,b", (await call).Joined);
    }

    [Fact]
    public async Task Health_Check_ReportsServingForServerAndMappedServices()
    {
        var check = Method<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>.Create(global::Grpc.Health.V1.HealthReflection.Descriptor.Services[0], "Check");
        var whole = await _channel.UnaryAsync(check, new global::Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, whole.Status);
        var svc = await _channel.UnaryAsync(check, new global::Grpc.Health.V1.HealthCheckRequest { Service = "optout.interop.v1.InteropTest" });
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, svc.Status);
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(check, new global::Grpc.Health.V1.HealthCheckRequest { Service = "nope.Nope" }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
    }

    [Fact]
    public async Task Health_Watch_StreamsChanges()
    {
        var watch = Method<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>.Create(global::Grpc.Health.V1.HealthReflection.Descriptor.Services[0], "Watch");
        var name = "watch.test." + Guid.NewGuid().ToString("N");
        using var call = _channel.ServerStreaming(watch, new global::Grpc.Health.V1.HealthCheckRequest { Service = name });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.ServiceUnknown, call.ResponseStream.Current.Status);
        server.Health.SetStatus(name, ServingStatus.NotServing);
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing, call.ResponseStream.Current.Status);
        server.Health.SetStatus(name, ServingStatus.Serving);
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, call.ResponseStream.Current.Status);
    }

    [Fact]
    public async Task Reflection_ListsServicesAndServesFilesWithDependencies()
    {
        var info = Method<global::Grpc.Reflection.V1.ServerReflectionRequest, global::Grpc.Reflection.V1.ServerReflectionResponse>.Create(
            global::Grpc.Reflection.V1.ReflectionReflection.Descriptor.Services[0], "ServerReflectionInfo");
        using var call = _channel.DuplexStreaming(info);
        await call.RequestStream.WriteAsync(new global::Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "" });
        Assert.True(await call.ResponseStream.MoveNext());
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("optout.interop.v1.InteropTest", names);
        Assert.Contains("grpc.health.v1.Health", names);
        Assert.Contains("grpc.reflection.v1.ServerReflection", names);
        Assert.Contains("grpc.reflection.v1alpha.ServerReflection", names);

        await call.RequestStream.WriteAsync(new global::Grpc.Reflection.V1.ServerReflectionRequest { FileContainingSymbol = "optout.interop.v1.InteropTest.UnaryEcho" });
        Assert.True(await call.ResponseStream.MoveNext());
        var files = call.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto
            .Select(b => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(b).Name).ToList();
        Assert.Equal("interop_test.proto", files[0]);
        Assert.Contains("google/protobuf/timestamp.proto", files);

        await call.RequestStream.WriteAsync(new global::Grpc.Reflection.V1.ServerReflectionRequest { FileContainingSymbol = "no.such.Symbol" });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal((int)StatusCode.NotFound, call.ResponseStream.Current.ErrorResponse.ErrorCode);
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task ManyConcurrentUnaryCalls_AllSucceed()
    {
        var tasks = Enumerable.Range(0, 500).Select(i => _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = i.ToString() })).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => i.ToString()), results.Select(r => r.Message));
    }

    [Fact]
    public void Method_Create_RejectsWrongTypesOrNames()
    {
        var service = InteropTestReflection.Descriptor.Services[0];
        Assert.Throws<InvalidOperationException>(() => Method<EchoRequest, Summary>.Create(service, "UnaryEcho"));
        Assert.Throws<InvalidOperationException>(() => Method<EchoRequest, EchoResponse>.Create(service, "Nope"));
        Assert.Equal("/optout.interop.v1.InteropTest/Bidi", Methods.Bidi.FullName);
        Assert.Equal(MethodType.DuplexStreaming, Methods.Bidi.Type);
        _ = Encoding.UTF8;
    }
}

/// <summary>Runs alone: it lowers the pool's minimum and parks pool threads, which would slow every other test's server.</summary>
[CollectionDefinition(nameof(ThreadPoolHeadroomCollection), DisableParallelization = true)]
public sealed class ThreadPoolHeadroomCollection;

/// <summary>
/// A test host's in-process server (like this project's fixtures, which host Kestrel without the registry's
/// TemporaryServer) with the host's pool threads parked: <see cref="ThreadPoolHeadroom.Ensure"/> gives it free workers,
/// so a burst of calls is served without the pool's starvation injection (0.5-1 s per added thread on 2 cores).
/// </summary>
[Collection(nameof(ThreadPoolHeadroomCollection))]
public sealed class ThreadPoolHeadroomTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task TestHost_WithPoolThreadsParked_ServesABurstWithoutStarvationInjection()
    {
        ThreadPool.GetMinThreads(out var savedMin, out var minIo);
        // From the runtime's default, so the minimum this test sees is the one Ensure sets (earlier hosts raised it).
        ThreadPool.SetMinThreads(Environment.ProcessorCount, minIo);
        // A WaitHandle wait per core, as VSTest's socket loop and xunit's runner do: the pool does not count it as blocked.
        var parked = new ParkedPoolThreads(Environment.ProcessorCount);
        WebApplication? app = null;
        try
        {
            Assert.True(parked.WaitStarted(TimeSpan.FromSeconds(60)), "the parking work items did not all start");
            using var adjustments = new PoolAdjustmentListener();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
            builder.Services.AddGrpcTransport();
            app = builder.Build();
            InteropTestService.Map(app, new InteropTestService());
            var minimum = ThreadPoolHeadroom.Ensure();
            Assert.True(minimum >= 2 * Environment.ProcessorCount, $"minimum {minimum}: the parked threads plus one per core were not covered");
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

            using var channel = GrpcChannel.ForAddress(address);
            var slowest = TimeSpan.Zero;
            for (var round = 0; round < 8; round++)
            {
                // A burst as a test does it: concurrent unary calls and a server stream, then a pause that lets the pool idle.
                var started = System.Diagnostics.Stopwatch.StartNew();
                var calls = new Task[17];
                for (var i = 0; i < 16; i++)
                {
                    calls[i] = channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "m" + i });
                }

                calls[16] = ReadStreamAsync(channel);
                await Task.WhenAll(calls);
                slowest = started.Elapsed > slowest ? started.Elapsed : slowest;
                await Task.Delay(100);
            }

            output.WriteLine($"min worker threads {minimum}; slowest of 8 bursts (16 unary + 1 stream) {slowest.TotalMilliseconds:0.0} ms; {adjustments.Describe()}");
            // Reason 6 = Starvation: queued work waited a whole check interval for a free worker, so the gate thread added one.
            Assert.True(adjustments.Starvations == 0, $"the pool added threads for starvation {adjustments.Starvations} time(s): {adjustments.Describe()}");
        }
        finally
        {
            parked.Dispose();
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            ThreadPool.GetMinThreads(out var nowMin, out _);
            ThreadPool.SetMinThreads(Math.Max(savedMin, nowMin), minIo);
        }
    }

    private static async Task ReadStreamAsync(GrpcChannel channel)
    {
        using var call = channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 5, PayloadSize = 10, FailAfter = -1, Message = "s" });
        var n = 0;
        await foreach (var _ in call.ResponseStream.ReadAllAsync())
        {
            n++;
        }

        Assert.Equal(5, n);
    }
}
