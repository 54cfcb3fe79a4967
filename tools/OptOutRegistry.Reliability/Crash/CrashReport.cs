using System.Globalization;
using System.Text;

namespace OptOutRegistry.Reliability.Crash;

/// <summary>What one kill-restart-audit round saw.</summary>
/// <param name="Round">0-based round.</param>
/// <param name="WriteTime">How long the clients wrote before the SIGKILL.</param>
/// <param name="Acknowledged">Registrations acknowledged (with a receipt) in this round.</param>
/// <param name="Revoked">Revocations acknowledged in this round.</param>
/// <param name="InFlightAtKill">Writes sent but not answered when the server died (their outcome is unknown).</param>
/// <param name="UnacknowledgedPresent">Of those, registrations found whole after the restart.</param>
/// <param name="TreeSize">The log's size after the restart.</param>
/// <param name="RestartTime">From the kill until the restarted server answered.</param>
public sealed record CrashRound(int Round, TimeSpan WriteTime, int Acknowledged, int Revoked, int InFlightAtKill, int UnacknowledgedPresent, long TreeSize, TimeSpan RestartTime);

/// <summary>The outcome of a crash run: counts of what was written and verified, and every audit failure.</summary>
public sealed class CrashReport
{
    private readonly List<string> _failures = [];
    private readonly List<CrashRound> _rounds = [];

    /// <summary>Creates an empty report.</summary>
    public CrashReport(string store, int seed)
    {
        Store = store;
        Seed = seed;
    }

    /// <summary>The store the server ran on.</summary>
    public string Store { get; }

    /// <summary>The random seed (repeat a run with <c>--seed</c>).</summary>
    public int Seed { get; }

    /// <summary>SIGKILLs done.</summary>
    public int Kills { get; internal set; }

    /// <summary>Registrations acknowledged with a receipt, over the whole run.</summary>
    public long AcknowledgedRegistrations { get; internal set; }

    /// <summary>Revocations acknowledged with a receipt, over the whole run.</summary>
    public long AcknowledgedRevocations { get; internal set; }

    /// <summary>Inclusion proofs of acknowledged events checked against a post-restart tree head (summed over audits).</summary>
    public long InclusionChecks { get; internal set; }

    /// <summary>Tree heads handed out before a crash whose consistency with the post-restart head was proven.</summary>
    public long ConsistencyChecks { get; internal set; }

    /// <summary>Writes whose answer was lost in a crash (outcome unknown to the client).</summary>
    public long InFlightAtKill { get; internal set; }

    /// <summary>Of those, registrations found whole after the restart (allowed: they committed before the kill).</summary>
    public long UnacknowledgedPresent { get; internal set; }

    /// <summary>Registrations whose answer was lost, retried after the restart with the same idempotency key.</summary>
    public long Retries { get; internal set; }

    /// <summary>Server verdicts compared with a matcher rebuilt from a fresh snapshot (summed over audits).</summary>
    public long VerdictsCompared { get; internal set; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Every audit failure, in order (empty when the run passed).</summary>
    public IReadOnlyList<string> Failures => _failures;

    /// <summary>Per-round figures.</summary>
    public IReadOnlyList<CrashRound> Rounds => _rounds;

    /// <summary>True when every audit passed.</summary>
    public bool Passed => _failures.Count == 0;

    internal void Fail(string failure)
    {
        lock (_failures)
        {
            _failures.Add(failure);
        }
    }

    internal void Add(CrashRound round) => _rounds.Add(round);

    /// <summary>A Markdown summary (what RESULTS.md quotes).</summary>
    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"| store | kills | registrations acked | revocations acked | in flight at kill | of those present whole | inclusion proofs checked | tree heads proven consistent | verdicts compared | idempotent retries | failures | wall time |\n");
        sb.Append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        sb.Append(c, $"| {Store} | {Kills} | {AcknowledgedRegistrations} | {AcknowledgedRevocations} | {InFlightAtKill} | {UnacknowledgedPresent} | {InclusionChecks} | {ConsistencyChecks} | {VerdictsCompared} | {Retries} | {_failures.Count} | {Elapsed.TotalSeconds:F0} s |\n");
        if (_rounds.Count > 0)
        {
            var restarts = _rounds.Select(r => r.RestartTime.TotalSeconds).Order().ToArray();
            sb.Append(c, $"\nRestart after SIGKILL until the server answered: median {restarts[restarts.Length / 2]:F1} s, max {restarts[^1]:F1} s; final log size {_rounds[^1].TreeSize} events; seed {Seed}.\n");
        }

        foreach (var failure in _failures)
        {
            sb.Append("- FAILED: ").Append(failure).Append('\n');
        }

        return sb.ToString();
    }
}
