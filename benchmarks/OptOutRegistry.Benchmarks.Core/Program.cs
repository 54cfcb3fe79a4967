using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Core;

// `--table [sizes…]`: one in-process run printing build time, memory per selector, checks/s and write visibility
//   (Stopwatch, best of 5 passes), e.g. `--table 1000000 10000000`.
// `--export <dir> <selectors>`: writes the canonical keys Lucene indexes and queries (run.sh uses it).
// `--snapshot-load <file> [mirror|offline|verify]`: one snapshot load in this process (snapshot-load.sh runs it in a loop).
// Anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--table")
{
    var sizes = args.Length > 1 ? args[1..].Select(int.Parse).ToArray() : [1_000_000, 10_000_000];
    TableRun.Run(sizes);
    return;
}

if (args.Length == 3 && args[0] == "--export")
{
    TableRun.Export(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (args.Length is 2 or 3 && args[0] == "--snapshot-load")
{
    // SNAPSHOT_LOAD_REPEAT=N: N loads in this process, to attach a sampling profiler (Benchmarks.Check's `profile --pid`).
    var repeat = int.TryParse(Environment.GetEnvironmentVariable("SNAPSHOT_LOAD_REPEAT"), out var n) ? n : 1;
    for (var i = 0; i < repeat; i++)
    {
        SnapshotLoadRun.Run(args[1], args.Length == 3 ? args[2] : "mirror");
    }

    return;
}

BenchmarkSwitcher.FromAssembly(typeof(MatcherBenchmarks).Assembly).Run(args);
