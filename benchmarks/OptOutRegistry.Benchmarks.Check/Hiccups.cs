using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// A platform hiccup meter (what jHiccup is for the JVM): one thread pinned to each CPU sleeps a fixed interval again and
/// again and records how much later than asked it woke. A thread that wakes late was not given its CPU — because other
/// threads ran there, or because the hypervisor did not run the virtual CPU at all. When every CPU's thread is late over
/// the same stretch of time, nothing in the machine ran: that stretch is a stall of the whole (virtual) machine, which no
/// server or client code can answer within. Run it on an idle machine to measure the platform alone, or beside a latency
/// run to see how much of that run's tail fell in stalls. The meters ask for real-time scheduling (SCHED_FIFO, needs root
/// or CAP_SYS_NICE) so that, beside a load, they preempt every ordinary thread at once and their lateness is the platform's,
/// not the load's; without it (printed as realtime=no) lateness beside a load also counts time spent behind busy threads.
/// Costs one wake-up per CPU per interval.
/// </summary>
internal static class Hiccups
{
    /// <summary>Lateness below this is ordinary wake-up cost (tens of µs on this VM), not a hiccup.</summary>
    private const long HiccupThresholdNs = 500_000;

    public static int Run(double seconds, int intervalMicroseconds)
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("hiccups: needs Linux (sched_setaffinity, nanosleep)");
            return 2;
        }

        var cpus = Environment.ProcessorCount;
        var meters = new Meter[cpus];
        var realtime = true;
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var threads = new Thread[cpus];
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            var meter = meters[cpu] = new Meter(cpu, intervalMicroseconds * 1000L);
            threads[cpu] = new Thread(() =>
            {
                if (!Native.TryRealtime())
                {
                    realtime = false;
                }

                meter.Run(end);
            })
            { IsBackground = true, Name = $"hiccups cpu{cpu}" };
            threads[cpu].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        // A stall of the whole machine: every CPU's meter was late over the same time (intersection of the late intervals).
        var allLate = meters[0].Late;
        for (var i = 1; i < cpus; i++)
        {
            allLate = Intersect(allLate, meters[i].Late);
        }

        var wall = seconds * 1e9;
        var perCpuLate = meters.Sum(m => m.Late.Sum(l => l.End - l.Start)) / (double)cpus;
        var machineLate = allLate.Sum(l => l.End - l.Start);
        var longestMachine = allLate.Count == 0 ? 0 : allLate.Max(l => l.End - l.Start);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv,
            $"hiccups\tseconds={seconds:F0}\tcpus={cpus}\tinterval_us={intervalMicroseconds}\trealtime={(realtime ? "yes" : "no")}\tsamples={meters.Sum(m => m.Samples)}\tlate_over_1ms={meters.Sum(m => m.Over1Ms)}\tlate_over_2ms={meters.Sum(m => m.Over2Ms)}\tlate_over_5ms={meters.Sum(m => m.Over5Ms)}\tmax_late_ms={meters.Max(m => m.MaxLateNs) / 1e6:F1}\tcpu_late_share={perCpuLate / wall:P2}\tmachine_stalls={allLate.Count}\tmachine_stalled_share={machineLate / wall:P2}\tmachine_stalled_ms_per_s={machineLate / 1e6 / seconds:F1}\tlongest_machine_stall_ms={longestMachine / 1e6:F1}"));
        return 0;
    }

    /// <summary>The overlap of two sorted, non-overlapping interval lists.</summary>
    private static List<(long Start, long End)> Intersect(List<(long Start, long End)> a, List<(long Start, long End)> b)
    {
        var result = new List<(long, long)>();
        int i = 0, j = 0;
        while (i < a.Count && j < b.Count)
        {
            var start = Math.Max(a[i].Start, b[j].Start);
            var end = Math.Min(a[i].End, b[j].End);
            if (start < end)
            {
                result.Add((start, end));
            }

            if (a[i].End < b[j].End)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return result;
    }

    private sealed class Meter(int cpu, long intervalNs)
    {
        public List<(long Start, long End)> Late { get; } = [];

        public long Samples { get; private set; }

        public long Over1Ms { get; private set; }

        public long Over2Ms { get; private set; }

        public long Over5Ms { get; private set; }

        public long MaxLateNs { get; private set; }

        public void Run(long endTimestamp)
        {
            Native.PinToCpu(cpu);
            Native.ReduceTimerSlack();
            var ticksToNs = 1e9 / Stopwatch.Frequency;
            while (true)
            {
                var before = Stopwatch.GetTimestamp();
                if (before >= endTimestamp)
                {
                    return;
                }

                Native.Sleep(intervalNs);
                var after = Stopwatch.GetTimestamp();
                var late = (long)((after - before) * ticksToNs) - intervalNs;
                Samples++;
                MaxLateNs = Math.Max(MaxLateNs, late);
                Over1Ms += late > 1_000_000 ? 1 : 0;
                Over2Ms += late > 2_000_000 ? 1 : 0;
                Over5Ms += late > 5_000_000 ? 1 : 0;
                if (late > HiccupThresholdNs)
                {
                    // The thread should have run from before+interval on; it did not until after.
                    var dueNs = (long)(before * ticksToNs) + intervalNs;
                    Late.Add((dueNs, (long)(after * ticksToNs)));
                }
            }
        }
    }

    private static class Native
    {
        private const int PrSetTimerSlack = 29;

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [DllImport("libc", EntryPoint = "nanosleep")]
        private static extern int NanoSleep(ref Timespec request, IntPtr remaining);

        [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
        private static extern int SchedSetAffinity(int pid, nuint size, ref ulong mask);

        [DllImport("libc", EntryPoint = "sched_setscheduler")]
        private static extern int SchedSetScheduler(int pid, int policy, ref int priority);

        [DllImport("libc", EntryPoint = "prctl")]
        private static extern int Prctl(int option, nuint value, nuint a3, nuint a4, nuint a5);

        public static void Sleep(long nanoseconds)
        {
            var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            _ = NanoSleep(ref request, IntPtr.Zero);
        }

        /// <summary>Pins the calling thread (pid 0 = this thread) to one CPU, so each meter watches its own CPU.</summary>
        public static void PinToCpu(int cpu)
        {
            var mask = 1UL << cpu;
            if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0)
            {
                throw new InvalidOperationException($"sched_setaffinity(cpu {cpu}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        /// <summary>SCHED_FIFO at the lowest real-time priority for the calling thread; false when not permitted.</summary>
        public static bool TryRealtime()
        {
            const int SchedFifo = 1;
            var priority = 1;
            return SchedSetScheduler(0, SchedFifo, ref priority) == 0;
        }

        /// <summary>The default 50 µs timer slack would read as lateness; 1 ns asks the kernel to wake us on time.</summary>
        public static void ReduceTimerSlack() => _ = Prctl(PrSetTimerSlack, 1, 0, 0, 0);
    }
}
