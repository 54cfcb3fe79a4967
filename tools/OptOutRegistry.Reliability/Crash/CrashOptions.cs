namespace OptOutRegistry.Reliability.Crash;

/// <summary>How a crash run is shaped. The defaults are the long run (issue 9: at least 50 kills per store).</summary>
public sealed record CrashOptions
{
    /// <summary><c>sqlite</c> (default) or <c>postgres</c> (a temporary PostgreSQL server is started for the run).</summary>
    public string Store { get; init; } = "sqlite";

    /// <summary>How many times the server is killed with SIGKILL (each kill is followed by a restart and a full audit).</summary>
    public int Kills { get; init; } = 50;

    /// <summary>Concurrent registering clients, each with its own holder account.</summary>
    public int Clients { get; init; } = 4;

    /// <summary>Shortest time the clients write before the kill.</summary>
    public TimeSpan MinWriteTime { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest time the clients write before the kill (the delay is uniform between the two).</summary>
    public TimeSpan MaxWriteTime { get; init; } = TimeSpan.FromMilliseconds(2500);

    /// <summary>Share of client operations that revoke one of the client's acknowledged registrations.</summary>
    public double RevokeShare { get; init; } = 0.15;

    /// <summary>Seed of the random delays and choices; the report prints it so a failing run can be repeated.</summary>
    public int Seed { get; init; } = Environment.TickCount;

    /// <summary>How long a (re)start may take before the run fails (a loaded CI machine is slow to start .NET).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A directory for the data directory; null for a new temporary one (deleted at the end).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Progress lines (one per kill); null for none.</summary>
    public TextWriter? Progress { get; init; }

    /// <summary>
    /// Fault injection, for testing the auditor itself: called after each kill, before the restart, with the round and
    /// the server's data directory (e.g. to roll the database back to an earlier copy, which the audit must catch).
    /// </summary>
    public Func<int, string, Task>? AfterKill { get; init; }

    /// <summary>Stop after this many audit failures (the report keeps them all up to here).</summary>
    public int MaxFailures { get; init; } = 50;
}
