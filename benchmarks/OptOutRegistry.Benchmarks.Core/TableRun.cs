using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>The whole table in one process: build, memory, single-core check rates, write visibility.</summary>
internal static class TableRun
{
    private const int Queries = 1 << 16;

    public static void Run(int[] sizes)
    {
        Console.WriteLine($"date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        Console.WriteLine("| selectors | build s (wall, CPU) | index MiB | B/selector (GC) | B/selector (arrays) | covered checks/s | uncovered (host w/o rules)/s | uncovered (host with rules)/s | 50/50 mix/s | covered, batch/s | host with rules, batch/s | 50/50 mix, batch/s | B/check | HashSet<string> raw/s | canonicalise only/s | write visible after |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var size in sizes)
        {
            RunOne(size);
        }
    }

    private static void RunOne(int size)
    {
        var workload = Workload.Create(size);
        var covered = workload.CoveredUrls(Queries);
        var unknown = workload.UncoveredUnknownHostUrls(Queries);
        var known = workload.UncoveredKnownHostUrls(Queries);
        var mixed = workload.MixedUrls(Queries);
        var rawSet = new HashSet<string>(workload.RegisteredUrls, StringComparer.Ordinal);

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var sw = Stopwatch.StartNew();
        var cpu = ThreadClock.Now();
        var index = MatcherIndex.Build(workload.Reservations, new MatcherOptions { ExpectedSelectors = size });
        var buildSeconds = sw.Elapsed.TotalSeconds;
        var buildCpuSeconds = ThreadClock.Now() - cpu;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var stats = index.GetStatistics();
        var gcBytes = after - before;

        var asOf = Workload.CheckTime;
        var coveredRate = Rate(index, covered, asOf, expectDisallowed: true);
        var unknownRate = Rate(index, unknown, asOf, expectDisallowed: false);
        var knownRate = Rate(index, known, asOf, expectDisallowed: false);
        var mixedRate = Rate(index, mixed, asOf, expectDisallowed: null);
        var coveredBatch = BatchRate(index, covered, asOf, expectDisallowed: true);
        var knownBatch = BatchRate(index, known, asOf, expectDisallowed: false);
        var mixedBatch = BatchRate(index, mixed, asOf, expectDisallowed: null);
        var allocated = AllocatedPerCheck(index, mixed, asOf);
        var setRate = SetRate(rawSet, mixed);
        var canonicalRate = CanonRate(mixed);
        var visibility = Visibility(index);

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {size:N0} | {buildSeconds:F1} ({buildCpuSeconds:F1} CPU) | {gcBytes / 1048576.0:F0} | {(double)gcBytes / stats.Selectors:F0} | {stats.BytesPerSelector:F0} | {coveredRate:N0} | {unknownRate:N0} | {knownRate:N0} | {mixedRate:N0} | {coveredBatch:N0} | {knownBatch:N0} | {mixedBatch:N0} | {allocated:F1} | {setRate:N0} | {canonicalRate:N0} | {visibility} |"));
        GC.KeepAlive(workload);
        GC.KeepAlive(index);
    }

    /// <summary>URL checks per CPU-second of this thread, best of 5 passes over the query set.</summary>
    private static double Rate(MatcherIndex index, string[] urls, DateTimeOffset asOf, bool? expectDisallowed)
    {
        var best = double.MaxValue;
        for (var pass = 0; pass < 5; pass++)
        {
            var disallowed = 0;
            var start = ThreadClock.Now();
            foreach (var url in urls)
            {
                if (index.CheckUrl(url, UsageCategory.TrainAi, asOf) == Verdict.Disallowed)
                {
                    disallowed++;
                }
            }

            best = Math.Min(best, ThreadClock.Now() - start);
            if (expectDisallowed is { } e && disallowed != (e ? urls.Length : 0))
            {
                throw new InvalidOperationException($"expected {(e ? "all" : "none")} disallowed, got {disallowed} of {urls.Length}");
            }
        }

        return urls.Length / best;
    }

