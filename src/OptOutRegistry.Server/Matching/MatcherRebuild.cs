using System.Diagnostics;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Matching;

/// <summary>
/// The matcher rebuild at start (issue 4: 10 M reservations in ≤ 20 s): instead of replaying every event of the log
/// (parse each <c>optout.v1.Event</c>, apply it as one locked change), it reads the store's reservation rows — each
/// row's payload is the reservation's current <c>optout.v1.Reservation</c>, state included — in one consistent
/// snapshot (<see cref="IRegistryStore.ReadReservationPayloadSpansAsync"/>) and builds the matcher in bulk, then hands it to
/// the mirror as of the snapshot's sequence. <see cref="MatcherHost"/> tails the log from there.
/// <para>The build is <see cref="ReservationBulkLoad"/>, the path a snapshot load takes too: the store read copies
/// payloads into large pooled chunks (one thread), the pool decodes them with <see cref="ReservationWireDecoder"/>
/// straight into prepared rows, one thread inserts them (<see cref="MatcherBuilder"/>) in row order. A row Core refuses
/// is left out and reported (a snapshot load fails instead).</para>
/// The result is the same matcher the replay or a full snapshot file gives (tested).
/// </summary>
public static class MatcherRebuild
{
    /// <summary>Rebuilds <paramref name="mirror"/> from <paramref name="store"/>; returns what was loaded.</summary>
    /// <param name="store">The registry store.</param>
    /// <param name="mirror">The mirror to load; its earlier state is replaced.</param>
    /// <param name="skipped">Called (on the building thread, in row order) for a row Core refuses, with the reason; the row is left out, as <see cref="MatcherHost"/> skips such an event.</param>
    /// <param name="cancellationToken">Stops the rebuild; the mirror is then unchanged.</param>
    public static async Task<MatcherRebuildResult> RunAsync(
        IRegistryStore store, RegistryMirror mirror, Action<string, string>? skipped = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(mirror);
        var started = Stopwatch.GetTimestamp();
        // One selector per event is the common case (a reservation per event, most with one URL selector): sizes the
        // tables once for a typical log; a larger registry grows them as the build goes.
        var expected = await store.GetLatestSequenceAsync(cancellationToken).ConfigureAwait(false) + 1;
        var options = mirror.Options with { ExpectedSelectors = Math.Max(0, expected) };
        var asOf = -1L;
        ReservationRefusedHandler? refused = skipped is null ? null : (_, id, reason) => skipped(id, reason);

        // The build runs on its own thread: it is long and synchronous, and the decoders use the pool.
        var load = await Task.Factory.StartNew(
            () => ReservationBulkLoad.Run(
                (sink, token) =>
                {
                    // The span form: the store hands out its own buffer (SQLite's column), copied once into the chunk.
                    asOf = store.ReadReservationPayloadSpansAsync(static (payload, state) => ((ReservationPayloadSink)state!).Add(payload), sink, token)
                        .GetAwaiter().GetResult();
                },
                options, refused, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);

        mirror.Load(load.Matcher, asOf, load.HolderNames);
        return new MatcherRebuildResult(asOf, load.Rows, load.Refused, Stopwatch.GetElapsedTime(started))
        {
            ReadWaited = load.SourceWaited,
            BuildWaited = load.BuildWaited,
        };
    }
}

/// <summary>What <see cref="MatcherRebuild.RunAsync"/> loaded.</summary>
/// <param name="AsOfSequence">The log sequence the matcher is current as of (−1 for an empty log).</param>
/// <param name="Rows">Reservation rows read.</param>
/// <param name="Skipped">Rows left out because Core refused them.</param>
/// <param name="Elapsed">Wall time of the rebuild.</param>
public sealed record MatcherRebuildResult(long AsOfSequence, int Rows, int Skipped, TimeSpan Elapsed)
{
    /// <summary>Wall time the store read waited for the decoders and the build to take chunks (they were the slower side).</summary>
    public TimeSpan ReadWaited { get; init; }

    /// <summary>Wall time the build waited for decoded chunks (the store read or the decoding was the slower side).</summary>
    public TimeSpan BuildWaited { get; init; }
}
