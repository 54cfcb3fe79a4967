using System.Buffers.Binary;
using System.Diagnostics;
using Google.Protobuf;
using OptOutRegistry.Grpc;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>Load generators that use our own client, plus the request bodies for h2load.</summary>
public static class LoadClient
{
    private static readonly Method<EchoRequest, EchoResponse> s_unary = Method<EchoRequest, EchoResponse>.Create(InteropTestReflection.Descriptor.Services[0], "UnaryEcho");
    private static readonly Method<EchoRequest, EchoResponse> s_bidi = Method<EchoRequest, EchoResponse>.Create(InteropTestReflection.Descriptor.Services[0], "Bidi");

    public static EchoRequest SmallRequest() => new() { Message = "https://example.com/gallery/photo-001.jpg" };

    public static async Task UnaryAsync(string address, int concurrency, int seconds, int channelCount)
    {
        // Several channels = several HTTP/2 connections, as h2load -c N uses N connections.
        var channels = Enumerable.Range(0, channelCount).Select(_ => GrpcChannel.ForAddress(address)).ToArray();
        var request = SmallRequest();
        foreach (var c in channels)
        {
            await c.UnaryAsync(s_unary, request);
        }
        long count = 0;
        var stop = DateTime.UtcNow.AddSeconds(1);
        // Warm-up second, then the measured run.
        await RunUnaryLoops(channels, request, concurrency, stop, () => { });
        var sw = Stopwatch.StartNew();
        stop = DateTime.UtcNow.AddSeconds(seconds);
        await RunUnaryLoops(channels, request, concurrency, stop, () => Interlocked.Increment(ref count));
        sw.Stop();
        foreach (var c in channels)
        {
            c.Dispose();
        }
        Console.WriteLine($"our client unary: channels={channelCount} concurrency={concurrency} calls={count} seconds={sw.Elapsed.TotalSeconds:F1} calls/s={count / sw.Elapsed.TotalSeconds:F0}");
    }

    private static Task RunUnaryLoops(GrpcChannel[] channels, EchoRequest request, int concurrency, DateTime stop, Action onCall)
    {
        var tasks = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            var channel = channels[i % channels.Length];
            tasks[i] = Task.Run(async () =>
            {
                while (DateTime.UtcNow < stop)
                {
                    await channel.UnaryAsync(s_unary, request);
                    onCall();
                }
            });
        }
        return Task.WhenAll(tasks);
    }

    public static async Task BidiAsync(string address, int streams, int seconds)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var request = SmallRequest();
        long received = 0;
        var stop = DateTime.UtcNow.AddSeconds(seconds);
        var sw = Stopwatch.StartNew();
        var tasks = new Task[streams];
        for (var s = 0; s < streams; s++)
        {
            tasks[s] = Task.Run(async () =>
            {
                using var call = channel.DuplexStreaming(s_bidi);
                var reader = Task.Run(async () =>
                {
                    long n = 0;
                    while (await call.ResponseStream.MoveNext())
                    {
                        n++;
                    }
                    Interlocked.Add(ref received, n);
                });
                while (DateTime.UtcNow < stop)
                {
                    for (var i = 0; i < 256; i++)
                    {
                        await call.RequestStream.WriteAsync(request);
                    }
                }
                await call.RequestStream.CompleteAsync();
                await reader;
            });
        }
        await Task.WhenAll(tasks);
        sw.Stop();
        Console.WriteLine($"our client bidi: streams={streams} messages={received} seconds={sw.Elapsed.TotalSeconds:F1} messages/s={received / sw.Elapsed.TotalSeconds:F0}");
    }

    /// <summary>Writes unary.bin (one framed EchoRequest) and bidi.bin (100 framed EchoRequests) for h2load -d.</summary>
    public static void WriteBodies(string directory)
    {
        Directory.CreateDirectory(directory);
        var body = SmallRequest().ToByteArray();
        var framed = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        File.WriteAllBytes(Path.Combine(directory, "unary.bin"), framed);
        File.WriteAllBytes(Path.Combine(directory, "bidi.bin"), Enumerable.Repeat(framed, 100).SelectMany(b => b).ToArray());
        Console.WriteLine($"wrote {directory}/unary.bin ({framed.Length} bytes) and bidi.bin ({framed.Length * 100} bytes)");
    }
}
