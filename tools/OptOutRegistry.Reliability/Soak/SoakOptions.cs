namespace OptOutRegistry.Reliability.Soak;

/// <summary>How a soak run is shaped. The defaults are the long run (issue 9: 10 minutes).</summary>
public sealed record SoakOptions
{
    /// <summary>How long the mixed load runs (after seeding).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often memory and latency are sampled.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The warm-up excluded from the memory and latency verdicts (JIT, tiered compilation, caches, the first GCs);
    /// default: a fifth of the run, at most one minute.
    /// </summary>
    public TimeSpan? WarmUp { get; init; }

    /// <summary>Concurrent load workers (each owns one Check stream and one channel's share of unary calls).</summary>
    public int Workers { get; init; } = 4;

    /// <summary>Share of operations that are checks; the rest are registrations and revocations, half each.</summary>
    public double CheckShare { get; init; } = 0.9;

    /// <summary>Subjects per CheckBatch call and per Check stream message.</summary>
    public int SubjectsPerCheck { get; init; } = 100;

    /// <summary>Reservations registered before the load starts.</summary>
    public int SeedReservations { get; init; } = 500;

    /// <summary>
    /// Memory verdict: RSS at the end may exceed RSS right after warm-up by this factor (or by <see cref="MemorySlackBytes"/>,
    /// whichever is larger) before the run counts as leaking.
    /// </summary>
    public double MaxMemoryGrowth { get; init; } = 1.5;

    /// <summary>Absolute allowance for memory growth after warm-up (the registry does grow by what is registered).</summary>
    public long MemorySlackBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>Latency verdict: the last third's p99 may be this many times the first third's before the run fails.</summary>
    public double MaxP99Growth { get; init; } = 5;

    /// <summary>p99 values under this are never counted as growth (scheduling noise on a shared machine).</summary>
    public TimeSpan P99Floor { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Seed of the random choices.</summary>
    public int Seed { get; init; } = Environment.TickCount;

    /// <summary>How long the server may take to start.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Progress lines (one per sample); null for none.</summary>
    public TextWriter? Progress { get; init; }

    internal TimeSpan EffectiveWarmUp => WarmUp ?? TimeSpan.FromTicks(Math.Min(Duration.Ticks / 5, TimeSpan.FromMinutes(1).Ticks));
}
