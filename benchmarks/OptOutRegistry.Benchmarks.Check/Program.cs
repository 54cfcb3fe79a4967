using System.Diagnostics;
using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Check;

// Load generator for the Check service over loopback (issue 7 item 7). Modes:
//   seed   --server URL --selectors N --queries FILE   registers N url selectors (1,000 per reservation) and writes
//                                                      N query URLs, half of them covered, shuffled
//   batch  --server URL --queries FILE [--seconds S] [--concurrency C]     CheckBatch of 1,000 URLs
//   stream --server URL --queries FILE [--seconds S]                       CheckStream, 1,000-URL requests, 8 in flight
//   unary  --server URL --queries FILE [--seconds S] [--rate R] [--watch PID]   one URL per raw CheckBatch call at R calls/s
//                                                      (open loop): p50/p99, client CPU and GC; --watch: the server's GC
//                                                      pauses, bytes allocated per call and server-side request times
//   single --server URL --queries FILE [--seconds S] [--rate R] [--watch PID]   the same through the SDK's single check
//                                                      (CheckClient.CheckUrlAsync: provenance on, adaptive batching);
//                                                      unary and single: --hedge-after-ms D turns on the SDK's hedging
//                                                      (CheckClientOptions.Hedging: 2 attempts, delay D ms)
//   lean   --server URL --queries FILE [--seconds S] [--rate R] [--warmup S] [--tick-us N] [--hiccups 1]
//          [--connections N] [--hedge-after-ms D]    the same one-URL raw calls from a lean
//                                                      open-loop generator: one thread, N HTTP/2 connections (default 1,
//                                                      calls round-robin), its own framing (LeanLoad.cs); prints
//                                                      p50..p99.9 and its CPU per call; --hedge-after-ms D (needs N >= 2):
//                                                      a call unanswered D ms after it was sent goes out again on the next
//                                                      connection, first answer wins, the other is reset (hedges_sent,
//                                                      hedges_won, hedge_share, server_calls_per_check); --hedge-budget B:
//                                                      at most B hedges per call on average, 10 banked (the SDK's
//                                                      HedgingPolicy.MaxHedgesPerCall, default 0.1; 0: unlimited);
//                                                      exits 1 when any call failed or had a wrong verdict;
//                                                      --tick-us N: wake at most every N us (calls due meanwhile
//                                                      leave together, their wait counted as latency); --hiccups 1:
//                                                      run the hiccup meter (below) meanwhile and say how many of the
//                                                      calls over 2 ms overlapped a stall of the whole machine
//   hiccups [--seconds S] [--interval-us N]           platform hiccup meter: a real-time thread pinned to each CPU sleeps N us
//                                                      (1000) again and again; prints how often and how long they woke late
//                                                      and the share of time when every CPU was stalled at once (the whole
//                                                      VM paused: no code can answer then). Beside `lean` it says how much
//                                                      of that run's tail was the platform (Hiccups.cs); --busy-cpus 1:
//                                                      a SCHED_IDLE busy loop on each CPU meanwhile, so no vCPU halts (the
//                                                      difference is the hypervisor's late wake-up of halted vCPUs)
//   watch  --pid PID --seconds S                       the --watch figures of a server for S seconds while another client
//                                                      (h2load) loads it
//   profile --pid PID --seconds S [--top N] [--focus TEXT]   EventPipe sample profile of a running server while another
//                                                      client loads it: top methods by samples (exclusive/inclusive);
//                                                      samples of threads blocked in waits count too, so read it as
//                                                      "where threads were", not as CPU; --focus: callers of a method
//   stages [--selectors N] [--rounds R]   server work per 1,000-URL batch in process, previous vs fast path, thread CPU
//   encode --queries FILE --out DIR                                       gRPC-framed unary.bin and batch.bin for h2load -d
//   bdn                                                                    BenchmarkDotNet in-process engine benchmark
var options = Args.Parse(args);
switch (args.FirstOrDefault())
{
    case "seed":
        await Seed.RunAsync(options["server"], int.Parse(options.GetValueOrDefault("selectors", "1000000")), options["queries"]);
        break;
    case "batch":
        await Load.BatchAsync(options["server"], options["queries"], Seconds(options), int.Parse(options.GetValueOrDefault("concurrency", "4")));
        break;
    case "stream":
        await Load.StreamAsync(options["server"], options["queries"], Seconds(options));
        break;
    case "unary" or "single":
        await Load.UnaryAsync(options["server"], options["queries"], Seconds(options), int.Parse(options.GetValueOrDefault("rate", "10000")),
            sdk: args[0] == "single", watchPid: options.TryGetValue("watch", out var watchPid) ? int.Parse(watchPid) : null,
            hedgeAfterMs: double.Parse(options.GetValueOrDefault("hedge-after-ms", "0"), System.Globalization.CultureInfo.InvariantCulture));
        break;
    case "lean":
        return LeanLoad.Run(options["server"], options["queries"], Seconds(options), int.Parse(options.GetValueOrDefault("rate", "10000")),
            double.Parse(options.GetValueOrDefault("warmup", "1"), System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(options.GetValueOrDefault("tick-us", "0")), options.GetValueOrDefault("hiccups") == "1",
            int.Parse(options.GetValueOrDefault("connections", "1")),
            double.Parse(options.GetValueOrDefault("hedge-after-ms", "0"), System.Globalization.CultureInfo.InvariantCulture),
            double.Parse(options.GetValueOrDefault("hedge-budget", "0.1"), System.Globalization.CultureInfo.InvariantCulture));
    case "hiccups":
        return HiccupMeter.Run(Seconds(options), int.Parse(options.GetValueOrDefault("interval-us", "1000")),
            options.GetValueOrDefault("busy-cpus") == "1");
    case "watch":
        using (var watch = ServerWatch.TryAttach(int.Parse(options["pid"])))
        {
            if (watch is null)
            {
                return 1;
            }

            await Task.Delay(1000);
            watch.Start();
            await Task.Delay(TimeSpan.FromSeconds(Seconds(options)));
            watch.Report(0);
        }

        break;
    case "profile":
        return Profile.Run(int.Parse(options["pid"]), Seconds(options), int.Parse(options.GetValueOrDefault("top", "25")), options.GetValueOrDefault("focus"));
    case "stages":
        Stages.Run(int.Parse(options.GetValueOrDefault("selectors", "1000000")), int.Parse(options.GetValueOrDefault("rounds", "20")));
        break;
    case "encode":
        Load.Encode(options["queries"], options["out"]);
        break;
    case "bdn":
        BenchmarkRunner.Run<CheckEngineBenchmarks>(args: args[1..]);
        break;
    default:
        Console.Error.WriteLine("usage: seed|batch|stream|unary|single|lean|hiccups|watch|profile|stages|encode|bdn [--server URL] [--queries FILE] [--selectors N] [--seconds S] [--rate R] [--concurrency C]");
        return 2;
}

return 0;

static double Seconds(Dictionary<string, string> options) => double.Parse(options.GetValueOrDefault("seconds", "10"), System.Globalization.CultureInfo.InvariantCulture);

internal static class Args
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                result[args[i][2..]] = args[i + 1];
            }
        }

        return result;
    }
}
