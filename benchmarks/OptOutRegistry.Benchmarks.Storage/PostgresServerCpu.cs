using System.Globalization;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// CPU seconds (user + system) the temporary PostgreSQL server has used so far, read from Linux <c>/proc</c>: the
/// postmaster's own and its reaped children's time plus every live child (backends, WAL writer, checkpointer). The
/// client's CPU alone hides where a bulk import spends most of its time, the server.
/// </summary>
internal sealed class PostgresServerCpu(string dataDirectory)
{
    private double _mark = double.NaN;

    /// <summary>Seconds since the previous call (NaN on the first call or where /proc cannot be read).</summary>
    public double SinceLastReport()
    {
        var now = Total();
        var delta = now - _mark;
        _mark = now;
        return delta;
    }

    private double Total()
    {
        try
        {
            var pidText = File.ReadLines(Path.Combine(dataDirectory, "postmaster.pid")).First();
            var postmaster = int.Parse(pidText, CultureInfo.InvariantCulture);
            var ticks = Ticks(postmaster, includeReaped: true);
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != postmaster
                    && ParentOf(pid) == postmaster)
                {
                    ticks += Ticks(pid, includeReaped: false);
                }
            }

            return ticks / 100.0; // USER_HZ
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return double.NaN;
        }
    }

    // /proc/<pid>/stat fields after the ")" that ends the command name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    private static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null; // exited meanwhile
        }
    }

    private static int ParentOf(int pid) => Fields(pid) is { } f ? int.Parse(f[1], CultureInfo.InvariantCulture) : -1;

    private static long Ticks(int pid, bool includeReaped)
    {
        if (Fields(pid) is not { } f)
        {
            return 0;
        }

        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        return includeReaped ? ticks + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture) : ticks;
    }
}
