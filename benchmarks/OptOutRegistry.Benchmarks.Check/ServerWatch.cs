using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// Watches a running server over EventPipe (its diagnostic socket, as dotnet-trace does) while a load runs, to show where
/// a latency tail comes from without trusting wall-clock percentiles on a loaded machine: every GC's pause (from the
/// runtime's SuspendEE begin to RestartEE end), its generation, the bytes allocated (AllocationTick events, one per
/// ~100 KB), thread-pool thread injections, and the server-side time of each request (Kestrel's RequestStart to
/// RequestStop: headers parsed to response complete).
/// </summary>
internal sealed class ServerWatch : IDisposable
{
    private const string Runtime = "Microsoft-Windows-DotNETRuntime";
    private const string Kestrel = "Microsoft-AspNetCore-Server-Kestrel";
    private const long GcKeyword = 0x1;
    private const long ThreadingKeyword = 0x10000;

    private readonly EventPipeSession _session;
    private readonly EventPipeEventSource _source;
    private readonly Task _processing;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, double> _requestStarts = new(StringComparer.Ordinal);
    private readonly List<double> _requestMs = [];
    private readonly List<double> _pausesMs = [];
    private readonly int[] _gcByGeneration = new int[3];
    private double _suspendStartMs = -1;
    private long _allocatedBytes;
    private int _threadAdjustments;
    private int _maxWorkerThreads;
    private bool _recording;

    private ServerWatch(EventPipeSession session)
    {
        _session = session;
        _source = new EventPipeEventSource(session.EventStream);
        _source.Dynamic.All += OnKestrelEvent;
        _source.Clr.GCSuspendEEStart += data => Record(() => _suspendStartMs = data.TimeStampRelativeMSec);
        _source.Clr.GCRestartEEStop += data => Record(() =>
        {
            if (_suspendStartMs >= 0)
            {
                _pausesMs.Add(data.TimeStampRelativeMSec - _suspendStartMs);
                _suspendStartMs = -1;
            }
        });
        _source.Clr.GCStart += data => Record(() => _gcByGeneration[Math.Clamp(data.Depth, 0, 2)]++);
        _source.Clr.GCAllocationTick += data => Record(() => _allocatedBytes += data.AllocationAmount64);
        _source.Clr.ThreadPoolWorkerThreadAdjustmentAdjustment += data => Record(() =>
        {
            _threadAdjustments++;
            _maxWorkerThreads = Math.Max(_maxWorkerThreads, data.NewWorkerThreadCount);
        });
        _processing = Task.Run(() =>
        {
            try
            {
                _source.Process();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or EndOfStreamException)
            {
                // The session was stopped or the server exited.
            }
        });
    }

    /// <summary>Attaches to the server process; null (with the reason printed) when it cannot.</summary>
    public static ServerWatch? TryAttach(int processId)
    {
        try
        {
            var client = new DiagnosticsClient(processId);
            EventPipeProvider[] providers =
            [
                // Verbose GC events include AllocationTick (every ~100 KB allocated).
                new(Runtime, EventLevel.Verbose, GcKeyword | ThreadingKeyword),
                new(Kestrel, EventLevel.Verbose, -1),
            ];
            return new ServerWatch(client.StartEventPipeSession(providers, requestRundown: false));
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or UnsupportedCommandException or IOException or TimeoutException or ServerErrorException)
        {
            Console.Error.WriteLine($"watch: cannot attach to process {processId}: {ex.Message}");
            return null;
        }
    }

    /// <summary>Starts counting (events before this, e.g. the warm-up, are ignored).</summary>
    public void Start()
    {
        lock (_lock)
        {
            _recording = true;
        }
    }

    /// <summary>Stops the session and prints the summary; allocations per call of <paramref name="calls"/>, or per request Kestrel saw when 0.</summary>
    public void Report(long calls)
    {
        // Events arrive with a delay of up to a second (EventPipe buffers): let them drain before stopping.
        Thread.Sleep(1500);
        Stop();
        lock (_lock)
        {
            _pausesMs.Sort();
            _requestMs.Sort();
            var pauseTotal = 0.0;
            var over1 = 0;
            foreach (var p in _pausesMs)
            {
                pauseTotal += p;
                over1 += p > 1 ? 1 : 0;
            }

            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv,
                $"  server_gc\tgen0={_gcByGeneration[0]}\tgen1={_gcByGeneration[1]}\tgen2={_gcByGeneration[2]}\tpause_total_ms={pauseTotal:F1}\tpause_max_ms={(_pausesMs.Count > 0 ? _pausesMs[^1] : 0):F2}\tpause_p50_ms={Quantile(_pausesMs, 0.5):F2}\tpauses_over_1ms={over1}\tallocated_bytes_per_request={_allocatedBytes / (double)Math.Max(1, calls > 0 ? calls : _requestMs.Count):F0}"));
            Console.WriteLine(string.Create(inv,
                $"  server_requests\tcount={_requestMs.Count}\tp50_ms={Quantile(_requestMs, 0.5):F3}\tp90_ms={Quantile(_requestMs, 0.9):F3}\tp99_ms={Quantile(_requestMs, 0.99):F3}\tp999_ms={Quantile(_requestMs, 0.999):F3}\tmax_ms={(_requestMs.Count > 0 ? _requestMs[^1] : 0):F3}"));
            Console.WriteLine(string.Create(inv, $"  server_threadpool\tadjustments={_threadAdjustments}\tmax_worker_threads={_maxWorkerThreads}"));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop();
        _source.Dispose();
        _session.Dispose();
    }

    private static double Quantile(List<double> sorted, double q) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * q))];

    private void Stop()
    {
        try
        {
            _session.Stop();
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or IOException or TimeoutException or ServerErrorException or ObjectDisposedException)
        {
            // Already stopped, or the server is gone.
        }

        _processing.Wait(TimeSpan.FromSeconds(10));
    }

    private void Record(Action update)
    {
        lock (_lock)
        {
            if (_recording)
            {
                update();
            }
        }
    }

    private void OnKestrelEvent(TraceEvent data)
    {
        // RequestStart = 3, RequestStop = 4 (KestrelEventSource), paired by the request id.
        if (data.ProviderName != Kestrel || (int)data.ID is not (3 or 4) || data.PayloadByName("requestId") is not string id)
        {
            return;
        }

        var at = data.TimeStampRelativeMSec;
        var isStart = (int)data.ID == 3;
        Record(() =>
        {
            if (isStart)
            {
                _requestStarts[id] = at;
            }
            else if (_requestStarts.Remove(id, out var started))
            {
                _requestMs.Add(at - started);
            }
        });
    }
}
