using System.Security.Cryptography;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Replication;

/// <summary>
/// A read-only replica (DESIGN.md "Scaling past one machine"): downloads a signed snapshot from the primary, checks its
/// signature against the primary's published key, loads it into the matcher, then follows <c>Feed.WatchEvents</c> from
/// the snapshot's sequence + 1. When the stream breaks it reconnects from the last applied sequence + 1; the mirror
/// refuses gaps and ignores duplicates, so no event is ever skipped or applied twice.
/// The snapshot, the key it was verified with and a journal of the events applied since are kept in
/// <c>{data-dir}/replica/</c>: a restarted replica resumes from them and serves at once, even while the primary is down.
/// </summary>
public sealed class ReplicaFollower(
    ReplicaOptions options, RegistryMirror mirror, Matching.MatcherReadiness readiness, ServerPaths paths, ILogger<ReplicaFollower> logger)
    : BackgroundService
{
    private static readonly Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk> GetSnapshot =
        Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk>.Create(Pb.FeedReflection.Descriptor.Services[0], "GetSnapshot");

    private static readonly Method<Pb.WatchEventsRequest, Pb.Event> WatchEvents =
        Method<Pb.WatchEventsRequest, Pb.Event>.Create(Pb.FeedReflection.Descriptor.Services[0], "WatchEvents");

    private static readonly Method<Pb.GetTreeHeadRequest, Pb.SignedTreeHead> GetTreeHead =
        Method<Pb.GetTreeHeadRequest, Pb.SignedTreeHead>.Create(Pb.FeedReflection.Descriptor.Services[0], "GetTreeHead");

    private static readonly Method<Pb.GetPublicKeyRequest, Pb.PublicKey> GetPublicKey =
        Method<Pb.GetPublicKeyRequest, Pb.PublicKey>.Create(Pb.FeedReflection.Descriptor.Services[0], "GetPublicKey");

    /// <summary>A journal longer than this is folded into a fresh snapshot at the next connection.</summary>
    internal const long MaxJournalEvents = 1_000_000;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var primary = options.FollowUrl!;
        var directory = Path.Combine(paths.DataDirectory, "replica");
        Directory.CreateDirectory(directory);
        using var journal = new ReplicaJournal(Path.Combine(directory, "events.journal"));

        // Until a snapshot is loaded the replica would answer UNKNOWN for everything: say so to load balancers.
        readiness.MarkLoading();
        var loaded = TryResumeLocally(directory, journal, primary);
        if (loaded)
        {
            // A verified local snapshot (and its journal) is served at once, even while the primary is down.
            readiness.MarkCaughtUp();
        }

        using var channel = GrpcChannel.ForAddress(primary);
        var delay = 100;
        var keyChecked = false;
        // When no snapshot could be loaded the replica replays the feed from sequence 0; it is ready only once that
        // replay has reached the primary's head as of then (its tree size − 1). Long.MaxValue: not asked yet.
        var catchUpTo = long.MaxValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!keyChecked)
                {
                    // The primary's key is checked on every start, also when resuming from disk: a primary that now signs
                    // with another key is a different log, and state verified with the old key must not be extended by it.
                    var key = await channel.UnaryAsync(GetPublicKey, new Pb.GetPublicKeyRequest(), new CallOptions(CancellationToken: stoppingToken));
                    var spki = CheckPinnedKey(key, primary);
                    if (loaded && !SpkiEquals(ReadStoredKey(directory), spki))
                    {
                        ReplicaLog.KeyChanged(logger, primary, key.Fingerprint);
                        loaded = false;
                    }

                    keyChecked = true;
                    if (loaded && journal.Count > MaxJournalEvents)
                    {
                        ReplicaLog.JournalFolded(logger, journal.Count);
                        loaded = false;
                    }

                    if (!loaded)
                    {
                        await LoadSnapshotAsync(channel, primary, key, spki, directory, stoppingToken);
                        journal.Clear();
                        loaded = true;
                        readiness.MarkCaughtUp();
                    }
                }

                if (!readiness.IsCaughtUp)
                {
                    if (catchUpTo == long.MaxValue)
                    {
                        var head = await channel.UnaryAsync(GetTreeHead, new Pb.GetTreeHeadRequest(), new CallOptions(CancellationToken: stoppingToken));
                        catchUpTo = head.TreeSize - 1;
                        Matching.MatcherLog.ReplicaCatchingUp(logger, primary, mirror.AppliedSequence + 1, catchUpTo);
                    }

                    CaughtUpAt(catchUpTo);
                }

                var from = mirror.AppliedSequence + 1;
                CheckLog.Watching(logger, primary, from);
                using var call = channel.ServerStreaming(WatchEvents, new Pb.WatchEventsRequest { FromSequence = from },
                    new CallOptions(CancellationToken: stoppingToken));
                while (await call.ResponseStream.MoveNext(stoppingToken))
                {
                    var @event = call.ResponseStream.Current;
                    if (@event.Sequence <= mirror.AppliedSequence)
                    {
                        continue; // a duplicate after a reconnect
                    }

                    // Write ahead: the event is in the journal before its verdict is served, so a replica killed right
                    // after answering from it still has it on disk when it restarts without its primary.
                    if (@event.Sequence == mirror.AppliedSequence + 1)
                    {
                        journal.Append(@event);
                    }

                    Apply(@event);
                    if (!readiness.IsCaughtUp)
                    {
                        CaughtUpAt(catchUpTo);
                    }

                    delay = 100;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                CheckLog.FollowFailed(logger, primary, delay, ex);
                try
                {
                    await Task.Delay(delay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = Math.Min(delay * 2, 2000);
            }
        }
    }

    // Ready (as far as the matcher goes) once the feed replay holds the primary's events up to the head it had to reach.
    private void CaughtUpAt(long catchUpTo)
    {
        if (mirror.AppliedSequence >= catchUpTo)
        {
            Matching.MatcherLog.ReplicaCaughtUp(logger, options.FollowUrl!, mirror.AppliedSequence);
            readiness.MarkCaughtUp();
        }
    }

    /// <summary>Returns true when the event was new (applied or skipped as undecodable), false for a duplicate.</summary>
    private bool Apply(Pb.Event @event)
    {
        try
        {
            if (!mirror.Apply(@event))
            {
                return false;
            }
        }
        catch (ModelValidationException ex)
        {
            CheckLog.EventSkipped(logger, @event.Sequence, ex.Message);
            mirror.Skip(@event.Sequence);
        }

        CheckLog.EventApplied(logger, @event.Sequence);
        return true;
    }

    /// <summary>
    /// Loads the snapshot kept from an earlier run, verified again with the key it was first verified with, and replays
    /// the journal on top. Any doubt (missing key, bad signature, damaged file) means starting over from the primary.
    /// </summary>
    private bool TryResumeLocally(string directory, ReplicaJournal journal, string primary)
    {
        var snapshotPath = Path.Combine(directory, "snapshot.snap");
        var storedKey = ReadStoredKey(directory);
        if (storedKey.Length == 0 || !File.Exists(snapshotPath))
        {
            return false;
        }

        try
        {
            if (options.PinnedKeySpki is { } pinned && !SpkiEquals(pinned, storedKey))
            {
                ReplicaLog.LocalStateDiscarded(logger, "it was verified with a key other than the pinned one");
                return false;
            }

            // One pass: decoded, hashed and verified with the stored key together; nothing is served unless it verifies.
            using (var reader = SnapshotReader.Open(new FileStream(snapshotPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20)))
            {
                mirror.LoadSnapshot(reader, storedKey);
                ReplicaLog.Resumed(logger, primary, reader.Header.AsOfSequence);
            }

            var replayed = journal.Replay(@event =>
            {
                try
                {
                    Apply(@event);
                    return true;
                }
                catch (InvalidOperationException)
                {
                    // A gap: the journal belongs to an older snapshot. The rest comes from the primary.
                    return false;
                }
            });
            ReplicaLog.JournalReplayed(logger, replayed, mirror.AppliedSequence);
            return true;
        }
        catch (Exception ex) when (ex is SnapshotFormatException or IOException or CryptographicException)
        {
            ReplicaLog.LocalStateDiscarded(logger, ex.Message);
            return false;
        }
    }

    private byte[] CheckPinnedKey(Pb.PublicKey key, string primary)
    {
        var spki = PemEncoding.TryFind(key.SpkiPem, out var pem) ? Convert.FromBase64String(key.SpkiPem[pem.Base64Data]) : [];
        if (options.PinnedKeySpki is { } pinned && !SpkiEquals(pinned, spki))
        {
            throw new CryptographicException($"{primary} publishes key {key.Fingerprint}, not the key pinned with --follow-key; refusing to follow it");
        }

        return spki;
    }

    private static byte[] ReadStoredKey(string directory)
    {
        var path = Path.Combine(directory, "primary-key.pem");
        if (!File.Exists(path))
        {
            return [];
        }

        var text = File.ReadAllText(path);
        return PemEncoding.TryFind(text, out var pem) ? Convert.FromBase64String(text[pem.Base64Data]) : [];
    }

    private static bool SpkiEquals(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.Length > 0 && a.SequenceEqual(b);

    private async Task LoadSnapshotAsync(
        GrpcChannel channel, string primary, Pb.PublicKey key, byte[] spki, string directory, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, "snapshot.snap");
        var download = path + ".download";
        long bytes = 0;
        await using (var file = new FileStream(download, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            using var call = channel.ServerStreaming(GetSnapshot, new Pb.GetSnapshotRequest(), new CallOptions(CancellationToken: cancellationToken));
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                var data = call.ResponseStream.Current.Data;
                await file.WriteAsync(data.Memory, cancellationToken);
                bytes += data.Length;
            }

            file.Flush(flushToDisk: true);
        }

        // Loaded and verified in one pass (the file is decoded and hashed together, the signature checked over that
        // digest): a snapshot that is not signed by the primary's key never reaches the matcher, which keeps serving
        // what it had.
        long asOf;
        using (var reader = SnapshotReader.Open(new FileStream(download, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20)))
        {
            try
            {
                mirror.LoadSnapshot(reader, spki);
            }
            catch (SnapshotFormatException ex)
            {
                throw new CryptographicException($"the snapshot from {primary} does not load with the key it publishes ({key.Fingerprint}): {ex.Message}", ex);
            }

            asOf = reader.Header.AsOfSequence;
        }

        // The key first, then the snapshot by rename: a crash in between leaves a snapshot that fails verification with the
        // new key (or the old pair), never a snapshot trusted under a key it was not checked with. (A crash before the
        // rename leaves the previous pair, which a restart resumes from or replaces.)
        File.WriteAllText(Path.Combine(directory, "primary-key.pem"), key.SpkiPem);
        File.Move(download, path, overwrite: true);
        CheckLog.SnapshotLoaded(logger, primary, asOf, bytes, key.Fingerprint);
    }
}
