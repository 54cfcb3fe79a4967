using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using OptOutRegistry.Grpc;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>
/// Which types a client call allocates: the runtime's GC AllocationTick event fires about every 100 KB allocated and
/// names the type that crossed the mark, so over many calls the tick counts are proportional to bytes by type.
/// Runs our client or the bare HttpClient (same work as <see cref="ClientCompare"/>) and prints the top types.
/// </summary>
public static class AllocationCensus
{
    private sealed class TickListener : EventListener
    {
        public ConcurrentDictionary<string, long> Ticks { get; } = new();

        public volatile bool Enabled;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                // GC keyword (0x1), verbose level: AllocationTick_V4.
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!Enabled || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null)
            {
                return;
            }
            var index = e.PayloadNames.IndexOf("TypeName");
            if (index >= 0 && e.Payload![index] is string type)
            {
                Ticks.AddOrUpdate(type, 1, static (_, n) => n + 1);
            }
        }
    }

    public static async Task RunAsync(string address, string which, int calls, int concurrency)
    {
        using var listener = new TickListener();
        // "ours" = our client on its own HTTP/2 transport, "ours-httpclient" = our client on HttpClient, "bare" = bare HttpClient.
        using var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            Transport = which == "ours-httpclient" ? GrpcTransport.HttpClient : GrpcTransport.Http2,
        });
        var method = Method<EchoRequest, EchoResponse>.Create(InteropTestReflection.Descriptor.Services[0], "UnaryEcho");
        var request = LoadClient.SmallRequest();
        var bare = new ClientCompare.BareClient(address);
        Func<Task> call = which == "bare" ? () => bare.UnaryAsync(request) : () => channel.UnaryAsync(method, request);
        for (var i = 0; i < 2000; i++)
        {
            await call();
        }
        listener.Enabled = true;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var tasks = new Task[concurrency];
        for (var t = 0; t < tasks.Length; t++)
        {
            tasks[t] = Task.Run(async () =>
            {
                for (var i = 0; i < calls / tasks.Length; i++)
                {
                    await call();
                }
            });
        }
        await Task.WhenAll(tasks);
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
        listener.Enabled = false;
        var total = listener.Ticks.Values.Sum();
        Console.WriteLine($"{which}: {calls} calls, {concurrency} concurrent, {(double)bytes / calls:F0} B/call; share of allocation ticks by type ({total} ticks):");
        foreach (var (type, n) in listener.Ticks.OrderByDescending(kv => kv.Value).Take(30))
        {
            Console.WriteLine($"  {100.0 * n / total,5:F1}%  ~{(double)bytes / calls * n / total,5:F0} B/call  {type}");
        }
        bare.Dispose();
    }
}
