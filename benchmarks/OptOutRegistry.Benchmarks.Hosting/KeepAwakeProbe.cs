using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Benchmarks.Hosting;

/// <summary>
/// <c>keep-awake --method none|pm-qos|pause|plain [--seconds S] [--gc-probe 1]</c>: keeps this machine's CPUs awake the
/// way a <c>--keep-cpus-awake</c> method would, without a server, for S seconds (10), so the platform's lateness can be
/// measured beside it (run <c>Benchmarks.Check.dll hiccups</c> at the same time), and prints what the method cost.
/// <list type="bullet">
/// <item><c>pm-qos</c>: holds a CPU latency request of 0 µs on /dev/cpu_dma_latency (what the server's pm-qos method does).</item>
/// <item><c>pause</c>: a SCHED_IDLE thread pinned to each CPU runs <c>Thread.SpinWait(1024)</c> slices (PAUSE instructions,
/// outside managed code: what the server's spin method does).</item>
/// <item><c>plain</c>: the same threads run a managed loop of volatile reads without PAUSE (no pause-loop exits, but
/// the loop runs in cooperative mode: a garbage collection must wait until the thread runs to suspend it).</item>
/// </list>
/// Per spinner it reports slices per second and the gaps in its timeline (two consecutive clock reads more than 200 µs
/// apart: the thread or its vCPU did not run), the spinners' CPU time, and the hypervisor steal over the run
/// (/proc/stat). <c>--gc-probe 1</c>: the main thread also runs a gen-0 collection every 20 ms and reports how long each
/// took, the time a garbage collection needs to stop the spinners when busy threads starve them (start a normal-priority
/// busy loop per CPU beside it to see that).
/// </summary>
internal static class KeepAwakeProbe
{
    private const int SliceIterations = 1024;
    private const int PlainIterations = 1 << 14;
    private static readonly long GapTicks = Stopwatch.Frequency / 5000; // 200 µs
    private static int _stop;
    private static int _plainSink;

    public static int Run(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        var method = options.GetValueOrDefault("method", "none");
        var seconds = double.Parse(options.GetValueOrDefault("seconds", "10"), CultureInfo.InvariantCulture);
        var gcProbe = options.GetValueOrDefault("gc-probe") == "1";
        if (method is not ("none" or "pm-qos" or "pause" or "plain"))
        {
            Console.Error.WriteLine("keep-awake: --method must be none, pm-qos, pause or plain");
            return 2;
        }

        var stealBefore = StealTicks();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        FileStream? qos = null;
        if (method == "pm-qos")
        {
            qos = new FileStream("/dev/cpu_dma_latency", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            Span<byte> zero = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(zero, 0);
            qos.Write(zero);
        }

        var cpus = Environment.ProcessorCount;
        var stats = new SpinStats[cpus];
        var threads = new List<Thread>();
        if (method is "pause" or "plain")
        {
            for (var cpu = 0; cpu < cpus; cpu++)
            {
                var c = cpu;
                stats[c] = new SpinStats();
                var thread = new Thread(() => Spin(c, method == "pause", stats[c])) { IsBackground = true, Name = "probe-spin-" + c };
                thread.Start();
                threads.Add(thread);
            }
        }

        var pauses = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            if (gcProbe)
            {
                var start = Stopwatch.GetTimestamp();
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                pauses.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                Thread.Sleep(20);
            }
            else
            {
                Thread.Sleep(100);
            }
        }

        Volatile.Write(ref _stop, 1);
        foreach (var thread in threads)
        {
            thread.Join();
        }

        qos?.Dispose();
        var wall = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var stealMs = (StealTicks() - stealBefore) * 1000.0 / 100; // USER_HZ is 100 on Linux
        var line = $"method={method}\tseconds={wall:F1}\tprocess_cpu_s={cpuSeconds:F2}\tsteal_ms={stealMs:F0}";
        if (threads.Count > 0)
        {
            line += $"\tslices_per_s={stats.Sum(s => s.Slices) / wall:F0}\tgaps_over_200us={stats.Sum(s => s.Gaps)}\tgap_ms={stats.Sum(s => s.GapTicks) * 1000.0 / Stopwatch.Frequency:F1}\tmax_gap_ms={stats.Max(s => s.MaxGapTicks) * 1000.0 / Stopwatch.Frequency:F2}";
        }

        if (pauses.Count > 0)
        {
            pauses.Sort();
            line += $"\tgc_count={pauses.Count}\tgc_p50_ms={pauses[pauses.Count / 2]:F2}\tgc_p99_ms={pauses[(int)(pauses.Count * 0.99)]:F2}\tgc_max_ms={pauses[^1]:F2}";
        }

        Console.WriteLine(line);
        return 0;
    }

    private sealed class SpinStats
    {
        public long Slices;
        public long Gaps;
        public long GapTicks;
        public long MaxGapTicks;
    }

    private static void Spin(int cpu, bool pause, SpinStats stats)
    {
        var mask = new byte[128];
        mask[cpu >> 3] = (byte)(1 << (cpu & 7));
        if (SchedSetAffinity(0, (nuint)mask.Length, mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity: errno {Marshal.GetLastPInvokeError()}");
        }

        var priority = 0;
        if (SchedSetScheduler(0, 5, ref priority) != 0)
        {
            throw new InvalidOperationException($"sched_setscheduler SCHED_IDLE: errno {Marshal.GetLastPInvokeError()}");
        }

        var last = Stopwatch.GetTimestamp();
        long slices = 0, gaps = 0, gapTicks = 0, maxGap = 0;
        while (Volatile.Read(ref _stop) == 0)
        {
            if (pause)
            {
                Thread.SpinWait(SliceIterations);
            }
            else
            {
                PlainSlice();
            }

            var now = Stopwatch.GetTimestamp();
            var gap = now - last;
            if (gap > GapTicks)
            {
                gaps++;
                gapTicks += gap;
                maxGap = Math.Max(maxGap, gap);
            }

            last = now;
            slices++;
        }

        (stats.Slices, stats.Gaps, stats.GapTicks, stats.MaxGapTicks) = (slices, gaps, gapTicks, maxGap);
    }

    // A loop of volatile reads: no PAUSE, no call, so the JIT compiles it fully interruptible and a collection has to
    // interrupt this thread (a signal it handles only when it runs) to stop it.
    private static void PlainSlice()
    {
        var sum = 0;
        for (var i = 0; i < PlainIterations; i++)
        {
            sum += Volatile.Read(ref _stop);
        }

        _plainSink = sum;
    }

    private static long StealTicks()
    {
        // "cpu  user nice system idle iowait irq softirq steal ..." (proc(5)): the 8th number.
        var first = File.ReadLines("/proc/stat").First();
        var fields = first.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(fields[8], CultureInfo.InvariantCulture);
    }

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SchedSetScheduler(int pid, int policy, ref int priority);
}
