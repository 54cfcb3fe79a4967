using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Server.Matching;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// <c>rebuild --dir PATH [--rounds N] [--mode both|rows|replay]</c>: the server's matcher rebuild at start from a SQLite
/// store that <c>scenario --payload proto --dir PATH --keep</c> left behind, the two ways side by side in one process,
/// alternating (replay, rows, replay, rows, …):
/// <list type="bullet">
/// <item><b>replay</b>: what <see cref="MatcherHost"/> did up to round three — every event from sequence 0 through
/// <see cref="MatcherReplay.ReplayAsync"/> (as <see cref="MatcherHost"/> tails), each parsed and applied to the
/// mirror one at a time;</item>
/// <item><b>rows</b>: <see cref="MatcherRebuild.RunAsync"/>, what <see cref="MatcherHost"/> runs now — the reservation rows'
/// current payloads in one snapshot, decoded in parallel from the bytes, one bulk build.</item>
/// </list>
/// Both must give the same matcher (reservation and selector counts, verdicts for sampled URLs): checked every round.
/// Prints wall time and the process's CPU time per rebuild.
/// <c>rebuild --pg "&lt;connection string&gt;" [--rounds N] [--mode both|rows|replay]</c> does the same from a PostgreSQL
/// database that <c>scenario --store postgres --payload proto --pg "&lt;connection string&gt;"</c> filled.
/// </summary>
internal static class RebuildBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var pg = Option(args, "--pg");
        var dir = Option(args, "--dir") ?? (pg is null ? throw new ArgumentException("--dir (a kept SQLite scenario store) or --pg (a PostgreSQL connection string) is required") : null);
        var rounds = int.Parse(Option(args, "--rounds") ?? "2", CultureInfo.InvariantCulture);
        var mode = Option(args, "--mode") ?? "both";
        if (mode is not ("both" or "rows" or "replay" or "stages"))
        {
            throw new ArgumentException($"--mode: '{mode}' is not one of both, rows, replay, stages");
        }

        if (mode == "stages")
        {
            await StagesAsync(dir ?? throw new ArgumentException("--mode stages: needs --dir (SQLite)"));
            return 0;
        }

        await using IRegistryStore store = pg is not null ? PostgresRegistryStore.Create(pg) : await SqliteRegistryStore.OpenAsync(dir!);
        await store.MigrateAsync();
        var latest = await store.GetLatestSequenceAsync();
        var files = dir is null ? 0 : new DirectoryInfo(dir).EnumerateFiles().Sum(f => f.Length);
        Console.WriteLine($"rebuild from {(pg is null ? dir : "PostgreSQL")}: {latest + 1:N0} events, {(dir is null ? "database size not shown" : $"{files / (1024.0 * 1024):F0} MiB on disk")}, {Environment.ProcessorCount} cores, "
            + $"date={DateTimeOffset.UtcNow:O}, load {File.ReadAllText("/proc/loadavg").Trim()}");

        (int Reservations, long Selectors, Verdict[] Verdicts)? reference = null;
        for (var round = 0; round < rounds; round++)
        {
            foreach (var way in mode == "both" ? new[] { "replay", "rows" } : new[] { mode })
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                var mirror = new RegistryMirror();
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                if (way == "replay")
                {
                    // MatcherHost's loop up to round three: every event from 0, parsed and applied one by one.
                    await MatcherReplay.ReplayAsync(store, mirror, latest);
                }
                else
                {
                    var result = await MatcherRebuild.RunAsync(store, mirror);
                    // Which side of the pipeline is the floor: the read waiting for room, or the build waiting for chunks.
                    Console.WriteLine($"  rows: the store read waited {result.ReadWaited.TotalSeconds:F2} s for the decode/build, the build {result.BuildWaited.TotalSeconds:F2} s for the read/decode");
                    if (result.Skipped > 0)
                    {
                        Console.WriteLine($"  {result.Skipped:N0} rows skipped (not optout.v1.Reservation payloads: was the store made with --payload proto?)");
                    }
                }

                sw.Stop();
                var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
                var matcher = mirror.Matcher;
                var peak = Process.GetCurrentProcess().PeakWorkingSet64;
                Console.WriteLine($"round {round + 1} {way,-6}: {sw.Elapsed.TotalSeconds:F2} s wall, {cpu:F2} s CPU; {matcher.ReservationCount:N0} reservations, "
                    + $"{matcher.SelectorCount:N0} selectors, as of {mirror.AppliedSequence:N0}; peak working set {peak / (1024.0 * 1024):F0} MiB");
                if (mirror.AppliedSequence != latest)
                {
                    throw new InvalidOperationException($"{way}: the mirror is at {mirror.AppliedSequence}, the log at {latest}");
                }

                var verdicts = Sample(matcher, latest);
                if (reference is { } r)
                {
                    if (r.Reservations != matcher.ReservationCount || r.Selectors != matcher.SelectorCount || !r.Verdicts.AsSpan().SequenceEqual(verdicts))
                    {
                        throw new InvalidOperationException($"{way}: the rebuilt matcher differs from the first one");
                    }
                }
                else
                {
                    reference = (matcher.ReservationCount, matcher.SelectorCount, verdicts);
                }
            }
        }

        return 0;
    }

    // --mode stages: the rows rebuild's stages one after the other on this thread, each timed by the thread's CPU clock:
    // where a rebuild's time goes. Round four's way (protobuf message parse, Core conversion with selector validation,
    // MatcherIndex.Build from Reservation objects) and the current one (ReservationWireDecoder straight from the bytes,
    // MatcherBuilder), alternately over the same payloads, A then B, twice; both matchers are compared.
    private static async Task StagesAsync(string dir)
    {
        await using var store = await SqliteRegistryStore.OpenAsync(dir);
        await store.MigrateAsync();
        var payloads = new List<byte[]>();
        var t = ThreadCpu.Seconds();
        await store.ReadReservationPayloadsAsync(payloads.Add);
        var read = ThreadCpu.Seconds() - t;
        var n = payloads.Count / 1e6;
        Console.WriteLine($"stages over {payloads.Count:N0} rows, thread CPU per row; read {read / n:F2} µs; load {File.ReadAllText("/proc/loadavg").Trim()}");
        var options = new OptOutRegistry.Core.Matching.MatcherOptions { ExpectedSelectors = payloads.Count };
        (int, long, Verdict[])? reference = null;
        for (var round = 1; round <= 2; round++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var messages = new Api.V1.Reservation[payloads.Count];
            t = ThreadCpu.Seconds();
            for (var i = 0; i < messages.Length; i++)
            {
                messages[i] = Api.V1.Reservation.Parser.ParseFrom(payloads[i]);
            }

            var parse = ThreadCpu.Seconds() - t;
            var reservations = new Reservation[messages.Length];
            t = ThreadCpu.Seconds();
            for (var i = 0; i < messages.Length; i++)
            {
                reservations[i] = ProtoConvert.ToCore(messages[i]);
            }

            var convert = ThreadCpu.Seconds() - t;
            messages = null;
            t = ThreadCpu.Seconds();
            var old = OptOutRegistry.Core.Matching.MatcherIndex.Build(reservations, options);
            var build = ThreadCpu.Seconds() - t;
            reservations = null;
            Compare(ref reference, old);
            old = null;
            Console.WriteLine($"round {round} A (round four): parse {parse / n:F2} + to Core {convert / n:F2} + MatcherIndex.Build {build / n:F2} = {(parse + convert + build) / n:F2} µs/row");

            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var decoder = new ReservationWireDecoder();
            var prepared = new OptOutRegistry.Core.Matching.PreparedReservation[payloads.Count];
            var ends = new int[payloads.Count];
            var selectors = new List<OptOutRegistry.Core.Matching.PreparedSelector>(payloads.Count);
            t = ThreadCpu.Seconds();
            for (var i = 0; i < payloads.Count; i++)
            {
                if (!decoder.TryDecode(payloads[i], selectors, out prepared[i], out _, out var id, out var error))
                {
                    throw new InvalidOperationException($"row {i} ({id}): {error}");
                }

                ends[i] = selectors.Count;
            }

            var decode = ThreadCpu.Seconds() - t;
            t = ThreadCpu.Seconds();
            var builder = new OptOutRegistry.Core.Matching.MatcherBuilder(options);
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(selectors);
            for (int i = 0, start = 0; i < prepared.Length; start = ends[i], i++)
            {
                if (!builder.TryAdd(prepared[i], span[start..ends[i]], out var field, out var reason))
                {
                    throw new InvalidOperationException($"row {i}: {field}: {reason}");
                }
            }

            var matcher = builder.Complete();
            var insert = ThreadCpu.Seconds() - t;
            Compare(ref reference, matcher);
            Console.WriteLine($"round {round} B (wire decode): decode {decode / n:F2} + MatcherBuilder {insert / n:F2} = {(decode + insert) / n:F2} µs/row");
        }
    }

    private static void Compare(ref (int Reservations, long Selectors, Verdict[] Verdicts)? reference, OptOutRegistry.Core.Matching.MatcherIndex matcher)
    {
        var verdicts = Sample(matcher, matcher.ReservationCount);
        if (reference is not { } r)
        {
            reference = (matcher.ReservationCount, matcher.SelectorCount, verdicts);
        }
        else if (r.Reservations != matcher.ReservationCount || r.Selectors != matcher.SelectorCount || !r.Verdicts.AsSpan().SequenceEqual(verdicts))
        {
            throw new InvalidOperationException("stages: the matchers of the two ways differ");
        }
    }

    // Verdicts for a spread of stored URLs and some never stored: both rebuilds must agree on every one.
    private static Verdict[] Sample(OptOutRegistry.Core.Matching.MatcherIndex matcher, long latest)
    {
        var verdicts = new Verdict[200];
        var random = new Random(5);
        for (var i = 0; i < verdicts.Length; i++)
        {
            var n = random.NextInt64(Math.Max(1, latest));
            var url = i % 2 == 0 ? DataGenerator.Url(n) : DataGenerator.Url(n) + "/not-stored";
            verdicts[i] = matcher.CheckUrl(url, UsageCategory.TrainAi);
        }

        return verdicts;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
