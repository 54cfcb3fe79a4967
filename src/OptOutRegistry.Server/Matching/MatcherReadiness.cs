using OptOutRegistry.Grpc;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// Whether the server may answer checks yet. Two conditions, both needed:
/// <list type="number">
/// <item><b>Caught up</b>: the matcher reflects the registry as of the start — a primary rebuilt from its store, or, when
/// the rebuild failed, replayed the event log up to the head sequence the store had then (<see cref="MatcherHost"/>:
/// 16–20 s for 10 M reservations); a replica loaded a snapshot, or replayed the feed up to the primary's head
/// (<see cref="Replication.ReplicaFollower"/>). Before that an answer would be UNKNOWN for works that are reserved, and
/// a crawler would take it as leave to use them.</item>
/// <item><b>Warm</b> (<c>--warm-up on</c>, the default): the server has sent itself a few real checks through every check
/// entry point (<see cref="Warmup.ServerWarmUp"/>), so the first callers do not pay for the JIT and first-use setup
/// (~200–400 ms for the first request of a cold server, benchmarks/startup/RESULTS.md).</item>
/// </list>
/// Until both hold, checks wait (<see cref="Check.CheckAccess"/>, up to <c>check-wait-for-matcher</c>) and are answered
/// UNAVAILABLE with a retry hint if it takes longer; the server's health (<c>grpc.health.v1</c>, service "") says
/// NOT_SERVING meanwhile, so that load balancers send checks elsewhere. The two follow one state, kept here.
/// </summary>
public sealed class MatcherReadiness
{
    private readonly HealthStatusRegistry _health;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private volatile bool _isReady;
    private volatile bool _isCaughtUp;
    private bool _warm;

    /// <summary>Readiness that also waits for the warm-up when <paramref name="warmUp"/> is on.</summary>
    public MatcherReadiness(HealthStatusRegistry health, Warmup.WarmUpOptions warmUp)
    {
        ArgumentNullException.ThrowIfNull(warmUp);
        _health = health;
        _warm = !warmUp.Enabled;
        // NOT_SERVING from the start: the health registry says SERVING until told otherwise, and the hosted services that
        // call MarkLoading run their ExecuteAsync in the background, possibly after Kestrel already listens. This is
        // constructed with them, before the server starts.
        _health.SetStatus(string.Empty, ServingStatus.NotServing);
    }

    /// <summary>True once the matcher has caught up and the server is warm (never false again): checks are admitted.</summary>
    public bool IsReady => _isReady;

    /// <summary>Completes when <see cref="IsReady"/> becomes true.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>True once the matcher reflects the registry as of the start (never false again).</summary>
    public bool IsCaughtUp => _isCaughtUp;

    /// <summary>Completes when <see cref="IsCaughtUp"/> becomes true.</summary>
    public Task WhenCaughtUp => _caughtUp.Task;

    /// <summary>The matcher is being loaded: health NOT_SERVING until the server is ready.</summary>
    public void MarkLoading()
    {
        lock (_gate)
        {
            if (!_isReady)
            {
                _health.SetStatus(string.Empty, ServingStatus.NotServing);
            }
        }
    }

    /// <summary>
    /// The matcher reflects the registry as of the start. Releases the warm-up; with the warm-up done (or off) the server
    /// is ready: health SERVING, and the checks waiting are released.
    /// </summary>
    public void MarkCaughtUp()
    {
        lock (_gate)
        {
            _isCaughtUp = true;
            TryReady();
        }

        _caughtUp.TrySetResult();
    }

    /// <summary>The warm-up is over (done, failed or skipped): with the matcher caught up the server is ready.</summary>
    public void MarkWarm()
    {
        lock (_gate)
        {
            _warm = true;
            TryReady();
        }
    }

    private void TryReady()
    {
        if (_isReady || !_isCaughtUp || !_warm)
        {
            return;
        }

        _health.SetStatus(string.Empty, ServingStatus.Serving);
        _isReady = true;
        _ready.TrySetResult();
    }
}
