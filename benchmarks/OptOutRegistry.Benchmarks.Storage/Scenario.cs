using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;
using OptOutRegistry.Storage.Tests.Infrastructure;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// Whole-workload measurements that are one-shot by nature (import N million rows, read them all back), so they are
/// timed with a Stopwatch rather than BenchmarkDotNet's repeated invocations:
/// bulk import/s (generation included), durable single appends/s, full read-back for a matcher rebuild,
/// search latency, and proof generation at the final log size.
/// </summary>
internal static class Scenario
{
    public static async Task<int> RunAsync(string[] args)
    {
        var store = Option(args, "--store") ?? "sqlite";
        var count = long.Parse(Option(args, "--count") ?? "1000000", CultureInfo.InvariantCulture);
        var batchSize = int.Parse(Option(args, "--batch") ?? "10000", CultureInfo.InvariantCulture);
        var singles = int.Parse(Option(args, "--singles") ?? "300", CultureInfo.InvariantCulture);
        var pg = Option(args, "--pg");
        DataGenerator.ProtoPayloads = Option(args, "--payload") switch
        {
            null or "opaque" => false,
            "proto" => true,
            var other => throw new ArgumentException($"--payload: '{other}' is not opaque (default) or proto"),
        };

        PostgresServerFixture? server = null;
        DirectoryInfo? dir = null;
        IRegistryStore registry;
        if (store == "sqlite")
        {
            dir = Option(args, "--dir") is { } d ? Directory.CreateDirectory(d) : Directory.CreateTempSubdirectory("optout-bench-");
            registry = await SqliteRegistryStore.OpenAsync(dir.FullName);
        }
        else
        {
            if (pg is null)
            {
                (server, pg) = await BenchmarkPostgres.StartAsync();
                _serverCpu = new PostgresServerCpu(server.DataDirectory);
            }
            else if (Option(args, "--pg-data") is { } pgData)
            {
                // A server of your own on this machine (--pg): its data directory gives the server's CPU per phase.
                _serverCpu = new PostgresServerCpu(pgData);
            }

            registry = PostgresRegistryStore.Create(pg);
        }

        try
        {
            await registry.MigrateAsync();
            // --reuse with --dir and --keep: measure the read phases (rebuild input, search, proofs) on a store an earlier
            // run left behind, e.g. to compare two builds on the same million rows; --count must be what that run imported.
            var reuse = args.Contains("--reuse") && await registry.GetLatestSequenceAsync() >= 0;
            Console.WriteLine($"store={store} count={count:N0} batch={batchSize:N0} reuse={reuse} payload={(DataGenerator.ProtoPayloads ? "proto" : "opaque")} date={DateTimeOffset.UtcNow:O}");
            var sw = Stopwatch.StartNew();
            if (!reuse)
            {
                await registry.AppendBatchAsync(DataGenerator.Holders().ToList());

                // 1. Bulk import. The generator builds the mutations one batch ahead on another thread (at most two
                //    batches queued), as an importer decodes its input while the store commits the previous batch
                //    (RegistryService.Import does); `--generator serial` builds each batch on the writer's thread
                //    between appends, as rounds one to four measured.
                var serial = Option(args, "--generator") switch
                {
                    null or "ahead" => false,
                    "serial" => true,
                    var other => throw new ArgumentException($"--generator: '{other}' is not ahead (default) or serial"),
                };
                CpuSinceLastReport();
                sw.Restart();
                // The SQLite append path completes synchronously on the calling thread, so the thread's CPU time around
                // AppendBatchAsync is the writer's own cost, without the generator and without the background indexer;
                // the wall time inside it is the store's own rate.
                double writerCpu = 0;
                long fullBatchRows = 0;
                var storeWall = TimeSpan.Zero;
                long imported = 0;
                async Task AppendAsync(List<Mutation> batch)
                {
                    var t0 = ThreadCpu.Seconds();
                    var w0 = Stopwatch.GetTimestamp();
                    await registry.AppendBatchAsync(batch);
                    storeWall += Stopwatch.GetElapsedTime(w0);
                    if (batch.Count == batchSize)
                    {
                        writerCpu += ThreadCpu.Seconds() - t0;
                        fullBatchRows += batch.Count;
                    }

                    var before = imported;
                    imported += batch.Count;
                    if (before / 1_000_000 != imported / 1_000_000)
                    {
                        Console.WriteLine($"  imported {imported:N0} in {sw.Elapsed.TotalSeconds:F1} s");
                    }
                }

                if (serial)
                {
                    foreach (var batch in Batches(count, batchSize))
                    {
                        await AppendAsync(batch);
                    }
                }
                else
                {
                    var queue = System.Threading.Channels.Channel.CreateBounded<List<Mutation>>(2);
                    var producer = Task.Run(async () =>
                    {
                        try
                        {
                            foreach (var batch in Batches(count, batchSize))
                            {
                                await queue.Writer.WriteAsync(batch);
                            }
                        }
                        finally
                        {
                            queue.Writer.Complete();
                        }
                    });
                    await foreach (var batch in queue.Reader.ReadAllAsync())
                    {
                        await AppendAsync(batch);
                    }

                    await producer;
                }

                sw.Stop();
                var importCpu = CpuSinceLastReport();
                Console.WriteLine($"bulk import (acknowledged): {count:N0} in {sw.Elapsed.TotalSeconds:F2} s wall = {count / sw.Elapsed.TotalSeconds:N0}/s; {importCpu:F2} s CPU (all threads, indexer included) = {count / importCpu:N0}/CPU-s{ServerNote(count)}");
                Console.WriteLine($"  generator {(serial ? "serial, on the writer's thread" : "one batch ahead, on another thread")}; wall inside AppendBatchAsync (the store's own rate): {storeWall.TotalSeconds:F2} s = {count / storeWall.TotalSeconds:N0}/s");
                if (store == "sqlite" && writerCpu > 0)
                {
                    Console.WriteLine($"  writer thread inside AppendBatchAsync (full batches): {writerCpu:F2} s CPU = {writerCpu * 1e6 / fullBatchRows:F1} µs per reservation");
                }

                // 1b. SQLite indexes search in the background (search.db): how far behind it was when the import ended, and
                //     when it caught up, on the same wall clock as the import.
                if (registry is SqliteRegistryStore sqlite)
                {
                    var status = await registry.GetSearchIndexStatusAsync();
                    Console.WriteLine($"  search index when the import ended: {status.IndexedThrough + 1:N0} of {status.LatestSequence + 1:N0} events ({status.Lag:N0} behind)");
                    var after = Stopwatch.StartNew();
                    while ((await registry.GetSearchIndexStatusAsync()).Lag > 0)
                    {
                        await Task.Delay(20);
                    }

                    after.Stop();
                    var total = sw.Elapsed + after.Elapsed;
                    var catchUpCpu = CpuSinceLastReport();
                    Console.WriteLine($"bulk import + search index caught up: {count:N0} in {total.TotalSeconds:F2} s wall = {count / total.TotalSeconds:N0}/s "
                        + $"({after.Elapsed.TotalSeconds:F2} s after the import; indexer wrote {sqlite.SearchRowsIndexed:N0} rows); {importCpu + catchUpCpu:F2} s CPU = {count / (importCpu + catchUpCpu):N0}/CPU-s");
                }

                // 2. Durable single appends, one transaction and one fsync each.
                sw.Restart();
                for (var i = 0; i < singles; i++)
                {
                    await registry.AppendAsync(DataGenerator.Reservation(i, "single-"));
                }

                sw.Stop();
                Report("single durable appends", singles, sw.Elapsed);
            }

            // 3. Read everything back, as the matcher rebuild does at start.
            CpuSinceLastReport();
            sw.Restart();
            long read = 0;
            long bytes = 0;
            await foreach (var r in registry.ReadAllReservationsAsync())
            {
                read++;
                bytes += r.Payload.Length;
            }

            sw.Stop();
            Report("read all reservations (rebuild input)", read, sw.Elapsed);

            // 3a. The matcher rebuild's compact read (current payloads in one snapshot), twice (the first one warms up).
            for (var round = 1; round <= 2; round++)
            {
                CpuSinceLastReport();
                sw.Restart();
                long payloads = 0;
                await registry.ReadReservationPayloadsAsync(p =>
                {
                    payloads++;
                    bytes += p.Length;
                });
                sw.Stop();
                Report($"compact rebuild read, ReadReservationPayloadsAsync (round {round})", payloads, sw.Elapsed);
            }

            // 3b. Replay the event log from the start as MatcherHost does at start (TailEventsAsync until caught up).
            var latest = await registry.GetLatestSequenceAsync();
            sw.Restart();
            long replayed = 0;
            await foreach (var e in registry.TailEventsAsync(0))
            {
                replayed++;
                bytes += e.Payload.Length;
                if (e.Sequence == latest)
                {
                    break;
                }
            }

            sw.Stop();
            Report("replay the event log (matcher rebuild input, as MatcherHost tails it)", replayed, sw.Elapsed);

            // 4. Search latency: selective queries (two title words of a random stored work, upper-cased) and
            //    broad ones (one of 30 common words, matching ~3% of all works each).
            var searchRandom = new Random(11);
            foreach (var (label, broad) in new[] { ("selective", false), ("broad", true) })
            {
                var latencies = new List<double>();
                CpuSinceLastReport();
                for (var q = 0; q < 200; q++)
                {
                    string query;
                    if (broad)
                    {
                        query = DataGenerator.CommonWord(q);
                    }
                    else
                    {
                        var (w1, w2, _) = DataGenerator.TitleWords(searchRandom.NextInt64(count));
                        query = (w1 + " " + w2).ToUpperInvariant();
                    }

                    var t = Stopwatch.GetTimestamp();
                    var hits = await registry.SearchWorksAsync(query, 20);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                    if (!broad && hits.Count == 0)
                    {
                        throw new InvalidOperationException($"search for '{query}' found nothing");
                    }
                }

                var cpuPerQuery = CpuSinceLastReport() * 1000 / latencies.Count;
                latencies.Sort();
                Console.WriteLine($"search {label} (limit 20, {latencies.Count} queries over {count:N0} works): p50 {latencies[latencies.Count / 2]:F2} ms, p95 {latencies[(int)(latencies.Count * 0.95)]:F2} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms wall; {cpuPerQuery:F2} ms CPU per query{ServerNote(latencies.Count)}");
            }

            // 5. Proofs at the final size, verified as they are produced.
            var head = await registry.GetTreeHeadAsync();
            CpuSinceLastReport();
            var random = new Random(7);
            const int proofs = 500;
            var proofLatencies = new double[proofs];
            sw.Restart();
            for (var i = 0; i < proofs; i++)
            {
                var leaf = random.NextInt64(head.TreeSize);
                var t = Stopwatch.GetTimestamp();
                await registry.GetInclusionProofAsync(leaf, head.TreeSize);
                proofLatencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }

            sw.Stop();
            Console.WriteLine($"inclusion proof at {head.TreeSize:N0} leaves: {sw.Elapsed.TotalMilliseconds * 1000 / proofs:F0} µs wall ({Percentiles(proofLatencies)}), {CpuSinceLastReport() * 1e6 / proofs:F0} µs CPU each{ServerNote(proofs)}");
            sw.Restart();
            for (var i = 0; i < proofs; i++)
            {
                var size1 = 1 + random.NextInt64(head.TreeSize - 1);
                var t = Stopwatch.GetTimestamp();
                await registry.GetConsistencyProofAsync(size1, head.TreeSize);
                proofLatencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }

            sw.Stop();
            Console.WriteLine($"consistency proof to {head.TreeSize:N0} leaves: {sw.Elapsed.TotalMilliseconds * 1000 / proofs:F0} µs wall ({Percentiles(proofLatencies)}), {CpuSinceLastReport() * 1e6 / proofs:F0} µs CPU each{ServerNote(proofs)}");
            var leafIndex = head.TreeSize / 3;
            var events = await registry.ReadEventsAsync(leafIndex, 1);
            var proof = await registry.GetInclusionProofAsync(leafIndex, head.TreeSize);
            Console.WriteLine($"spot check: inclusion proof of leaf {leafIndex:N0} verifies = {MerkleVerifier.VerifyInclusion(leafIndex, head.TreeSize, events[0].LeafHash, proof, head.RootHash)}");
            if (dir is not null)
            {
                var size = dir.EnumerateFiles().Sum(f => f.Length);
                Console.WriteLine($"data directory size: {size / (1024.0 * 1024):F0} MiB");
            }

            return 0;
        }
        finally
        {
            await registry.DisposeAsync();
            if (server is not null)
            {
                await server.DisposeAsync();
            }
            if (dir is not null && !args.Contains("--keep"))
            {
                dir.Delete(recursive: true);
            }
        }
    }

