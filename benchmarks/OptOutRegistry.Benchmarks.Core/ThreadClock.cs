using System.Runtime.InteropServices;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>
/// CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>). On a machine shared with
/// other builds, wall-clock rates swing with the load; the thread's own CPU time does not count time spent
/// descheduled, so rates per CPU-second are the steadier figure (cache interference from neighbours remains).
/// </summary>
internal static partial class ThreadClock
{
    private const int ClockThreadCpuTime = 3;

    public static bool IsAvailable { get; } = OperatingSystem.IsLinux();

    /// <summary>Seconds of CPU used by this thread so far.</summary>
    public static double Now()
    {
        if (!IsAvailable || clock_gettime(ClockThreadCpuTime, out var ts) != 0)
        {
            return double.NaN;
        }

        return ts.Seconds + (ts.Nanoseconds / 1e9);
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int clock_gettime(int clock, out Timespec value);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
