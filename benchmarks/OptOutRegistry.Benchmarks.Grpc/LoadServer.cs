using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>
/// One Kestrel h2c server with, side by side: our gRPC layer serving optout.interop.v1.InteropTest (UnaryEcho, Bidi),
/// and a bare endpoint (/bare/UnaryEcho, /bare/Bidi) doing the same protobuf work with hand-written framing and no layer.
/// </summary>
public static class LoadServer
{
    public static async Task RunAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2);
            k.Limits.Http2.MaxStreamsPerConnection = 256;
        });
        builder.Services.AddGrpcTransport();
        var app = builder.Build();
        app.MapGrpcService(InteropTestReflection.Descriptor.Services[0], b => b
            .Unary<EchoRequest, EchoResponse>("UnaryEcho", static (request, _) => Task.FromResult(new EchoResponse { Message = request.Message, Payload = request.Payload }))
            .DuplexStreaming<EchoRequest, EchoResponse>("Bidi", static async (requests, responses, context) =>
            {
                while (await requests.MoveNext(context.CancellationToken))
                {
                    var r = requests.Current;
                    await responses.WriteAsync(new EchoResponse { Message = r.Message, Payload = r.Payload });
                }
            }));
        app.MapPost("/bare/UnaryEcho", BareUnaryAsync);
        app.MapPost("/bare/Bidi", BareBidiAsync);
        app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine($"listening on http://127.0.0.1:{port} (h2c)"));
        // RunAsync stops gracefully on SIGTERM / Ctrl+C.
        await app.RunAsync();
    }

    private static async Task BareUnaryAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        ReadResult result;
        while (true)
        {
            result = await reader.ReadAsync();
            if (result.IsCompleted)
            {
                break;
            }
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
        var buffer = result.Buffer;
        var request = Parse(ref buffer);
        reader.AdvanceTo(result.Buffer.End);
        context.Response.ContentType = "application/grpc";
        await context.Response.StartAsync();
        Write(context.Response.BodyWriter, new EchoResponse { Message = request!.Message, Payload = request.Payload });
        context.Response.AppendTrailer("grpc-status", "0");
    }

    private static async Task BareBidiAsync(HttpContext context)
    {
        var reader = context.Request.BodyReader;
        context.Response.ContentType = "application/grpc";
        await context.Response.StartAsync();
        var writer = context.Response.BodyWriter;
        while (true)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            while (Parse(ref buffer) is { } request)
            {
                Write(writer, new EchoResponse { Message = request.Message, Payload = request.Payload });
                await writer.FlushAsync();
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }
        context.Response.AppendTrailer("grpc-status", "0");
    }

    private static EchoRequest? Parse(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 5)
        {
            return null;
        }
        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (buffer.Length < 5 + length)
        {
            return null;
        }
        var message = EchoRequest.Parser.ParseFrom(buffer.Slice(5, length));
        buffer = buffer.Slice(5 + length);
        return message;
    }

    private static void Write(PipeWriter writer, EchoResponse response)
    {
        var size = response.CalculateSize();
        var span = writer.GetSpan(5 + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        response.WriteTo(span.Slice(5, size));
        writer.Advance(5 + size);
    }
}
