using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>
/// <c>--snapshot-load FILE [mirror|offline|verify]</c>: one snapshot load in a fresh process, as a replica's start
/// (<see cref="RegistryMirror.LoadSnapshot"/>) or the SDK's <see cref="OfflineChecker.Load"/> (load + signature) does it,
/// or only the read-and-verify pass a replica makes over a downloaded file before loading it (<c>verify</c>),
/// printing one line: wall time, CPU of the whole process and of the calling thread (which builds the matcher), bytes
/// allocated, collections, peak RSS. Run it several times (a new process each, so JIT and page cache are part of each
/// figure the same way) and alternate builds for an A/B: <c>snapshot-load.sh</c>.
/// </summary>
internal static class SnapshotLoadRun
{
    public static void Run(string path, string mode)
    {
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var thread0 = ThreadClock.Now();
        var allocated0 = GC.GetTotalAllocatedBytes(precise: false);
        var gen0 = GC.CollectionCount(0);
        var gen2 = GC.CollectionCount(2);
        var started = Stopwatch.GetTimestamp();

        if (mode == "verify")
        {
            // What a replica does before loading a downloaded snapshot, and `optout snapshot verify`: read and hash every
            // record, check the signature.
            long records = 0;
            using (var reader = SnapshotReader.Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20)))
            {
                while (reader.TryReadRecord(out _, out _))
                {
                    records++;
                }

                if (!reader.VerifySignature())
                {
                    throw new InvalidOperationException("the signature does not verify");
                }
            }

            process.Refresh();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode,-7} records {records,9:N0} | wall {Stopwatch.GetElapsedTime(started).TotalSeconds,6:F2} s  process CPU {(process.TotalProcessorTime - cpu0).TotalSeconds,6:F2} s  " +
                $"thread CPU {ThreadClock.Now() - thread0,6:F2} s | allocated {(GC.GetTotalAllocatedBytes(precise: false) - allocated0) / 1048576.0,7:F0} MiB"));
            return;
        }

        RegistryMirror mirror;
        if (mode == "offline")
        {
            mirror = OfflineChecker.Load(path).Mirror;
        }
        else
        {
            mirror = new RegistryMirror();
            using var reader = SnapshotReader.Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20));
            mirror.LoadSnapshot(reader);
        }

        var wall = Stopwatch.GetElapsedTime(started);
        var thread = ThreadClock.Now() - thread0;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocated0;
        var matcher = mirror.Matcher;

        // A check, so a matcher that built nothing cannot pass for a fast load.
        _ = matcher.CheckUrl("https://example.com/", UsageCategory.TrainAi);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{mode,-7} reservations {matcher.ReservationCount,9:N0} selectors {matcher.SelectorCount,9:N0} as-of {mirror.AppliedSequence,9} | " +
            $"wall {wall.TotalSeconds,6:F2} s  process CPU {cpu.TotalSeconds,6:F2} s  thread CPU {thread,6:F2} s | " +
            $"allocated {allocated / 1048576.0,7:F0} MiB  gen0 {GC.CollectionCount(0) - gen0,4} gen2 {GC.CollectionCount(2) - gen2,3}  peak RSS {process.PeakWorkingSet64 / 1048576.0,6:F0} MiB"));
        if (Environment.GetEnvironmentVariable("SNAPSHOT_LOAD_THREADS") == "1")
        {
            PrintThreads();
        }
    }

    // CPU seconds per thread of this process (Linux /proc/self/task/*/stat, utime + stime), grouped by thread name:
    // which stage of the load the time went to (the reading thread, the pool's decoders, the building thread, the GC).
    private static void PrintThreads()
    {
        if (!Directory.Exists("/proc/self/task"))
        {
            return;
        }

        var byName = new SortedDictionary<string, (double Seconds, int Threads)>(StringComparer.Ordinal);
        var tick = 100.0; // USER_HZ on Linux
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / tick;
                var (sum, count) = byName.GetValueOrDefault(name);
                byName[name] = (sum + seconds, count + 1);
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        foreach (var (name, (seconds, threads)) in byName)
        {
            if (seconds >= 0.01)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {name,-24} {threads,3} threads {seconds,6:F2} CPU-s"));
            }
        }
    }
}
