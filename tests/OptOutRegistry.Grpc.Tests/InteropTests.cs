using System.Diagnostics;
using Google.Protobuf;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>Runs tests/interop/python_client.py (python3-grpcio) once against our server, which gzips its responses.</summary>
public sealed class PythonClientRun : ReferenceClientRun
{
    public override Task InitializeAsync() => RunAsync(PythonInterop.Python, Path.Combine(PythonInterop.InteropDir, "python_client.py"));
}

/// <summary>Issue 2 item 7a: a python3-grpcio client calls our server.</summary>
public sealed class PythonClientInteropTests(PythonClientRun run) : IClassFixture<PythonClientRun>
{
    [Theory]
    [InlineData("unary")]
    [InlineData("server_streaming")]
    [InlineData("client_streaming")]
    [InlineData("bidi")]
    [InlineData("deadline_exceeded")]
    [InlineData("cancellation")]
    [InlineData("error_non_ascii")]
    [InlineData("trailers_only")]
    [InlineData("unknown_exception")]
    [InlineData("unimplemented")]
    [InlineData("large_3mib")]
    [InlineData("over_limit")]
    [InlineData("gzip")]
    [InlineData("metadata")]
    [InlineData("health")]
    [InlineData("reflection")]
    public void PythonClient_CallsOurServer(string name)
    {
        Assert.True(run.Results.TryGetValue(name, out var result), $"case {name} did not run; python output:\n{run.Output}");
        Assert.True(result.Ok, $"{name}: {result.Detail}");
    }
}

/// <summary>Starts tests/interop/python_server.py (python3-grpcio, gzip responses) on a free port.</summary>
public sealed class PythonServerProcess : ReferenceServerProcess
{
    public override Task InitializeAsync() => StartAsync(PythonInterop.Python, Path.Combine(PythonInterop.InteropDir, "python_server.py"));
}

/// <summary>
/// The reference-server classes run one after the other: each case checks timing-bound behaviour (a handler seeing the
/// deadline within seconds), and two reference servers plus the client runs side by side starve each other on 2 cores.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ReferenceServerCollection
{
    public const string Name = "reference servers";
}

/// <summary>Issue 2 item 7b: our client calls a python3-grpcio server.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class PythonServerInteropTests(PythonServerProcess server) : ReferenceServerInteropTests(server.Address, GrpcTransport.Http2), IClassFixture<PythonServerProcess>
{
    [Theory]
    [MemberData(nameof(Cases), MemberType = typeof(ReferenceServerInteropTests))]
    public Task OurClient_CallsPythonServer(string name) => RunCaseAsync(name);
}

/// <summary>The same cases with our client on HttpClient.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class PythonServerHttpClientInteropTests(PythonServerProcess server) : ReferenceServerInteropTests(server.Address, GrpcTransport.HttpClient), IClassFixture<PythonServerProcess>
{
    [Theory]
    [MemberData(nameof(Cases), MemberType = typeof(ReferenceServerInteropTests))]
    public Task OurClientOnHttpClient_CallsPythonServer(string name) => RunCaseAsync(name);
}

/// <summary>
/// Our client calls a @grpc/grpc-js server (tests/interop/node/node_server.js), the second reference server; only a
/// missing node skips these.
/// </summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class NodeServerInteropTests(NodeServerProcess server) : ReferenceServerInteropTests(server.Address, GrpcTransport.Http2), IClassFixture<NodeServerProcess>
{
    [NodeTheory]
    [MemberData(nameof(Cases), MemberType = typeof(ReferenceServerInteropTests))]
    public Task OurClient_CallsNodeServer(string name) => RunCaseAsync(name);
}

/// <summary>The same cases with our client on HttpClient.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class NodeServerHttpClientInteropTests(NodeServerProcess server) : ReferenceServerInteropTests(server.Address, GrpcTransport.HttpClient), IClassFixture<NodeServerProcess>
{
    [NodeTheory]
    [MemberData(nameof(Cases), MemberType = typeof(ReferenceServerInteropTests))]
    public Task OurClientOnHttpClient_CallsNodeServer(string name) => RunCaseAsync(name);
}

