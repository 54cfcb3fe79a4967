using System.Diagnostics.Tracing;

namespace OptOutRegistry.Testing;

/// <summary>
/// The runtime's thread-pool adjustment events (keyword Threading) in this process: counts the adjustments made for
/// starvation (reason 6), which is what a host without enough pool threads waits for. Shared by the headroom tests of
/// Security.Tests (TemporaryServer) and Grpc.Tests (their own Kestrel hosts).
/// </summary>
internal sealed class PoolAdjustmentListener : EventListener
{
    private const int StarvationReason = 6;
    private readonly List<string> _seen = [];
    private int _starvations;

    public int Starvations => Volatile.Read(ref _starvations);

    public string Describe()
    {
        lock (_seen)
        {
            return string.Join("; ", _seen);
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)0x10000);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName != "ThreadPoolWorkerThreadAdjustmentAdjustment" || eventData.PayloadNames is not { } names)
        {
            return;
        }

        var reason = Convert.ToInt32(eventData.Payload![names.IndexOf("Reason")], System.Globalization.CultureInfo.InvariantCulture);
        var count = eventData.Payload[names.IndexOf("NewWorkerThreadCount")];
        lock (_seen)
        {
            _seen.Add($"{eventData.TimeStamp:HH:mm:ss.fff} reason {reason} -> {count} threads");
        }

        if (reason == StarvationReason)
        {
            Interlocked.Increment(ref _starvations);
        }
    }
}
