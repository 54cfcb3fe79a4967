using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Google.Protobuf;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>
/// The SDK's CheckBatch message code in process, old against new in one run: the same 1,000-URL requests go through
/// a channel whose handler answers at once without a network (one canned 1,000-result response), once with the generated
/// <c>CheckBatchRequest</c>/<c>CheckBatchResponse</c> code (<c>GrpcChannel.UnaryAsync</c> with the plain method: what
/// <c>CheckClient.CheckBatchAsync</c> did before round six) and once through <c>CheckClient.CheckBatchAsync</c> (its
/// <c>CheckBatchRequestWriter</c> and <c>CheckBatchResponseReader</c>). Everything else on the path (framing, the
/// HttpClient-transport call) is the same code for both, so the difference per 1,000 URLs is the request encoding and
/// response reading. Blocks of calls alternate; CPU is the process's.
/// </summary>
internal static class SdkEncode
{
    private const int BatchSize = 1000;

    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> PlainMethod =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckBatch");

    public static async Task RunAsync(string? queriesPath, int rounds)
    {
        var urls = string.IsNullOrEmpty(queriesPath) || queriesPath == "-" ? Synthetic(1_000_000) : File.ReadAllLines(queriesPath);
        var requests = new Pb.CheckBatchRequest[urls.Length / BatchSize];
        for (var b = 0; b < requests.Length; b++)
        {
            var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
            for (var i = 0; i < BatchSize; i++)
            {
                request.Subjects.Add(new Pb.Subject { Url = urls[(b * BatchSize) + i] });
            }

            requests[b] = request;
        }

        var answer = new Pb.CheckBatchResponse();
        for (var i = 0; i < BatchSize; i++)
        {
            answer.Results.Add(new Pb.CheckResult { Verdict = (i & 1) == 0 ? Pb.Verdict.Disallowed : Pb.Verdict.Allowed });
        }

        var framed = new byte[5 + answer.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)(framed.Length - 5));
        answer.WriteTo(framed.AsSpan(5));
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = new Canned(framed), DisposeHttpHandler = true });
        await using var client = new CheckClient(channel);

        var n = 0;
        async Task<(double CpuUs, long Bytes)> Block(bool writer, int calls)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var bytes = GC.GetTotalAllocatedBytes(precise: false);
            for (var c = 0; c < calls; c++)
            {
                var request = requests[n++ % requests.Length];
                var response = writer
                    ? await client.CheckBatchAsync(request)
                    : await channel.UnaryAsync(PlainMethod, request);
                if (response.Results.Count != BatchSize)
                {
                    throw new InvalidOperationException("wrong answer");
                }
            }

            return ((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds, GC.GetTotalAllocatedBytes(precise: false) - bytes);
        }

        // Warm-up: both paths to tier 1 before anything is measured.
        for (var w = 0; w < 6; w++)
        {
            await Block(false, 300);
            await Block(true, 300);
        }

        const int calls = 500;
        for (var r = 1; r <= rounds; r++)
        {
            var (oldUs, oldBytes) = await Block(false, calls);
            var (newUs, newBytes) = await Block(true, calls);
            Console.WriteLine(
                $"sdk-encode\tround={r}\tgenerated_us_per_1000={oldUs / calls:F1}\twriter_us_per_1000={newUs / calls:F1}\tratio={newUs / oldUs:F2}\t" +
                $"generated_bytes_per_call={oldBytes / calls}\twriter_bytes_per_call={newBytes / calls}");
        }
    }

    // The Check benchmark's query shapes (Benchmarks.Check Seed.cs): many hosts, a few path levels, half with a query.
    private static string[] Synthetic(int count)
    {
        var random = new Random(7);
        var urls = new string[count];
        for (var i = 0; i < count; i++)
        {
            var k = random.Next(count);
            urls[i] = (i & 1) == 0
                ? $"https://www.site{k % 50_000}.example/gallery/{k / 50_000}/image-{k}.jpg"
                : $"https://www.site{k % 50_000}.example/gallery/{k / 50_000}/image-{k}.png?size=large";
        }

        return urls;
    }

    /// <summary>Answers every call with the same framed response and grpc-status 0, without reading the request twice.</summary>
    private sealed class Canned(byte[] body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var content = new ByteArrayContent(body);
            content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = content, RequestMessage = request };
            response.TrailingHeaders.TryAddWithoutValidation("grpc-status", "0");
            return Task.FromResult(response);
        }
    }
}
