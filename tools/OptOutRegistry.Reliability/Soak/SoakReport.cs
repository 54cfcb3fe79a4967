using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OptOutRegistry.Reliability.Soak;

/// <summary>One sample of the server during a soak.</summary>
/// <param name="ElapsedSeconds">Seconds since the load started.</param>
/// <param name="RssBytes">Server resident set size (/proc/PID/status VmRSS).</param>
/// <param name="GcHeapBytes">Managed heap size (runtime counter gc-heap-size), null when unavailable.</param>
/// <param name="Checks">Check calls in the interval.</param>
/// <param name="Writes">Registrations and revocations in the interval.</param>
/// <param name="P50Ms">Median check call latency in the interval.</param>
/// <param name="P99Ms">99th percentile check call latency in the interval.</param>
/// <param name="RssAnonBytes">The anonymous part of RSS (GC heap, native allocations, SQLite's page cache).</param>
/// <param name="RssFileBytes">The file-backed part of RSS (assemblies, the memory-mapped SQLite database).</param>
/// <param name="StoreBytes">Size of the server's data directory (database, WAL) at the sample.</param>
/// <param name="RssShmemBytes">The shared-memory part of RSS (the runtime's double-mapped JIT code, SQLite's WAL index).</param>
public sealed record SoakSample(double ElapsedSeconds, long RssBytes, long? GcHeapBytes, long Checks, long Writes, double P50Ms, double P99Ms,
    long RssAnonBytes = 0, long RssFileBytes = 0, long StoreBytes = 0, long RssShmemBytes = 0);

/// <summary>Check latency of one minute (or one part of a short run).</summary>
public sealed record LatencyRow(string Period, long Checks, double P50Ms, double P99Ms);

/// <summary>The outcome of a soak: the memory curve, the latency table, errors, and the verdicts on them.</summary>
public sealed class SoakReport
{
    /// <summary>Wall time of the load phase.</summary>
    public double DurationSeconds { get; init; }

    /// <summary>The warm-up excluded from the verdicts.</summary>
    public double WarmUpSeconds { get; init; }

    /// <summary>Check calls answered (a call carries <see cref="SubjectsPerCheck"/> subjects).</summary>
    public long Checks { get; init; }

    /// <summary>Of which over the Check stream.</summary>
    public long StreamChecks { get; init; }

    /// <summary>Subjects per check call.</summary>
    public int SubjectsPerCheck { get; init; }

    /// <summary>Registrations acknowledged.</summary>
    public long Registrations { get; init; }

    /// <summary>Revocations acknowledged.</summary>
    public long Revocations { get; init; }

    /// <summary>Failed calls by status (or "wrong verdict"), excluding rate-limit answers.</summary>
    public IReadOnlyDictionary<string, long> Errors { get; init; } = new Dictionary<string, long>();

    /// <summary>The first few error messages, for diagnosis.</summary>
    public IReadOnlyList<string> ErrorExamples { get; init; } = [];

    /// <summary>RESOURCE_EXHAUSTED answers (intended rate limiting; the harness runs with limits off, so 0 is expected).</summary>
    public long RateLimited { get; init; }

    /// <summary>The samples, one per interval.</summary>
    public IReadOnlyList<SoakSample> Samples { get; init; } = [];

    /// <summary>Check latency per minute (per third for runs shorter than three minutes).</summary>
    public IReadOnlyList<LatencyRow> Latency { get; init; } = [];

    /// <summary>p99 of the first third after warm-up, and of the last third.</summary>
    public (double First, double Last) P99Thirds { get; init; }

    /// <summary>RSS right after warm-up and at the end.</summary>
    public (long AfterWarmUp, long End) Rss { get; init; }

    /// <summary>The anonymous part of RSS right after warm-up and at the end.</summary>
    public (long AfterWarmUp, long End) RssAnon { get; init; }

    /// <summary>The data directory's size on disk right after warm-up and at the end.</summary>
    public (long AfterWarmUp, long End) StoreSize { get; init; }

