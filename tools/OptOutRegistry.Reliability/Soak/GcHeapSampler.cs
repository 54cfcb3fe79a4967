using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace OptOutRegistry.Reliability.Soak;

/// <summary>
/// Reads another .NET process's runtime counters over EventPipe, as <c>dotnet-counters</c> does: the
/// <c>System.Runtime</c> event source publishes <c>gc-heap-size</c> (MB, the managed heap after the last GC) every
/// interval. Needs the target's diagnostic IPC socket (on by default; <c>DOTNET_EnableDiagnostics=0</c> turns it off).
/// </summary>
public sealed class GcHeapSampler : IDisposable
{
    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Task _processing;
    private long _gcHeapBytes = -1;

    private GcHeapSampler(EventPipeSession session)
    {
        _session = session;
        _source = new EventPipeEventSource(session.EventStream);
        _source.Dynamic.All += OnEvent;
        _processing = Task.Run(() =>
        {
            try
            {
                _source.Process();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or EndOfStreamException)
            {
                // The target exited or the session was stopped.
            }
        });
    }

    /// <summary>The last reported managed heap size in bytes, or null before the first report.</summary>
    public long? GcHeapBytes => Interlocked.Read(ref _gcHeapBytes) is var value && value >= 0 ? value : null;

    /// <summary>Attaches to <paramref name="processId"/>; null (with the reason) when the process cannot be attached to.</summary>
    public static GcHeapSampler? TryAttach(int processId, TimeSpan interval, out string? error)
    {
        try
        {
            var client = new DiagnosticsClient(processId);
            var provider = new EventPipeProvider("System.Runtime", EventLevel.Informational, 0,
                new Dictionary<string, string> { ["EventCounterIntervalSec"] = ((int)Math.Max(1, interval.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) });
            var session = client.StartEventPipeSession([provider], requestRundown: false);
            error = null;
            return new GcHeapSampler(session);
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or UnsupportedCommandException or IOException or TimeoutException or ServerErrorException)
        {
            error = ex.Message;
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            _session.Stop();
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or IOException or TimeoutException or ServerErrorException or ObjectDisposedException)
        {
            // The target is gone: nothing to stop.
        }

        _processing.Wait(TimeSpan.FromSeconds(5));
        _source.Dispose();
        _session.Dispose();
    }

    private void OnEvent(TraceEvent data)
    {
        if (data.EventName != "EventCounters" || data.PayloadValue(0) is not IDictionary<string, object> outer
            || outer.TryGetValue("Payload", out var inner) is false || inner is not IDictionary<string, object> fields)
        {
            return;
        }

        if (fields.TryGetValue("Name", out var name) && name is "gc-heap-size" && fields.TryGetValue("Mean", out var mean) && mean is double megabytes)
        {
            Interlocked.Exchange(ref _gcHeapBytes, (long)(megabytes * 1024 * 1024));
        }
    }
}
