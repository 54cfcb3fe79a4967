using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using OptOutRegistry.Grpc;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>
/// Our client against a bare HttpClient doing the same unary work (frame a request, POST it over h2c, read the framed
/// response, parse it, read grpc-status from the trailers), alternating in one process against the same server, so
/// the ratio is honest on a shared machine. Besides calls/s it reports the client's own CPU time per call
/// (<see cref="Process.TotalProcessorTime"/>) and bytes allocated per call (<see cref="GC.GetTotalAllocatedBytes"/>),
/// which stay meaningful when wall-clock throughput is noisy.
/// </summary>
public static class ClientCompare
{
    private static readonly Method<EchoRequest, EchoResponse> s_unary = Method<EchoRequest, EchoResponse>.Create(InteropTestReflection.Descriptor.Services[0], "UnaryEcho");
    private static readonly Method<EchoRequest, EchoResponse> s_bidi = Method<EchoRequest, EchoResponse>.Create(InteropTestReflection.Descriptor.Services[0], "Bidi");

    /// <summary>One measured window: calls completed, wall seconds, client CPU seconds, bytes allocated.</summary>
    private readonly record struct Sample(long Calls, double Seconds, double CpuSeconds, long Bytes)
    {
        public override string ToString()
            => $"{Calls / Seconds,10:F0} calls/s   client CPU {CpuSeconds * 1e6 / Math.Max(1, Calls),6:F1} us/call   {(double)Bytes / Math.Max(1, Calls),7:F0} B/call";
    }

