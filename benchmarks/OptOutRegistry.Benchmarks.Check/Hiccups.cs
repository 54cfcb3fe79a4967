using System.Diagnostics;
using System.Globalization;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// A platform hiccup meter (what jHiccup is for the JVM): one thread pinned to each CPU sleeps a fixed interval again and
/// again and records how much later than asked it woke. A thread that wakes late was not given its CPU — because other
/// threads ran there, or because the hypervisor did not run the virtual CPU at all. When every CPU's thread is late over
/// the same stretch of time, nothing in the machine ran: that stretch is a stall of the whole (virtual) machine, which no
/// server or client code can answer within. Run it on an idle machine to measure the platform alone (<c>hiccups</c> mode),
/// or inside the <c>lean</c> generator (<c>--hiccups 1</c>) to see how much of a run's tail fell in such stalls.
/// The meters ask for real-time scheduling (SCHED_FIFO, needs root or CAP_SYS_NICE) so that, beside a load, they preempt
/// every ordinary thread at once and their lateness is the platform's, not the load's; without it (printed as
/// realtime=no) lateness beside a load also counts time spent behind busy threads. Costs one wake-up per CPU per interval.
/// </summary>
internal sealed class HiccupMeter
{
    /// <summary>Lateness below this is ordinary wake-up cost (tens of µs on this VM), not a hiccup.</summary>
    private static readonly long HiccupThreshold = Stopwatch.Frequency / 2000; // 0.5 ms

    private readonly Meter[] _meters;
    private readonly Thread[] _threads;
    private readonly long _stealAtStart = HypervisorSteal.ReadTicks();
    private long _stopAt = long.MaxValue;
    private int _notRealtime;