/// <summary>The cases our client runs against each reference server implementing the interop test service.</summary>
public abstract class ReferenceServerInteropTests(string address, GrpcTransport transport) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = transport });

    public static TheoryData<string> Cases { get; } = new(
        nameof(Unary),
        nameof(ServerStreaming),
        nameof(ServerStreaming_ErrorAfterMessages),
        nameof(ClientStreaming),
        nameof(Bidi),
        nameof(DeadlineExceeded),
        nameof(Cancellation),
        nameof(ErrorWithNonAsciiMessage_AndTrailers),
        nameof(TrailersOnlyError),
        nameof(UnknownException_IsUnknown),
        nameof(Unimplemented),
        nameof(LargeMessage_3MiB),
        nameof(RequestOverServerLimit_IsResourceExhausted),
        nameof(ResponseOverClientLimit_IsResourceExhausted),
        nameof(Gzip_BothWays),
        nameof(Metadata_WithBinary));

    public void Dispose()
    {
        _channel.Dispose();
        GC.SuppressFinalize(this);
    }

    protected Task RunCaseAsync(string name)
        => (Task)typeof(ReferenceServerInteropTests).GetMethod(name, System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!.Invoke(this, null)!;

    private async Task Unary()
    {
        var r = await _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "héllo", Payload = ByteString.CopyFrom(1, 2, 3) });
        Assert.Equal("héllo", r.Message);
        Assert.Equal(new byte[] { 1, 2, 3 }, r.Payload.ToByteArray());
    }

    private async Task ServerStreaming()
    {
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 10, PayloadSize = 100, FailAfter = -1, Message = "m" });
        var got = new List<string>();
        await foreach (var r in call.ResponseStream.ReadAllAsync())
        {
            got.Add(r.Message);
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), got);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    private async Task ServerStreaming_ErrorAfterMessages()
    {
        using var call = _channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 5, FailAfter = 2, FailCode = (int)StatusCode.Aborted, Message = "ж" });
        var count = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                count++;
            }
        });
        Assert.Equal(2, count);
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal("failed after 2 messages: ж", ex.Status.Detail);
    }

    private async Task ClientStreaming()
    {
        using var call = _channel.ClientStreaming(Methods.ClientStream);
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = i.ToString(), Payload = ByteString.CopyFrom(new byte[i]) });
        }
        await call.RequestStream.CompleteAsync();
        var s = await call;
        Assert.Equal(10, s.Count);
        Assert.Equal(45, s.TotalBytes);
    }

    private async Task Bidi()
    {
        using var call = _channel.DuplexStreaming(Methods.Bidi);
        for (var i = 0; i < 10; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = $"p{i}" });
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.Equal($"p{i}", call.ResponseStream.Current.Message);
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }

    private async Task DeadlineExceeded()
    {
        var id = Guid.NewGuid().ToString();
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Sleep, new SleepRequest { Ms = 10_000, Id = id },
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300))));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var outcome = await _channel.UnaryAsync(Methods.SleepOutcome, new OutcomeQuery { Id = id, WaitMs = 5000 });
        Assert.True(outcome.Cancelled, "the reference server should see the call end when its deadline passes");
    }

    private async Task Cancellation()
    {
        var id = Guid.NewGuid().ToString();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Sleep, new SleepRequest { Ms = 10_000, Id = id },
            new CallOptions(CancellationToken: cts.Token)));
        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        var outcome = await _channel.UnaryAsync(Methods.SleepOutcome, new OutcomeQuery { Id = id, WaitMs = 5000 });
        Assert.True(outcome.Cancelled, "the reference server should observe RST_STREAM as cancellation");
    }

    private async Task ErrorWithNonAsciiMessage_AndTrailers()
    {
        const string message = "Ошибка: ü 日本 100% «done»";
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Fail, new FailRequest { Code = (int)StatusCode.InvalidArgument, Message = message }));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);
        Assert.Equal("requested", ex.Trailers.GetValue("fail-reason"));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, ex.Trailers.GetValueBytes("fail-detail-bin"));
    }

    private async Task TrailersOnlyError()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Fail, new FailRequest { Code = (int)StatusCode.NotFound, Message = "gone" }));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("gone", ex.Status.Detail);
    }

    private async Task UnknownException_IsUnknown()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.Throw, new EchoRequest()));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
    }

    private async Task Unimplemented()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.NotBound, new EchoRequest()));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }

    private async Task LargeMessage_3MiB()
    {
        var payload = new byte[3 * 1024 * 1024];
        new Random(7).NextBytes(payload);
        var r = await _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Payload = ByteString.CopyFrom(payload) });
        Assert.Equal(payload, r.Payload.ToByteArray());
    }

    private async Task RequestOverServerLimit_IsResourceExhausted()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Payload = ByteString.CopyFrom(new byte[5 * 1024 * 1024]) }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    private async Task ResponseOverClientLimit_IsResourceExhausted()
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { ResponseSize = 5 * 1024 * 1024 }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    private async Task Gzip_BothWays()
    {
        using var gz = GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = transport, CompressionEncoding = "gzip" });
        var text = string.Concat(Enumerable.Repeat("compressible ", 20_000));
        var r = await gz.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = text });
        Assert.Equal(text, r.Message);
    }

    private async Task Metadata_WithBinary()
    {
        var headers = new Metadata { { "echo-text", "plain" }, { "echo-data-bin", new byte[] { 0, 0xFF, 0x10 } } };
        using var call = _channel.AsyncUnaryCall(Methods.EchoMetadata, new EchoRequest(), new CallOptions(Headers: headers));
        var r = await call;
        var pairs = r.Pairs.ToDictionary(p => p.Key);
        Assert.Equal("plain", pairs["echo-text"].Value);
        Assert.Equal(new byte[] { 0, 0xFF, 0x10 }, pairs["echo-data-bin"].ValueBytes.ToByteArray());
        Assert.Equal(new byte[] { 0, 0xFF, 0x10 }, (await call.ResponseHeadersAsync).GetValueBytes("echo-data-bin"));
        Assert.Equal("plain", call.GetTrailers().GetValue("echo-text"));
    }
}
