namespace OptOutRegistry.Server.Matching;

/// <summary>
/// Whether the matcher holds the registry yet. Until it does — a primary rebuilding from its store at start
/// (<see cref="MatcherHost"/>: 16–20 s for 10 M reservations), a replica loading its first snapshot
/// (<see cref="Replication.ReplicaFollower"/>) — an answer from it would be UNKNOWN for works that are reserved, and a
/// crawler would take that as leave to use them. So checks wait for it (<see cref="Check.CheckAccess"/>, up to
/// <c>check-wait-for-matcher</c>), and answer UNAVAILABLE with a retry hint if it takes longer; health says NOT_SERVING
/// meanwhile, so that load balancers send checks elsewhere.
/// </summary>
public sealed class MatcherReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _isReady;

    /// <summary>True once the matcher was built from the store or loaded from a snapshot (never false again).</summary>
    public bool IsReady => _isReady;

    /// <summary>Completes when <see cref="IsReady"/> becomes true.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>Marks the matcher ready and releases the checks waiting for it.</summary>
    public void MarkReady()
    {
        _isReady = true;
        _ready.TrySetResult();
    }
}