    // The import's batches, built lazily (so `--generator ahead` builds them on the producer's thread).
    private static IEnumerable<List<Mutation>> Batches(long count, int batchSize)
    {
        var batch = new List<Mutation>(batchSize);
        for (long i = 0; i < count; i++)
        {
            batch.Add(DataGenerator.Reservation(i));
            if (batch.Count == batchSize)
            {
                yield return batch;
                batch = new List<Mutation>(batchSize);
            }
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private static TimeSpan _cpuMark = Process.GetCurrentProcess().TotalProcessorTime;

    // CPU seconds of this process (all threads) since the last report: on a shared, oversubscribed machine wall
    // time mostly measures the neighbours, CPU time measures us.
    private static double CpuSinceLastReport()
    {
        var now = Process.GetCurrentProcess().TotalProcessorTime;
        var delta = (now - _cpuMark).TotalSeconds;
        _cpuMark = now;
        _serverDelta = _serverCpu?.SinceLastReport() ?? double.NaN;
        return delta;
    }

    private static void Report(string what, long count, TimeSpan elapsed)
    {
        var cpu = CpuSinceLastReport();
        Console.WriteLine($"{what}: {count:N0} in {elapsed.TotalSeconds:F2} s wall = {count / elapsed.TotalSeconds:N0}/s; {cpu:F2} s CPU = {count / cpu:N0}/CPU-s{ServerNote(count)}");
    }

    // The temporary PostgreSQL server's CPU over the same phase (all its processes), measured at the last CpuSinceLastReport.
    private static PostgresServerCpu? _serverCpu;
    private static double _serverDelta = double.NaN;

    private static string ServerNote(long count) =>
        double.IsNaN(_serverDelta) ? string.Empty : $"; server {_serverDelta:F2} s CPU = {_serverDelta * 1e6 / count:F1} µs each";

    // p50 / p99 of one phase's latencies (sorted in place).
    private static string Percentiles(double[] latencies)
    {
        Array.Sort(latencies);
        return $"p50 {latencies[latencies.Length / 2]:F2} ms, p99 {latencies[(int)(latencies.Length * 0.99)]:F2} ms";
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>); 0 elsewhere.</summary>
internal static class ThreadCpu
{
    public static double Seconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        return ClockGetTime(3, out var ts) == 0 ? ts.Seconds + ts.Nanoseconds / 1e9 : 0; // 3 = CLOCK_THREAD_CPUTIME_ID
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec ts);
}
