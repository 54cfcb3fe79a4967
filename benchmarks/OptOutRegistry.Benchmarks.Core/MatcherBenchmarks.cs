using BenchmarkDotNet.Attributes;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>
/// URL checks, raw string → verdict, one core, against 1 M and 10 M selectors of the mix; next to a
/// <see cref="HashSet{T}"/> of the raw registered URLs (exact strings only: no canonicalisation, prefixes,
/// domains or time). Each invocation checks <see cref="Batch"/> different URLs, so the figures include cache misses.
/// </summary>
[MemoryDiagnoser]
public class MatcherBenchmarks
{
    public const int Batch = 4096;

    private MatcherIndex _index = null!;
    private HashSet<string> _rawSet = null!;
    private string[] _covered = null!;
    private string[] _unknownHost = null!;
    private string[] _knownHost = null!;
    private string[] _mixed = null!;
    private DateTimeOffset _asOf;
    private readonly Verdict[] _verdicts = new Verdict[Batch];
    private readonly OptOutRegistry.Core.Urls.UrlError[] _errors = new OptOutRegistry.Core.Urls.UrlError[Batch];

    /// <summary>Sizes from BENCH_SIZES (comma-separated), default 1 M and 10 M selectors.</summary>
    public static IEnumerable<int> Sizes() =>
        (Environment.GetEnvironmentVariable("BENCH_SIZES") ?? "1000000,10000000").Split(',').Select(int.Parse);

    [ParamsSource(nameof(Sizes))]
    public int Selectors { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var workload = Workload.Create(Selectors);
        _index = MatcherIndex.Build(workload.Reservations, new MatcherOptions { ExpectedSelectors = Selectors });
        _rawSet = new HashSet<string>(workload.RegisteredUrls, StringComparer.Ordinal);
        _covered = workload.CoveredUrls(Batch);
        _unknownHost = workload.UncoveredUnknownHostUrls(Batch);
        _knownHost = workload.UncoveredKnownHostUrls(Batch);
        _mixed = workload.MixedUrls(Batch);
        _asOf = Workload.CheckTime;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrl covered")]
    public int Covered() => Run(_covered);

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrl uncovered, host without rules")]
    public int UncoveredUnknownHost() => Run(_unknownHost);

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrl uncovered, host with rules")]
    public int UncoveredKnownHost() => Run(_knownHost);

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrl 50/50 mix")]
    public int Mixed() => Run(_mixed);

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrls 50/50 mix (batch API)")]
    public int MixedBatch()
    {
        _index.CheckUrls(_mixed!, UsageCategory.TrainAi, _asOf, _verdicts, _errors);
        return (int)_verdicts[0];
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "CheckUrls covered (batch API)")]
    public int CoveredBatch()
    {
        _index.CheckUrls(_covered!, UsageCategory.TrainAi, _asOf, _verdicts, _errors);
        return (int)_verdicts[0];
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "HashSet<string> raw URL (peer)")]
    public int HashSetMixed()
    {
        var hits = 0;
        foreach (var url in _mixed)
        {
            if (_rawSet.Contains(url))
            {
                hits++;
            }
        }

        return hits;
    }

    private int Run(string[] urls)
    {
        var disallowed = 0;
        foreach (var url in urls)
        {
            if (_index.CheckUrl(url, UsageCategory.TrainAi, _asOf) == Verdict.Disallowed)
            {
                disallowed++;
            }
        }

        return disallowed;
    }
}
