using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// Where a running server's managed CPU goes: EventPipe's sample profiler (every thread's stack every ~1 ms) for a few
/// seconds while another client loads it, then the methods that were on top of the stack (exclusive) and anywhere on it
/// (inclusive) in samples the runtime marks as managed. Those include threads parked in a managed wait (a pool worker
/// waiting for work shows as <c>WorkerThreadStart</c>), so this says where threads were, not where CPU went; kernel time
/// (system calls, wake-ups) is not attributed.
/// </summary>
internal static class Profile
{
    /// <param name="focus">Optional: for samples whose top frame contains this text, also print the callers (three frames up).</param>
    public static int Run(int processId, double seconds, int top, string? focus)
    {
        var path = Path.Combine(Path.GetTempPath(), $"optout-profile-{processId}-{Environment.ProcessId}.nettrace");
        var client = new DiagnosticsClient(processId);
        EventPipeProvider[] providers =
        [
            new("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
            new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, (long)(ClrTraceEventParser.Keywords.Jit | ClrTraceEventParser.Keywords.Loader | ClrTraceEventParser.Keywords.JittedMethodILToNativeMap)),
        ];
        using (var session = client.StartEventPipeSession(providers, requestRundown: true))
        {
            using var file = File.Create(path);
            var copy = session.EventStream.CopyToAsync(file);
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
            session.Stop();
            copy.Wait();
        }

        var etlx = TraceLog.CreateFromEventPipeDataFile(path);
        var exclusive = new Dictionary<string, int>(StringComparer.Ordinal);
        var inclusive = new Dictionary<string, int>(StringComparer.Ordinal);
        var samples = 0;
        var focused = new Dictionary<string, int>(StringComparer.Ordinal);
        using (var log = new TraceLog(etlx))
        {
            foreach (var e in log.Events)
            {
                if (e.ProviderName != "Microsoft-DotNETCore-SampleProfiler" || e.PayloadNames.Length == 0 || Convert.ToInt32(e.PayloadValue(0), System.Globalization.CultureInfo.InvariantCulture) != 2)
                {
                    continue; // type 2: the thread was running managed code; 1 = external (native or waiting)
                }

                var stack = e.CallStack();
                if (stack is null)
                {
                    continue;
                }

                samples++;
                var leaf = Name(stack);
                exclusive[leaf] = exclusive.GetValueOrDefault(leaf) + 1;
                if (focus is not null && leaf.Contains(focus, StringComparison.Ordinal))
                {
                    var chain = string.Join(" <- ", Callers(stack.Caller, 3));
                    focused[chain] = focused.GetValueOrDefault(chain) + 1;
                }
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var frame = stack; frame is not null; frame = frame.Caller)
                {
                    var name = Name(frame);
                    if (seen.Add(name))
                    {
                        inclusive[name] = inclusive.GetValueOrDefault(name) + 1;
                    }
                }
            }
        }

        File.Delete(path);
        File.Delete(etlx);
        Console.WriteLine($"profile\tmanaged_samples={samples}");
        foreach (var (name, count) in exclusive.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine($"  exclusive\t{100.0 * count / Math.Max(1, samples):F1}%\t{name}");
        }

        foreach (var (name, count) in inclusive.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine($"  inclusive\t{100.0 * count / Math.Max(1, samples):F1}%\t{name}");
        }

        foreach (var (chain, count) in focused.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine($"  callers\t{100.0 * count / Math.Max(1, samples):F1}%\t{chain}");
        }

        return 0;

        static IEnumerable<string> Callers(TraceCallStack? frame, int depth)
        {
            for (; frame is not null && depth > 0; frame = frame.Caller, depth--)
            {
                yield return Name(frame);
            }
        }

        static string Name(TraceCallStack frame)
        {
            var method = frame.CodeAddress.FullMethodName;
            return string.IsNullOrEmpty(method) ? $"{frame.CodeAddress.ModuleName}!?" : $"{frame.CodeAddress.ModuleName}!{method}";
        }
    }
}
