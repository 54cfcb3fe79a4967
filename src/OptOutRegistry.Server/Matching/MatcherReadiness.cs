using OptOutRegistry.Grpc;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// Whether the matcher holds the registry yet. Until it does — a primary rebuilding from its store at start
/// (<see cref="MatcherHost"/>: 16–20 s for 10 M reservations), a replica loading its first snapshot
/// (<see cref="Replication.ReplicaFollower"/>) — an answer from it would be UNKNOWN for works that are reserved, and a
/// crawler would take that as leave to use them. So checks wait for it (<see cref="Check.CheckAccess"/>, up to
/// <c>check-wait-for-matcher</c>), and answer UNAVAILABLE with a retry hint if it takes longer; the server's health
/// (<c>grpc.health.v1</c>, service "") says NOT_SERVING meanwhile, so that load balancers send checks elsewhere. The
/// two follow one state, kept here.
/// </summary>
public sealed class MatcherReadiness(HealthStatusRegistry health)
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _isReady;

    /// <summary>True once the matcher was built from the store or loaded from a snapshot (never false again).</summary>
    public bool IsReady => _isReady;

    /// <summary>Completes when <see cref="IsReady"/> becomes true.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>The matcher is being loaded: health NOT_SERVING until <see cref="MarkReady"/>.</summary>
    public void MarkLoading() => health.SetStatus(string.Empty, ServingStatus.NotServing);

    /// <summary>Marks the matcher ready (health SERVING) and releases the checks waiting for it.</summary>
    public void MarkReady()
    {
        health.SetStatus(string.Empty, ServingStatus.Serving);
        _isReady = true;
        _ready.TrySetResult();
    }
}
