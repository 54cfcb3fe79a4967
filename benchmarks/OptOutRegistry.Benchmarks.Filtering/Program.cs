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
            case "load-probe":
                return LoadProbe(args[1]);
            case "load-ab":
                return LoadAb(args[1], (int)Arg(args, 2, 3));
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
        var loadCpu0 = process.TotalProcessorTime;
        var checker = SnapshotFilterChecker.Load(Path.Combine(directory, "registry.snapshot"));
        var loadSeconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        var loadCpu = (cpu0 - loadCpu0).TotalSeconds;
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
            $"optout-inprocess workers={(workers == 0 ? Environment.ProcessorCount : workers)} records={report.InputRecords} kept={report.Kept} removed={report.Removed} rejected={report.Rejected} load_s={loadSeconds:F2} load_cpu_s={loadCpu:F2} wall_s={wall:F3} cpu_s={cpu:F3} records_per_s={report.InputRecords / wall:F0} records_per_cpu_s={report.InputRecords / cpu:F0} mb_per_s={bytes / 1e6 / wall:F1}"));
        return 0;
    }

    // Where the time goes, one thread: the pipeline with a checker that answers nothing (reading, splitting, JSON
    // scanning, writing), then the matcher alone on the extracted URLs, per URL (TryCheckUrl on the batch's characters,
    // the filter's path) and through the batch API (CheckUrls, which takes strings).
    private static int Probe(string directory)
    {
        var checker = SnapshotFilterChecker.Load(Path.Combine(directory, "registry.snapshot"));
        var matcher = checker.Matcher;
        var file = Path.Combine(directory, "records.jsonl");
        var lines = File.ReadAllLines(file);
        var urls = new string?[lines.Length];
        var path = new FieldPath("url");
        for (var i = 0; i < lines.Length; i++)
        {
            FieldPath.Extract(Encoding.UTF8.GetBytes(lines[i]), path, null, out urls[i], out _);
        }

        var verdicts = new OptOutRegistry.Core.Model.Verdict[4096];
        var errors = new OptOutRegistry.Core.Urls.UrlError[4096];
        var purpose = OptOutRegistry.Core.Model.UsageCategory.TrainAi;
        var asOf = DateTimeOffset.UtcNow;
        for (var round = 0; round < 3; round++)
        {
            var cpu0 = ThreadCpu();
            using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            {
                DatasetFilter.Run(input, Stream.Null, Stream.Null, new NullChecker(), new FilterOptions { InputName = file, Workers = 1 });
            }

            var pipeline = ProcessCpu() - cpu0;
            cpu0 = ThreadCpu();
            for (var i = 0; i < urls.Length; i++)
            {
                matcher.TryCheckUrl(urls[i], purpose, asOf, out _, out _);
            }

            var single = ThreadCpu() - cpu0;
            cpu0 = ThreadCpu();
            for (var i = 0; i < urls.Length; i += 4096)
            {
                var n = Math.Min(4096, urls.Length - i);
                matcher.CheckUrls(urls.AsSpan(i, n), purpose, asOf, verdicts, errors);
            }

            var batched = ThreadCpu() - cpu0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"probe round={round} pipeline_without_matcher_per_cpu_s={urls.Length / pipeline:F0} try_check_url_per_cpu_s={urls.Length / single:F0} check_urls_batch_per_cpu_s={urls.Length / batched:F0}"));
        }

        return 0;
    }

    private static double ThreadCpu() => ProcessCpu();

    private static double ProcessCpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

    /// <summary>Answers every subject Unknown: the pipeline's own cost without the matcher.</summary>
    private sealed class NullChecker : IFilterChecker
    {
        public RegistryState State { get; } = new("none", "none", 0, DateTimeOffset.UnixEpoch, null, null, null);

        public int Concurrency => 1;

        public ValueTask CheckAsync(FilterCheckBatch batch, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    // Where the snapshot load goes, one thread: file read + SHA-256, protobuf parse, conversion to Core, matcher build.
    private static int LoadProbe(string directory)
    {
        var path = Path.Combine(directory, "registry.snapshot");
        for (var round = 0; round < 2; round++)
        {
            var cpu = Stopwatch.StartNew();
            var t0 = Process.GetCurrentProcess().TotalProcessorTime;
            var payloads = new List<byte[]>();
            using (var reader = OptOutRegistry.Snapshots.SnapshotReader.Open(File.OpenRead(path)))
            {
                while (reader.TryReadRecord(out _, out var payload))
                {
                    payloads.Add(payload.ToArray());
                }
            }

            var t1 = Process.GetCurrentProcess().TotalProcessorTime;
            var messages = payloads.ConvertAll(p => OptOutRegistry.Api.V1.Reservation.Parser.ParseFrom(p));
            var t2 = Process.GetCurrentProcess().TotalProcessorTime;
            var reservations = messages.ConvertAll(OptOutRegistry.Snapshots.ProtoConvert.ToCore);
            var t3 = Process.GetCurrentProcess().TotalProcessorTime;
            var matcher = OptOutRegistry.Core.Matching.MatcherIndex.Build(reservations, new OptOutRegistry.Core.Matching.MatcherOptions { ExpectedSelectors = 1_000_000 });
            var t4 = Process.GetCurrentProcess().TotalProcessorTime;
            GC.KeepAlive(matcher);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"load-probe read_hash_cpu_s={(t1 - t0).TotalSeconds:F2} protobuf_cpu_s={(t2 - t1).TotalSeconds:F2} to_core_cpu_s={(t3 - t2).TotalSeconds:F2} build_cpu_s={(t4 - t3).TotalSeconds:F2} wall_s={cpu.Elapsed.TotalSeconds:F2}"));
        }

        return 0;
    }

    // Same process, alternating: the round-two load (the file read three times: signature check, a sequential
    // parse/convert/build, digest) against SnapshotFilterChecker.Load (one pass, parallel decode overlapping the build).
    private static int LoadAb(string directory, int rounds)
    {
        var path = Path.Combine(directory, "registry.snapshot");
        for (var round = 0; round < rounds; round++)
        {
            for (var variant = 0; variant < 2; variant++)
            {
                GC.Collect();
                var cpu0 = ProcessCpu();
                var clock = Stopwatch.StartNew();
                long selectors;
                if (variant == 0)
                {
                    selectors = SequentialLoad(path);
                }
                else
                {
                    selectors = SnapshotFilterChecker.Load(path).Matcher.SelectorCount;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"load-ab round={round} variant={(variant == 0 ? "three-pass-sequential" : "one-pass-parallel")} selectors={selectors} wall_s={clock.Elapsed.TotalSeconds:F2} cpu_s={ProcessCpu() - cpu0:F2}"));
            }
        }

        return 0;
    }

    private static long SequentialLoad(string path)
    {
        for (var pass = 0; pass < 2; pass++)
        {
            using var verifier = OptOutRegistry.Snapshots.SnapshotReader.Open(File.OpenRead(path));
            while (verifier.TryReadRecord(out _, out _))
            {
            }

            if (pass == 0 && !verifier.VerifySignature())
            {
                throw new InvalidOperationException("signature");
            }
        }

        var reservations = new List<OptOutRegistry.Core.Model.Reservation>();
        using var reader = OptOutRegistry.Snapshots.SnapshotReader.Open(File.OpenRead(path));
        long count = 0;
        while (reader.TryReadRecord(out _, out var payload))
        {
            var r = OptOutRegistry.Snapshots.ProtoConvert.ToCore(OptOutRegistry.Api.V1.Reservation.Parser.ParseFrom(payload.Span));
            count += r.Selectors.Count;
            reservations.Add(r);
        }

        return OptOutRegistry.Core.Matching.MatcherIndex.Build(reservations, new OptOutRegistry.Core.Matching.MatcherOptions { ExpectedSelectors = count }).SelectorCount;
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
