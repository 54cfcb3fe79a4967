using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>A server configured to gzip responses, and limits configured below the defaults.</summary>
public sealed class GzipServerTests : IAsyncLifetime
{
    private WebApplication? _app;
    private string _address = "";

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpcTransport(o =>
        {
            o.ResponseCompressionAlgorithm = "gzip";
            o.MaxReceiveMessageSize = 64 * 1024;
            o.MaxDecompressedMessageSize = 128 * 1024;
            o.MaxSendMessageSize = 256 * 1024;
            o.EnableDetailedErrors = true;
        });
        _app = builder.Build();
        InteropTestService.Map(_app, new InteropTestService());
        // VSTest and xunit park pool threads in this process: give the in-process server the free workers a server process has.
        ThreadPoolHeadroom.Ensure();
        await _app.StartAsync();
        _address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task GzippedResponses_AreReadByOurClient()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        var response = await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = new string('z', 50_000) });
        Assert.Equal(50_000, response.Message.Length);
        using var call = channel.ServerStreaming(Methods.ServerStream, new StreamRequest { Count = 5, PayloadSize = 10_000, FailAfter = -1 });
        var n = 0;
        await foreach (var _ in call.ResponseStream.ReadAllAsync())
        {
            n++;
        }
        Assert.Equal(5, n);
    }

    [Fact]
    public async Task RawResponse_IsCompressedOnlyWhenTheClientAcceptsGzip()
    {
        using var http = RawGrpc.CreateClient();
        foreach (var (accept, expectFlag) in new[] { ("identity,gzip", (byte)1), ("identity", (byte)0) })
        {
            var request = RawGrpc.Request(_address, "/optout.interop.v1.InteropTest/UnaryEcho", new ByteArrayContent(RawGrpc.Frame(new EchoRequest { Message = new string('a', 1000) })));
            request.Headers.TryAddWithoutValidation("grpc-accept-encoding", accept);
            var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(expectFlag, body[0]);
            Assert.Equal(expectFlag == 1 ? "gzip" : null, RawGrpc.Header(response.Headers, "grpc-encoding"));
        }
    }

    [Fact]
    public async Task ConfiguredReceiveLimit_IsEnforced()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = new string('x', 70_000) }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task ConfiguredDecompressedLimit_IsEnforcedOnGzipRequests()
    {
        using var channel = GrpcChannel.ForAddress(_address, new GrpcChannelOptions { CompressionEncoding = "gzip" });
        // 200 KB of one letter compresses far below the 64 KiB receive limit but inflates beyond the 128 KiB cap.
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = new string('x', 200_000) }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Decompressed message exceeds the maximum configured message size.", ex.Status.Detail);
    }

    [Fact]
    public async Task ConfiguredSendLimit_FailsTheCallOnTheServer()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { ResponseSize = 300_000 }));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Sending message exceeds the maximum configured message size.", ex.Status.Detail);
    }

    [Fact]
    public async Task DetailedErrors_IncludeTheExceptionWhenEnabled()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.Throw, new EchoRequest { Message = "m" }));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.StartsWith("Exception was thrown by handler. InvalidOperationException: secret internal detail m", ex.Status.Detail);
    }

    [Fact]
    public async Task ServerFailsMidStream_WhileClientStillWrites_ClientGetsTheStatus()
    {
        using var channel = GrpcChannel.ForAddress(_address);
        using var call = channel.DuplexStreaming(Methods.Bidi);
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "ok" });
        Assert.True(await call.ResponseStream.MoveNext());
        // Over the server's 64 KiB receive limit: the server ends the call before the client has finished sending.
        // The write itself may or may not fail (it races the server's reset); the status comes from the response.
        try
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Message = new string('x', 100_000) });
        }
        catch (RpcException)
        {
        }
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await call.RequestStream.WriteAsync(new EchoRequest { Message = "more" });
            }
        });
    }
}
