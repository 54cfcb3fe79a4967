using OptOutRegistry.Core.Model;
using OptOutRegistry.Server.Feed;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// Applying the event log to a mirror, event by event: what <see cref="MatcherHost"/> does while it tails the store, and
/// (from sequence 0) the reference the bulk rebuild (<see cref="MatcherRebuild"/>) is compared with in tests and benchmarks.
/// </summary>
public static class MatcherReplay
{
    /// <summary>
    /// Applies one committed event. A change Core refuses (e.g. written by a newer version) is skipped so the sequence
    /// keeps moving; the reason is returned (null when applied or not a matcher change).
    /// </summary>
    /// <param name="mirror">The mirror.</param>
    /// <param name="committed">The event as stored.</param>
    public static string? Apply(RegistryMirror mirror, CommittedEvent committed)
    {
        ArgumentNullException.ThrowIfNull(mirror);
        ArgumentNullException.ThrowIfNull(committed);
        var message = StoredEvents.ToProto(committed);
        try
        {
            mirror.Apply(message, committed.Time);
            return null;
        }
        catch (ModelValidationException ex)
        {
            if (mirror.AppliedSequence < committed.Sequence)
            {
                mirror.Skip(committed.Sequence);
            }

            return ex.Message;
        }
    }

    /// <summary>
    /// Replays the log into <paramref name="mirror"/> from its next sequence through <paramref name="through"/> (the log's
    /// head when it was read); returns the number of events refused.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <param name="mirror">The mirror (a new one replays from sequence 0).</param>
    /// <param name="through">The last sequence to apply; nothing is read when the mirror is already there (an empty log is −1).</param>
    /// <param name="skipped">Called with the sequence and the reason of each refused event.</param>
    /// <param name="cancellationToken">Stops the replay.</param>
    public static async Task<int> ReplayAsync(IRegistryStore store, RegistryMirror mirror, long through,
        Action<long, string>? skipped = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(mirror);
        var refused = 0;
        if (mirror.AppliedSequence >= through)
        {
            return refused; // the tail would wait for an event that is not there yet
        }

        await foreach (var committed in store.TailEventsAsync(mirror.AppliedSequence + 1, cancellationToken).ConfigureAwait(false))
        {
            if (Apply(mirror, committed) is { } reason)
            {
                refused++;
                skipped?.Invoke(committed.Sequence, reason);
            }

            if (committed.Sequence >= through)
            {
                break;
            }
        }

        return refused;
    }
}