    public static async Task UnaryAsync(string address, int concurrency, int seconds, int channelCount, int rounds)
    {
        // Our client on its own HTTP/2 transport (the default), our client on HttpClient, and a bare HttpClient client.
        var h2 = Enumerable.Range(0, channelCount).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = GrpcTransport.Http2 })).ToArray();
        var hc = Enumerable.Range(0, channelCount).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = GrpcTransport.HttpClient })).ToArray();
        var bare = Enumerable.Range(0, channelCount).Select(_ => new BareClient(address)).ToArray();
        var request = LoadClient.SmallRequest();
        Func<int, Task> h2Call = i => h2[i % channelCount].UnaryAsync(s_unary, request);
        Func<int, Task> hcCall = i => hc[i % channelCount].UnaryAsync(s_unary, request);
        Func<int, Task> bareCall = i => bare[i % channelCount].UnaryAsync(request);
        // Warm-up (connections, and tiered JIT, which takes seconds on a loaded machine) for all, as long as a run.
        await MeasureAsync(h2Call, concurrency, seconds);
        await MeasureAsync(hcCall, concurrency, seconds);
        await MeasureAsync(bareCall, concurrency, seconds);
        Console.WriteLine($"unary, {channelCount} channel(s) x {concurrency} concurrent calls, {seconds} s per run; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        for (var r = 1; r <= rounds; r++)
        {
            var o = await MeasureAsync(h2Call, concurrency, seconds);
            var h = await MeasureAsync(hcCall, concurrency, seconds);
            var b = await MeasureAsync(bareCall, concurrency, seconds);
            Console.WriteLine($"  round {r} ours (own HTTP/2):   {o}");
            Console.WriteLine($"  round {r} ours (HttpClient):   {h}");
            Console.WriteLine($"  round {r} bare HttpClient:     {b}");
            Console.WriteLine($"  round {r} ratios own-HTTP/2 vs HttpClient-ours: throughput {Rate(o) / Rate(h):F2}, CPU/call {PerCall(o) / PerCall(h):F2}; vs bare: throughput {Rate(o) / Rate(b):F2}, CPU/call {PerCall(o) / PerCall(b):F2}");
        }
        foreach (var c in h2)
        {
            c.Dispose();
        }
        foreach (var c in hc)
        {
            c.Dispose();
        }
        foreach (var c in bare)
        {
            c.Dispose();
        }
    }

    private static double Rate(Sample s) => s.Calls / s.Seconds;

    private static double PerCall(Sample s) => s.CpuSeconds / Math.Max(1, s.Calls);

    /// <summary>Runs <paramref name="concurrency"/> call loops for <paramref name="seconds"/> and samples the process.</summary>
    private static async Task<Sample> MeasureAsync(Func<int, Task> call, int concurrency, int seconds)
    {
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        long count = 0;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var bytes0 = GC.GetTotalAllocatedBytes(precise: false);
        var sw = Stopwatch.StartNew();
        var tasks = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                long n = 0;
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    await call(index).ConfigureAwait(false);
                    n++;
                }
                Interlocked.Add(ref count, n);
            });
        }
        await Task.WhenAll(tasks);
        sw.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        var bytes = GC.GetTotalAllocatedBytes(precise: false) - bytes0;
        return new Sample(count, sw.Elapsed.TotalSeconds, cpu.TotalSeconds, bytes);
    }

    /// <summary>Bidi: our client's streams against bare HttpClient streams, same pipelining, alternating.</summary>
    public static async Task BidiAsync(string address, int streams, int seconds, int rounds)
    {
        using var h2 = GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = GrpcTransport.Http2 });
        using var hc = GrpcChannel.ForAddress(address, new GrpcChannelOptions { Transport = GrpcTransport.HttpClient });
        using var bare = new BareClient(address);
        var request = LoadClient.SmallRequest();
        await MeasureBidiAsync(s => OursBidiAsync(h2, request, s), streams, seconds);
        await MeasureBidiAsync(s => OursBidiAsync(hc, request, s), streams, seconds);
        await MeasureBidiAsync(s => bare.BidiAsync(request, s), streams, seconds);
        Console.WriteLine($"bidi, {streams} stream(s), writes pipelined, {seconds} s per run; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        for (var r = 1; r <= rounds; r++)
        {
            var o = await MeasureBidiAsync(s => OursBidiAsync(h2, request, s), streams, seconds);
            var h = await MeasureBidiAsync(s => OursBidiAsync(hc, request, s), streams, seconds);
            var b = await MeasureBidiAsync(s => bare.BidiAsync(request, s), streams, seconds);
            Console.WriteLine($"  round {r} ours (own HTTP/2):   {o.ToString().Replace("call", "msg")}");
            Console.WriteLine($"  round {r} ours (HttpClient):   {h.ToString().Replace("call", "msg")}");
            Console.WriteLine($"  round {r} bare HttpClient:     {b.ToString().Replace("call", "msg")}");
            Console.WriteLine($"  round {r} ratios own-HTTP/2 vs HttpClient-ours: throughput {Rate(o) / Rate(h):F2}, CPU/msg {PerCall(o) / PerCall(h):F2}; vs bare: throughput {Rate(o) / Rate(b):F2}, CPU/msg {PerCall(o) / PerCall(b):F2}");
        }
    }

    private static async Task<Sample> MeasureBidiAsync(Func<long, Task<long>> stream, int streams, int seconds)
    {
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var bytes0 = GC.GetTotalAllocatedBytes(precise: false);
        var sw = Stopwatch.StartNew();
        var tasks = new Task<long>[streams];
        for (var i = 0; i < streams; i++)
        {
            tasks[i] = Task.Run(() => stream(stopAt));
        }
        var received = (await Task.WhenAll(tasks)).Sum();
        sw.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu0;
        var bytes = GC.GetTotalAllocatedBytes(precise: false) - bytes0;
        return new Sample(received, sw.Elapsed.TotalSeconds, cpu.TotalSeconds, bytes);
    }

    /// <summary>Writes batches of 256 messages until <paramref name="stopAt"/>; returns the messages received back.</summary>
    private static async Task<long> OursBidiAsync(GrpcChannel channel, EchoRequest request, long stopAt)
    {
        using var call = channel.DuplexStreaming(s_bidi);
        var reader = Task.Run(async () =>
        {
            long n = 0;
            while (await call.ResponseStream.MoveNext().ConfigureAwait(false))
            {
                n++;
            }
            return n;
        });
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            for (var i = 0; i < 256; i++)
            {
                await call.RequestStream.WriteAsync(request).ConfigureAwait(false);
            }
        }
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        return await reader.ConfigureAwait(false);
    }

    /// <summary>
    /// The least an HttpClient-based gRPC client must do: a fresh request message with the protocol headers, a framed
    /// body, ResponseHeadersRead, the framed response parsed, grpc-status read from the trailers. No deadlines,
    /// metadata, cancellation or error mapping.
    /// </summary>
    internal sealed class BareClient : IDisposable
    {
        private readonly HttpMessageInvoker _invoker;
        private readonly Uri _unary;
        private readonly Uri _bidi;

        public BareClient(string address)
        {
            _invoker = new HttpMessageInvoker(new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                AllowAutoRedirect = false,
            });
            _unary = new Uri(address.TrimEnd('/') + "/bare/UnaryEcho");
            _bidi = new Uri(address.TrimEnd('/') + "/bare/Bidi");
        }

        private HttpRequestMessage Create(Uri uri, HttpContent content)
        {
            var message = new HttpRequestMessage(HttpMethod.Post, uri)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = content,
            };
            message.Headers.TryAddWithoutValidation("te", "trailers");
            content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
            return message;
        }

        public async Task UnaryAsync(EchoRequest request)
        {
            var size = request.CalculateSize();
            var body = new byte[5 + size];
            BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), (uint)size);
            request.WriteTo(body.AsSpan(5));
            using var message = Create(_unary, new ByteArrayContent(body));
            using var response = await _invoker.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
            var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            var buffer = ArrayPool<byte>.Shared.Rent(4096);
            var filled = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(filled)).ConfigureAwait(false)) > 0)
            {
                filled += read;
            }
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(1));
            _ = EchoResponse.Parser.ParseFrom(buffer.AsSpan(5, length));
            ArrayPool<byte>.Shared.Return(buffer);
            if (!response.TrailingHeaders.NonValidated.TryGetValues("grpc-status", out var status) || status.ToString() != "0")
            {
                throw new InvalidOperationException("bare call failed");
            }
        }

        public async Task<long> BidiAsync(EchoRequest request, long stopAt)
        {
            var size = request.CalculateSize();
            var framed = new byte[5 + size];
            BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)size);
            request.WriteTo(framed.AsSpan(5));
            var content = new BidiContent(framed, stopAt);
            using var message = Create(_bidi, content);
            using var response = await _invoker.SendAsync(message, CancellationToken.None).ConfigureAwait(false);
            var stream = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            var buffer = new byte[64 * 1024];
            int start = 0, end = 0;
            long n = 0;
            while (true)
            {
                while (end - start >= 5)
                {
                    var length = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(start + 1));
                    if (end - start < 5 + length)
                    {
                        break;
                    }
                    _ = EchoResponse.Parser.ParseFrom(buffer.AsSpan(start + 5, length));
                    start += 5 + length;
                    n++;
                }
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
                var read = await stream.ReadAsync(buffer.AsMemory(end)).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                end += read;
            }
            return n;
        }

        public void Dispose() => _invoker.Dispose();
    }

    /// <summary>Writes the framed message in batches of 256 (one write + flush per message, as a client would).</summary>
    private sealed class BidiContent(byte[] framed, long stopAt) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                for (var i = 0; i < 256; i++)
                {
                    await stream.WriteAsync(framed).ConfigureAwait(false);
                    await stream.FlushAsync().ConfigureAwait(false);
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