    /// <summary>Managed heap right after warm-up and at the end (null when the counter was unavailable).</summary>
    public (long? AfterWarmUp, long? End) GcHeap { get; init; }

    /// <summary>Why the GC heap is missing, when it is.</summary>
    public string? GcHeapUnavailable { get; init; }

    /// <summary>The checks that failed (errors, memory growth, p99 growth); empty when the run passed.</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    /// <summary>True when there were no errors and memory and p99 stayed within their bounds.</summary>
    public bool Passed => Failures.Count == 0;

    /// <summary>The report as Markdown (what RESULTS.md quotes).</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var errors = Errors.Values.Sum();
        sb.Append(c, $"{DurationSeconds:F0} s of load ({WarmUpSeconds:F0} s warm-up): {Checks:N0} check calls of {SubjectsPerCheck} URLs ({StreamChecks:N0} on streams, {Checks * SubjectsPerCheck / Math.Max(1, DurationSeconds):N0} URLs/s), ")
          .Append(c, $"{Registrations:N0} registrations, {Revocations:N0} revocations; errors {errors}, rate-limited {RateLimited}.\n\n");
        foreach (var (kind, count) in Errors)
        {
            sb.Append(c, $"- error {kind}: {count}\n");
        }

        foreach (var example in ErrorExamples)
        {
            sb.Append("  - e.g. ").Append(example).Append('\n');
        }

        sb.Append("\n| t (s) | RSS (MiB) | anon (MiB) | file (MiB) | shmem (MiB) | GC heap (MiB) | store on disk (MiB) | checks | writes | p50 (ms) | p99 (ms) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var s in Samples)
        {
            sb.Append(c, $"| {s.ElapsedSeconds:F0} | {s.RssBytes / 1048576.0:F1} | {s.RssAnonBytes / 1048576.0:F1} | {s.RssFileBytes / 1048576.0:F1} | {s.RssShmemBytes / 1048576.0:F1} | ")
              .Append(c, $"{(s.GcHeapBytes is { } gc ? (gc / 1048576.0).ToString("F1", c) : "n/a")} | {s.StoreBytes / 1048576.0:F1} | {s.Checks} | {s.Writes} | {s.P50Ms:F2} | {s.P99Ms:F2} |\n");
        }

        sb.Append("\n| period | check calls | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|\n");
        foreach (var row in Latency)
        {
            sb.Append(c, $"| {row.Period} | {row.Checks} | {row.P50Ms:F2} | {row.P99Ms:F2} |\n");
        }

        sb.Append(c, $"\nRSS after warm-up {Rss.AfterWarmUp / 1048576.0:F1} MiB, at the end {Rss.End / 1048576.0:F1} MiB ")
          .Append(c, $"(anonymous {RssAnon.AfterWarmUp / 1048576.0:F1} -> {RssAnon.End / 1048576.0:F1} MiB; store on disk {StoreSize.AfterWarmUp / 1048576.0:F1} -> {StoreSize.End / 1048576.0:F1} MiB); ");
        sb.Append(GcHeap.AfterWarmUp is { } g0 && GcHeap.End is { } g1
            ? string.Create(c, $"GC heap {g0 / 1048576.0:F1} -> {g1 / 1048576.0:F1} MiB; ")
            : $"GC heap unavailable ({GcHeapUnavailable ?? "no counter reports"}); ");
        sb.Append(c, $"p99 first third {P99Thirds.First:F2} ms, last third {P99Thirds.Last:F2} ms.\n");
        foreach (var failure in Failures)
        {
            sb.Append("- FAILED: ").Append(failure).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The samples and latency rows as JSON (for plotting the curve).</summary>
    public string ToJson() => JsonSerializer.Serialize(new
    {
        DurationSeconds,
        WarmUpSeconds,
        Checks,
        StreamChecks,
        SubjectsPerCheck,
        Registrations,
        Revocations,
        Errors,
        RateLimited,
        Samples,
        Latency,
        Failures,
    }, new JsonSerializerOptions { WriteIndented = true });
}
