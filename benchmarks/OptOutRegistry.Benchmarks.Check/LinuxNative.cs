using System.Globalization;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>The Linux calls the load generator and the hiccup meter make: ppoll (used by LeanPoll), thread CPU clocks, timer slack, sleeping, pinning, real-time priority.</summary>
internal static class LinuxNative
{
    /// <summary>POLLIN (poll(2)).</summary>
    internal const short PollIn = 0x1;
    private const int ClockThreadCpuTime = 3;
    private const int PrSetTimerSlack = 29;

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>ppoll(2): the lean generator's wait (LeanPoll), with a nanosecond timeout.</summary>
    [DllImport("libc", EntryPoint = "ppoll", SetLastError = true)]
    internal static extern int Ppoll(ref PollFd fds, nuint count, ref Timespec timeout, IntPtr signalMask);

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec time);

    [DllImport("libc", EntryPoint = "prctl")]
    private static extern int Prctl(int option, nuint value, nuint a3, nuint a4, nuint a5);

    public static long ThreadCpuNanoseconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        _ = ClockGetTime(ClockThreadCpuTime, out var time);
        return (time.Seconds * 1_000_000_000) + time.Nanoseconds;
    }

    /// <summary>
    /// The calling thread's user and kernel CPU in clock ticks (fields 14 and 15 of /proc/thread-self/stat; 100 per
    /// second on Linux): where a call's CPU goes, the program or the system calls and wake-ups.
    /// </summary>
    public static (long User, long Kernel) ThreadUserKernelTicks()
    {
        if (!OperatingSystem.IsLinux())
        {
            return (0, 0);
        }

        var stat = File.ReadAllText("/proc/thread-self/stat");
        // The command name (field 2) is in parentheses and may contain spaces: count fields after its ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture), long.Parse(fields[12], CultureInfo.InvariantCulture));
    }

    /// <summary>The default 50 µs timer slack would let the kernel wake us that much after a call is due.</summary>
    public static void ReduceTimerSlack()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Prctl(PrSetTimerSlack, 1, 0, 0, 0);
        }
    }

    [DllImport("libc", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(ref Timespec request, IntPtr remaining);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint size, ref ulong mask);

    [DllImport("libc", EntryPoint = "sched_setscheduler")]
    private static extern int SchedSetScheduler(int pid, int policy, ref int priority);

    /// <summary>Sleeps the calling thread for <paramref name="nanoseconds"/> (nanosleep(2)).</summary>
    public static void Sleep(long nanoseconds)
    {
        var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        _ = NanoSleep(ref request, IntPtr.Zero);
    }

    /// <summary>Pins the calling thread (pid 0 = this thread) to one CPU.</summary>
    public static void PinToCpu(int cpu)
    {
        var mask = 1UL << cpu;
        if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity(cpu {cpu}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>SCHED_IDLE for the calling thread (runs only when its CPU has nothing else to do); false when refused.</summary>
    public static bool TrySchedIdle()
    {
        const int SchedIdle = 5;
        var priority = 0;
        return SchedSetScheduler(0, SchedIdle, ref priority) == 0;
    }

    /// <summary>SCHED_FIFO at the lowest real-time priority for the calling thread; false when not permitted.</summary>
    public static bool TryRealtime()
    {
        const int SchedFifo = 1;
        var priority = 1;
        return SchedSetScheduler(0, SchedFifo, ref priority) == 0;
    }
}
