using System.Globalization;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The CPU bandwidth limit (CFS quota) of this process's cgroup, if any. <c>--keep-cpus-awake</c> refuses to start under a
/// quota smaller than the CPUs it would keep busy: a SCHED_IDLE thread's time is charged to its cgroup's quota like any
/// other (the quota belongs to the group, not the policy), so spinning would use up the quota and the kernel would then
/// throttle the request threads too — the opposite of the option's purpose. A Kubernetes CPU limit is such a quota.
/// </summary>
internal static class CpuQuota
{
    /// <summary>Throws when the process runs under a CPU quota smaller than the CPUs it may use.</summary>
    /// <exception cref="ArgumentException">There is such a quota; the message names the option, the file and the figures.</exception>
    public static void EnsureNone(string option)
    {
        string cgroups;
        try
        {
            cgroups = File.ReadAllText("/proc/self/cgroup");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return; // No cgroup information: nothing to check against.
        }

        var cpus = KeepAwakeNative.AllowedCpus().Length;
        if (Find(cgroups, "/sys/fs/cgroup") is { } quota && quota.Cpus < cpus)
        {
            throw new ArgumentException(
                $"{option}: this process runs under a CPU quota of {quota.Cpus.ToString("0.##", CultureInfo.InvariantCulture)} CPUs ({quota.File}) for its {cpus} CPUs; the spinning threads' time counts against the quota and the kernel would throttle the request threads. Remove the CPU limit or leave the option off.");
        }
    }

    /// <summary>
    /// The smallest CPU quota (in CPUs: quota / period) over the process's cgroup and its ancestors, with the file that
    /// sets it; null when there is none. <paramref name="procSelfCgroup"/> is the text of <c>/proc/self/cgroup</c>;
    /// <paramref name="root"/> where cgroup file systems are mounted (<c>/sys/fs/cgroup</c>). cgroup v2: <c>cpu.max</c>
    /// ("max 100000" or "QUOTA PERIOD"); v1: <c>cpu.cfs_quota_us</c> (-1: none) and <c>cpu.cfs_period_us</c> in the
    /// hierarchy that has the <c>cpu</c> controller.
    /// </summary>
    public static (double Cpus, string File)? Find(string procSelfCgroup, string root)
    {
        (double Cpus, string File)? smallest = null;
        foreach (var raw in procSelfCgroup.Split('\n'))
        {
            // hierarchy-ID:controller-list:cgroup-path (cgroups(7)).
            var line = raw.Trim();
            var first = line.IndexOf(':', StringComparison.Ordinal);
            var second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
            {
                continue;
            }

            var controllers = line[(first + 1)..second];
            var path = line[(second + 1)..].Trim('/');
            if (controllers.Length == 0)
            {
                // cgroup v2 (hierarchy 0): mounted at the root, or at root/unified on a hybrid system.
                smallest = Smaller(smallest, Walk(Path.Combine(root, path), root, ReadV2));
                smallest = Smaller(smallest, Walk(Path.Combine(root, "unified", path), Path.Combine(root, "unified"), ReadV2));
            }
            else if (Array.IndexOf(controllers.Split(','), "cpu") >= 0)
            {
                var mount = Path.Combine(root, controllers);
                if (!Directory.Exists(mount))
                {
                    mount = Path.Combine(root, "cpu");
                }

                smallest = Smaller(smallest, Walk(Path.Combine(mount, path), mount, ReadV1));
            }
        }

        return smallest;
    }

    // The directory and each ancestor up to and including the mount point. A path that does not exist inside this mount
    // namespace (a container without its own cgroup namespace sees its group at the mount point) just has no files.
    private static (double, string)? Walk(string directory, string mount, Func<string, (double, string)?> read)
    {
        (double, string)? smallest = null;
        var top = Path.TrimEndingDirectorySeparator(mount);
        for (var dir = Path.TrimEndingDirectorySeparator(directory); ; dir = Path.GetDirectoryName(dir)!)
        {
            smallest = Smaller(smallest, read(dir));
            if (dir.Length <= top.Length || Path.GetDirectoryName(dir) is null)
            {
                return smallest;
            }
        }
    }

    private static (double, string)? ReadV2(string directory)
    {
        var file = Path.Combine(directory, "cpu.max");
        if (ReadFile(file) is not { } text)
        {
            return null;
        }

        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var quota)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var period) && period > 0
            ? ((double)quota / period, file)
            : null;
    }

    private static (double, string)? ReadV1(string directory)
    {
        var file = Path.Combine(directory, "cpu.cfs_quota_us");
        return ReadFile(file) is { } quotaText && ReadFile(Path.Combine(directory, "cpu.cfs_period_us")) is { } periodText
            && long.TryParse(quotaText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var quota) && quota > 0
            && long.TryParse(periodText, NumberStyles.None, CultureInfo.InvariantCulture, out var period) && period > 0
            ? ((double)quota / period, file)
            : null;
    }

    private static string? ReadFile(string file)
    {
        try
        {
            return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static (double, string)? Smaller((double, string)? a, (double, string)? b) =>
        a is null ? b : b is null ? a : (b.Value.Item1 < a.Value.Item1 ? b : a);
}
