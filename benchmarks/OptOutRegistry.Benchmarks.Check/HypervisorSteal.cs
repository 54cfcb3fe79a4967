using System.Globalization;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// The hypervisor's own account of time it did not run this VM's virtual CPUs while they had work: the <c>steal</c> column
/// of <c>/proc/stat</c>'s <c>cpu</c> line (paravirtual steal clock, in USER_HZ ticks summed over CPUs). It counts a vCPU that
/// was runnable and not run — the host busy elsewhere — but not the late wake-up of a vCPU that had halted (that vCPU had no
/// work, so no steal is charged), which is why the hiccup meter and steal are printed side by side: a run's late calls that
/// steal explains are the host's load; the rest are halted vCPUs woken late (what <c>--keep-cpus-awake</c> removes).
/// </summary>
internal static class HypervisorSteal
{
    // USER_HZ: /proc/stat counts in clock ticks, which the kernel exports to user space at 100 per second on every
    // architecture .NET runs on (sysconf(_SC_CLK_TCK)).
    private const double TicksPerSecond = 100;

    /// <summary>The machine's steal ticks so far, or -1 where /proc/stat has no steal column (not Linux, not a VM).</summary>
    public static long ReadTicks()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
            {
                return -1;
            }

            // cpu user nice system idle iowait irq softirq steal guest guest_nice
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 8 && long.TryParse(fields[8], NumberStyles.None, CultureInfo.InvariantCulture, out var steal) ? steal : -1;
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// <c>steal_ms=…	steal_share=…</c> since <paramref name="ticksAtStart"/>: the share is of all CPUs' time over
    /// <paramref name="seconds"/>, comparable to the meter's <c>cpu_late_share</c>.
    /// </summary>
    public static string Describe(long ticksAtStart, double seconds, int cpus)
    {
        var now = ReadTicks();
        if (ticksAtStart < 0 || now < 0)
        {
            return "steal_ms=n/a\tsteal_share=n/a";
        }

        var stolenSeconds = (now - ticksAtStart) / TicksPerSecond;
        return string.Create(CultureInfo.InvariantCulture,
            $"steal_ms={stolenSeconds * 1000:F0}\tsteal_share={stolenSeconds / (seconds * cpus):P2}");
    }
}