    /// <summary>
    /// The same checks through <see cref="MatcherIndex.CheckUrls"/> in batches of 1,000 (as the Check service calls it):
    /// URL checks per CPU-second of this thread, best of 5 passes.
    /// </summary>
    private static double BatchRate(MatcherIndex index, string[] urls, DateTimeOffset asOf, bool? expectDisallowed)
    {
        const int BatchSize = 1000;
        var verdicts = new Verdict[BatchSize];
        var errors = new UrlError[BatchSize];
        var best = double.MaxValue;
        for (var pass = 0; pass < 5; pass++)
        {
            var disallowed = 0;
            var start = ThreadClock.Now();
            for (var offset = 0; offset < urls.Length; offset += BatchSize)
            {
                var batch = urls.AsSpan(offset, Math.Min(BatchSize, urls.Length - offset));
                index.CheckUrls(batch!, UsageCategory.TrainAi, asOf, verdicts, errors);
                for (var i = 0; i < batch.Length; i++)
                {
                    disallowed += verdicts[i] == Verdict.Disallowed ? 1 : 0;
                }
            }

            best = Math.Min(best, ThreadClock.Now() - start);
            if (expectDisallowed is { } e && disallowed != (e ? urls.Length : 0))
            {
                throw new InvalidOperationException($"batch: expected {(e ? "all" : "none")} disallowed, got {disallowed} of {urls.Length}");
            }
        }

        return urls.Length / best;
    }

    /// <summary>Bytes allocated per check, the larger of the single-URL and the batch form.</summary>
    private static double AllocatedPerCheck(MatcherIndex index, string[] urls, DateTimeOffset asOf)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var url in urls)
        {
            index.CheckUrl(url, UsageCategory.TrainAi, asOf);
        }

        var single = GC.GetAllocatedBytesForCurrentThread() - before;
        var verdicts = new Verdict[urls.Length];
        var errors = new UrlError[urls.Length];
        before = GC.GetAllocatedBytesForCurrentThread();
        index.CheckUrls(urls!, UsageCategory.TrainAi, asOf, verdicts, errors);
        var batch = GC.GetAllocatedBytesForCurrentThread() - before;
        return (double)Math.Max(single, batch) / urls.Length;
    }

    /// <summary>The canonicaliser alone (UrlCanonicalizer.TryWriteMatchKey): the floor under every URL check.</summary>
    private static double CanonRate(string[] urls)
    {
        var buffer = new char[4096];
        var best = double.MaxValue;
        for (var pass = 0; pass < 5; pass++)
        {
            var start = ThreadClock.Now();
            foreach (var url in urls)
            {
                UrlCanonicalizer.TryWriteMatchKey(url, buffer, out _, out _, out _);
            }

            best = Math.Min(best, ThreadClock.Now() - start);
        }

        return urls.Length / best;
    }

    private static double SetRate(HashSet<string> set, string[] urls)
    {
        var best = double.MaxValue;
        for (var pass = 0; pass < 5; pass++)
        {
            var hits = 0;
            var start = ThreadClock.Now();
            foreach (var url in urls)
            {
                if (set.Contains(url))
                {
                    hits++;
                }
            }

            best = Math.Min(best, ThreadClock.Now() - start);
            GC.KeepAlive(hits);
        }

        return urls.Length / best;
    }

    /// <summary>
    /// Time from the start of <see cref="MatcherIndex.Apply"/> until a reader thread spinning on CheckUrl sees the new
    /// reservation; median and max of 200 writes.
    /// </summary>
    private static string Visibility(MatcherIndex index)
    {
        var samples = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            var url = $"https://visibility{i}.example/x";
            var reservation = new Reservation($"vis-{i}-{Guid.NewGuid():N}", "bench", Workload.CheckTime.AddDays(-1), Workload.CheckTime.AddDays(-1), null,
                [new ReservationSelector(Selector.Create(SelectorKind.Url, url))], UsageStatements.DisallowAll);
            long seenAt = 0;
            using var ready = new ManualResetEventSlim();
            var reader = new Thread(() =>
            {
                ready.Set();
                while (index.CheckUrl(url, UsageCategory.TrainAi, Workload.CheckTime) != Verdict.Disallowed)
                {
                }

                Volatile.Write(ref seenAt, Stopwatch.GetTimestamp());
            });
            reader.Start();
            ready.Wait();
            var start = Stopwatch.GetTimestamp();
            index.Apply(ReservationChange.Add(reservation));
            reader.Join();
            samples.Add(Stopwatch.GetElapsedTime(start, Volatile.Read(ref seenAt)).TotalMicroseconds);
        }

        samples.Sort();
        return string.Create(CultureInfo.InvariantCulture, $"median {samples[samples.Count / 2]:F0} µs, max {samples[^1]:F0} µs");
    }

    /// <summary>Writes keys.txt (canonical keys of the url selectors) and queries.txt (canonical keys of the 50/50 query set).</summary>
    public static void Export(string directory, int size)
    {
        Directory.CreateDirectory(directory);
        var workload = Workload.Create(size);
        File.WriteAllLines(Path.Combine(directory, "keys.txt"), workload.RegisteredKeys);
        var queries = workload.MixedUrls(Queries).Select(UrlCanonicalizer.GetMatchKey);
        File.WriteAllLines(Path.Combine(directory, "queries.txt"), queries);
    }
}
