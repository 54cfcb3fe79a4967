using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OptOutRegistry.Filtering;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Benchmarks.Filtering;

/// <summary>
/// <c>generate DIR [records] [selectors] [covered‰] [textBytes]</c> writes the benchmark data;
/// <c>run DIR FILE [workers]</c> filters FILE in process against DIR/registry.snapshot and prints the rate;
/// <c>text [MiB]</c> times ISCC Text-Code; anything else goes to BenchmarkDotNet. <c>run.sh</c> drives the side-by-side
/// run with DuckDB (benchmarks/OptOutRegistry.Benchmarks.Filtering/RESULTS.md).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (args.FirstOrDefault())
        {
            case "generate":
                Data.Generate(args[1], Arg(args, 2, 1_000_000), Arg(args, 3, 1_000_000), (int)Arg(args, 4, 100), (int)Arg(args, 5, 0));
                return 0;
            case "run":
                return Run(args[1], args[2], (int)Arg(args, 3, 0), args.Length > 4 ? args[4] : null);
            case "probe":
                return Probe(args[1]);
            case "text":
                return Text((int)Arg(args, 1, 16));
            default:
                var config = DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(5));
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
                _ = inv;
                return 0;
        }
    }

    private static long Arg(string[] args, int index, long fallback) =>
        args.Length > index ? long.Parse(args[index], CultureInfo.InvariantCulture) : fallback;

    // In process: snapshot load and filtering timed apart, wall and CPU (all threads of the process).
    private static int Run(string directory, string file, int workers, string? textField)
    {
        var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        var checker = SnapshotFilterChecker.Load(Path.Combine(directory, "registry.snapshot"));
        var loadSeconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        clock.Restart();
        FilterReport report;
        using (var input = new FileStream(Path.Combine(directory, file), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var kept = new FileStream(Path.Combine(directory, "optout-kept.out"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        using (var removed = new FileStream(Path.Combine(directory, "optout-removed.out"), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            report = DatasetFilter.Run(input, kept, removed, checker, new FilterOptions
            {
                InputName = file,
                Workers = workers,
                TextField = textField is null ? null : new FieldPath(textField),
            });
        }

        var wall = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        var bytes = new FileInfo(Path.Combine(directory, file)).Length;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"optout-inprocess workers={(workers == 0 ? Environment.ProcessorCount : workers)} records={report.InputRecords} kept={report.Kept} removed={report.Removed} rejected={report.Rejected} load_s={loadSeconds:F2} wall_s={wall:F3} cpu_s={cpu:F3} records_per_s={report.InputRecords / wall:F0} records_per_cpu_s={report.InputRecords / cpu:F0} mb_per_s={bytes / 1e6 / wall:F1}"));
        return 0;
    }

    // Where the time goes, one thread: JSON field extraction alone, then the matcher alone on the extracted URLs.
    private static int Probe(string directory)
    {
        var checker = SnapshotFilterChecker.Load(Path.Combine(directory, "registry.snapshot"));
        var lines = File.ReadAllLines(Path.Combine(directory, "records.jsonl"));
        var bytes = Array.ConvertAll(lines, l => Encoding.UTF8.GetBytes(l));
        var urls = new string?[lines.Length];
        var path = new FieldPath("url");
        for (var round = 0; round < 2; round++)
        {
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (var i = 0; i < bytes.Length; i++)
            {
                FieldPath.Extract(bytes[i], path, null, out urls[i], out _);
            }

            var parse = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            var batch = new FilterCheckBatch();
            cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (var i = 0; i < urls.Length; i += 4096)
            {
                batch.Clear();
                for (var j = i; j < Math.Min(urls.Length, i + 4096); j++)
                {
                    batch.Add(OptOutRegistry.Core.Matching.SubjectKind.Url, urls[j]!);
                }

                checker.CheckAsync(batch, default).AsTask().GetAwaiter().GetResult();
            }

            var check = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"probe json_extract_per_cpu_s={urls.Length / parse:F0} check_per_cpu_s={urls.Length / check:F0}"));
        }

        return 0;
    }

    private static int Text(int mebibytes)
    {
        var words = "river stone lantern orchard meadow harbour violet copper whisper thunder quiet amber glacier falcon ember willow canyon silver marble tide".Split(' ');
        var rng = new Random(1);
        var sb = new StringBuilder(mebibytes << 20);
        while (sb.Length < mebibytes << 20)
        {
            sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(12) == 0 ? ".\n" : " ");
        }

        var text = sb.ToString();
        var bytes = Encoding.UTF8.GetBytes(text);
        var best = double.MaxValue;
        var bestCpu = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var hasher = new TextCodeHasher();
            hasher.Append(bytes);
            _ = hasher.GetCodeAndReset();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
            bestCpu = Math.Min(bestCpu, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iscc-text-code mib={mebibytes} mb_per_s={bytes.Length / 1e6 / best:F1} mb_per_cpu_s={bytes.Length / 1e6 / bestCpu:F1}"));
        return 0;
    }
}

/// <summary>The pipeline on 100,000 in-memory JSON Lines records against 100,000 URL selectors, outputs discarded.</summary>
[MemoryDiagnoser]
public class FilterBenchmarks
{
    private string _directory = string.Empty;
    private byte[] _records = [];
    private SnapshotFilterChecker? _checker;

    [Params(1, 2)]
    public int Workers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "optout-filter-bdn-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Data.Generate(_directory, 100_000, 100_000, 100, 0);
        _records = File.ReadAllBytes(Path.Combine(_directory, "records.jsonl"));
        _checker = SnapshotFilterChecker.Load(Path.Combine(_directory, "registry.snapshot"));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark]
    public long JsonLines100k() =>
        DatasetFilter.Run(new MemoryStream(_records, writable: false), Stream.Null, Stream.Null, _checker!, new FilterOptions { InputName = "r.jsonl", Workers = Workers }).Removed;
}
