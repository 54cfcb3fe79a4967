using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Feed;

/// <summary>
/// Builds snapshot files from the event log (docs/snapshot-format.md) and keeps the latest full snapshot in
/// <c>{data-dir}/snapshots/</c>, so a fleet of replicas starting together costs one build, not one each.
/// </summary>
public sealed class SnapshotProvider(IRegistryStore store, FeedSigning signing, ServerPaths paths, TimeProvider time)
{
    private const int ReadBatch = 10_000;
    private readonly SemaphoreSlim _buildLock = new(1, 1);

    /// <summary>
    /// Opens a full snapshot as of the latest event (building it if the cached one is older), or a delta of the events
    /// after <paramref name="sinceSequence"/>. The caller disposes the stream.
    /// </summary>
    public async Task<(Stream File, long AsOfSequence)> OpenAsync(long? sinceSequence, CancellationToken cancellationToken)
    {
        var latest = await store.GetLatestSequenceAsync(cancellationToken);
        if (sinceSequence is { } since)
        {
            if (since < -1 || since > latest)
            {
                throw new ArgumentOutOfRangeException(nameof(sinceSequence), $"since_sequence {since} is outside -1..{latest} (the latest event)");
            }

            return (await BuildDeltaAsync(since, latest, cancellationToken), latest);
        }

        var directory = Path.Combine(paths.DataDirectory, "snapshots");
        var path = Path.Combine(directory, $"full-{latest}.snap");
        await _buildLock.WaitAsync(cancellationToken);
        try
        {
            if (!File.Exists(path))
            {
                Directory.CreateDirectory(directory);
                var temp = path + ".tmp";
                await using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    await WriteFullAsync(file, latest, cancellationToken);
                }

                File.Move(temp, path, overwrite: true);
                foreach (var old in Directory.EnumerateFiles(directory, "full-*.snap"))
                {
                    if (old != path)
                    {
                        TryDelete(old);
                    }
                }
            }

            // Readers share the file; a newer build deletes it only after its own file is in place (Unix keeps an open
            // file readable after unlink).
            return (new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16), latest);
        }
        finally
        {
            _buildLock.Release();
        }
    }

    /// <summary>Writes a full snapshot as of <paramref name="asOf"/> to <paramref name="output"/>.</summary>
    public async Task WriteFullAsync(Stream output, long asOf, CancellationToken cancellationToken)
    {
        var fold = new ReservationFold();
        for (var from = 0L; from <= asOf;)
        {
            var events = await store.ReadEventsAsync(from, (int)Math.Min(ReadBatch, asOf - from + 1), cancellationToken);
            if (events.Count == 0)
            {
                break;
            }

            foreach (var committed in events)
            {
                fold.Apply(StoredEvents.ToProto(committed));
            }

            from = events[^1].Sequence + 1;
        }

        using var writer = new SnapshotWriter(output, new SnapshotHeader(SnapshotKind.Full, asOf, -1, time.GetUtcNow()));
        foreach (var reservation in fold.Reservations)
        {
            writer.WriteReservation(reservation);
        }

        writer.Finish(signing);
    }

    private async Task<Stream> BuildDeltaAsync(long since, long asOf, CancellationToken cancellationToken)
    {
        var output = new MemoryStream();
        using (var writer = new SnapshotWriter(output, new SnapshotHeader(SnapshotKind.Delta, asOf, since, time.GetUtcNow())))
        {
            for (var from = since + 1; from <= asOf;)
            {
                var events = await store.ReadEventsAsync(from, (int)Math.Min(ReadBatch, asOf - from + 1), cancellationToken);
                if (events.Count == 0)
                {
                    break;
                }

                foreach (var committed in events)
                {
                    writer.WriteEvent(StoredEvents.ToProto(committed));
                }

                from = events[^1].Sequence + 1;
            }

            writer.Finish(signing);
        }

        output.Position = 0;
        return output;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // In use on a platform that forbids deleting open files; the next build retries.
        }
    }
}