    private HiccupMeter(int intervalMicroseconds)
    {
        var cpus = Environment.ProcessorCount;
        _meters = new Meter[cpus];
        _threads = new Thread[cpus];
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            var meter = _meters[cpu] = new Meter(cpu, intervalMicroseconds * 1000L);
            _threads[cpu] = new Thread(() =>
            {
                if (!LinuxNative.TryRealtime())
                {
                    Interlocked.Exchange(ref _notRealtime, 1);
                }

                meter.Run(ref _stopAt);
            })
            { IsBackground = true, Name = $"hiccups cpu{cpu}" };
        }
    }

    /// <summary>Late intervals (Stopwatch timestamps) when every CPU's meter was late at once: the machine did not run.</summary>
    public List<(long Start, long End)> MachineStalls { get; private set; } = [];

    /// <summary>
    /// Late intervals when at least one CPU's meter was late: that CPU did not run its real-time thread, so whatever thread
    /// was on it (a server's socket thread, the client) was frozen too — a running thread cannot move to another CPU.
    /// </summary>
    public List<(long Start, long End)> CpuStalls { get; private set; } = [];

    /// <summary>Starts one meter thread per CPU; Linux only.</summary>
    public static HiccupMeter Start(int intervalMicroseconds)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("hiccups: needs Linux (sched_setaffinity, nanosleep)");
        }

        var meter = new HiccupMeter(intervalMicroseconds);
        foreach (var thread in meter._threads)
        {
            thread.Start();
        }

        return meter;
    }

    /// <summary>Stops the meters and returns one line of figures over <paramref name="seconds"/> of wall time.</summary>
    public string Stop(double seconds)
    {
        Volatile.Write(ref _stopAt, 0);
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        var allLate = _meters[0].Late;
        for (var i = 1; i < _meters.Length; i++)
        {
            allLate = Intersect(allLate, _meters[i].Late);
        }

        MachineStalls = allLate;
        CpuStalls = Union(_meters.Select(m => m.Late));
        var wall = seconds * Stopwatch.Frequency;
        var perCpuLate = _meters.Sum(m => m.Late.Sum(l => l.End - l.Start)) / (double)_meters.Length;
        var machineLate = allLate.Sum(l => l.End - l.Start);
        var longest = allLate.Count == 0 ? 0 : allLate.Max(l => l.End - l.Start);
        double Ms(double ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        var steal = HypervisorSteal.Describe(_stealAtStart, seconds, _meters.Length);
        return string.Create(CultureInfo.InvariantCulture,
            $"realtime={(_notRealtime == 0 ? "yes" : "no")}\tsamples={_meters.Sum(m => m.Samples)}\tlate_over_1ms={_meters.Sum(m => m.Over1Ms)}\tlate_over_2ms={_meters.Sum(m => m.Over2Ms)}\tlate_over_5ms={_meters.Sum(m => m.Over5Ms)}\tmax_late_ms={Ms(_meters.Max(m => m.MaxLate)):F1}\tcpu_late_share={perCpuLate / wall:P2}\tmachine_stalls={allLate.Count}\tmachine_stalled_share={machineLate / wall:P2}\tlongest_machine_stall_ms={Ms(longest):F1}\t{steal}");
    }

    /// <summary>
    /// The <c>hiccups</c> mode: the meter alone for <paramref name="seconds"/>. With <paramref name="busyCpus"/>, a
    /// SCHED_IDLE thread pinned to each CPU spins meanwhile, so no virtual CPU ever halts: the real-time meters preempt the
    /// spinners at once, so any lateness left is the hypervisor not running a vCPU that was busy. The difference between
    /// the two runs is the cost of waking a halted vCPU (round seven, RESULTS.md).
    /// </summary>
    public static int Run(double seconds, int intervalMicroseconds, bool busyCpus = false)
    {
        using var spinners = busyCpus ? IdleSpinners.Start() : null;
        var meter = Start(intervalMicroseconds);
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var figures = meter.Stop(seconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hiccups\tseconds={seconds:F0}\tcpus={Environment.ProcessorCount}\tinterval_us={intervalMicroseconds}\tbusy_cpus={(busyCpus ? "yes" : "no")}\t{figures}"));
        return 0;
    }

    /// <summary>One SCHED_IDLE busy loop pinned to each CPU: it runs only when nothing else wants that CPU.</summary>
    private sealed class IdleSpinners : IDisposable
    {
        private readonly Thread[] _threads;
        private volatile bool _stop;

        private IdleSpinners()
        {
            _threads = new Thread[Environment.ProcessorCount];
            for (var cpu = 0; cpu < _threads.Length; cpu++)
            {
                var pinned = cpu;
                _threads[cpu] = new Thread(() =>
                {
                    LinuxNative.PinToCpu(pinned);
                    if (!LinuxNative.TrySchedIdle())
                    {
                        // At normal priority the spinner would compete with the meters and the machine's work.
                        throw new InvalidOperationException("hiccups --busy-cpus: sched_setscheduler(SCHED_IDLE) failed");
                    }

                    while (!_stop)
                    {
                        Thread.SpinWait(64);
                    }
                })
                { IsBackground = true, Name = $"idle spin cpu{cpu}" };
            }
        }

        public static IdleSpinners Start()
        {
            var spinners = new IdleSpinners();
            foreach (var thread in spinners._threads)
            {
                thread.Start();
            }

            return spinners;
        }

        public void Dispose()
        {
            _stop = true;
            foreach (var thread in _threads)
            {
                thread.Join();
            }
        }
    }

    /// <summary>The union of sorted, non-overlapping interval lists, as one sorted, non-overlapping list.</summary>
    private static List<(long Start, long End)> Union(IEnumerable<List<(long Start, long End)>> lists)
    {
        var all = lists.SelectMany(l => l).OrderBy(l => l.Start).ToList();
        var result = new List<(long Start, long End)>();
        foreach (var (start, end) in all)
        {
            if (result.Count > 0 && start <= result[^1].End)
            {
                result[^1] = (result[^1].Start, Math.Max(result[^1].End, end));
            }
            else
            {
                result.Add((start, end));
            }
        }

        return result;
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

        public long MaxLate { get; private set; }

        public void Run(ref long stopAt)
        {
            LinuxNative.PinToCpu(cpu);
            LinuxNative.ReduceTimerSlack();
            var interval = intervalNs * Stopwatch.Frequency / 1_000_000_000;
            var oneMs = Stopwatch.Frequency / 1000;
            while (true)
            {
                var before = Stopwatch.GetTimestamp();
                if (before >= Volatile.Read(ref stopAt))
                {
                    return;
                }

                LinuxNative.Sleep(intervalNs);
                var after = Stopwatch.GetTimestamp();
                var late = after - before - interval;
                Samples++;
                MaxLate = Math.Max(MaxLate, late);
                Over1Ms += late > oneMs ? 1 : 0;
                Over2Ms += late > 2 * oneMs ? 1 : 0;
                Over5Ms += late > 5 * oneMs ? 1 : 0;
                if (late > HiccupThreshold)
                {
                    // The thread should have run from before + interval on; it did not until after.
                    Late.Add((before + interval, after));
                }
            }
        }
    }
}
