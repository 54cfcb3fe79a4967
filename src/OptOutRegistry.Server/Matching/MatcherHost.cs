using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// Keeps the matcher current from the store (services-common: "the matcher follows the store, not the write path"):
/// builds it at start from the store's reservation rows in bulk (<see cref="MatcherRebuild"/>), then tails the event log
/// from the sequence those rows were current as of. With SQLite the store signals appends in-process; with
/// PostgreSQL every node tails the shared event table (LISTEN/NOTIFY), so every node of a cluster follows the database.
/// A replica (<c>--follow</c>) runs <see cref="Replication.ReplicaFollower"/> instead.
/// </summary>
public sealed class MatcherHost(RegistryMirror mirror, MatcherReadiness readiness, IServiceProvider services, ILogger<MatcherHost> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var store = services.GetService<IRegistryStore>();
        if (store is null)
        {
            CheckLog.NoStore(logger);
            readiness.MarkCaughtUp();
            return;
        }

        // Until the matcher has caught up checks wait and load balancers are told so (MatcherReadiness).
        readiness.MarkLoading();
        // The sequence the matcher must reach before the server says it is ready: the rebuild's own snapshot when it
        // succeeds; when it fails, the store's head as read after the failure (at least the head when loading started),
        // which the tail below must replay up to. Long.MaxValue: not known yet.
        var catchUpTo = await RebuildAsync(store, stoppingToken).ConfigureAwait(false) ? -1 : long.MaxValue;
        var delay = 100;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (catchUpTo == long.MaxValue)
                {
                    catchUpTo = await store.GetLatestSequenceAsync(stoppingToken).ConfigureAwait(false);
                    MatcherLog.CatchingUp(logger, mirror.AppliedSequence + 1, catchUpTo);
                }

                CaughtUpAt(catchUpTo);
                CheckLog.FollowingStore(logger, mirror.AppliedSequence + 1);
                await foreach (var committed in store.TailEventsAsync(mirror.AppliedSequence + 1, stoppingToken))
                {
                    Apply(committed);
                    if (!readiness.IsCaughtUp)
                    {
                        CaughtUpAt(catchUpTo);
                    }

                    delay = 100;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                CheckLog.FollowFailed(logger, "the store", delay, ex);
                await Task.Delay(delay, stoppingToken);
                delay = Math.Min(delay * 2, 5000);
            }
        }
    }

    // Ready (as far as the matcher goes) once it holds the store's events up to the head it had to reach.
    private void CaughtUpAt(long catchUpTo)
    {
        if (!readiness.IsCaughtUp && mirror.AppliedSequence >= catchUpTo)
        {
            if (catchUpTo >= 0)
            {
                MatcherLog.CaughtUp(logger, mirror.AppliedSequence);
            }

            readiness.MarkCaughtUp();
        }
    }

    // Start-up: build the matcher in bulk from the store's reservation rows (MatcherRebuild), then tail the log from the
    // rows' sequence on. A failed rebuild is logged and leaves the mirror as it was; the tail then replays the log, and
    // the server is not ready until that replay has reached the store's head (false is returned).
    private async Task<bool> RebuildAsync(IRegistryStore store, CancellationToken stoppingToken)
    {
        if (mirror.AppliedSequence >= 0)
        {
            return true;
        }

        try
        {
            var result = await MatcherRebuild.RunAsync(store, mirror, (id, reason) => MatcherLog.RowSkipped(logger, id, reason), stoppingToken)
                .ConfigureAwait(false);
            MatcherLog.Rebuilt(logger, result.Rows - result.Skipped, result.AsOfSequence, result.Elapsed.TotalSeconds,
                result.ReadWaited.TotalSeconds, result.BuildWaited.TotalSeconds);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            MatcherLog.RebuildFailed(logger, ex);
            return false;
        }
    }

    private void Apply(CommittedEvent committed)
    {
        if (MatcherReplay.Apply(mirror, committed) is { } reason)
        {
            // A stored reservation that Core refuses (e.g. written by a newer version): skipped, the sequence moves on.
            CheckLog.EventSkipped(logger, committed.Sequence, reason);
        }
    }
}
