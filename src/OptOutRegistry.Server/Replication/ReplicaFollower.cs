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
/// </summary>
public sealed class ReplicaFollower(
    ReplicaOptions options, RegistryMirror mirror, ServerPaths paths, HealthStatusRegistry health, ILogger<ReplicaFollower> logger)
    : BackgroundService
{
    private static readonly Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk> GetSnapshot =
        Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk>.Create(Pb.FeedReflection.Descriptor.Services[0], "GetSnapshot");

    private static readonly Method<Pb.WatchEventsRequest, Pb.Event> WatchEvents =
        Method<Pb.WatchEventsRequest, Pb.Event>.Create(Pb.FeedReflection.Descriptor.Services[0], "WatchEvents");

    private static readonly Method<Pb.GetPublicKeyRequest, Pb.PublicKey> GetPublicKey =
        Method<Pb.GetPublicKeyRequest, Pb.PublicKey>.Create(Pb.FeedReflection.Descriptor.Services[0], "GetPublicKey");

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var primary = options.FollowUrl!;
        // Until the first snapshot is loaded the replica would answer UNKNOWN for everything: say so to load balancers.
        health.SetStatus(string.Empty, ServingStatus.NotServing);
        using var channel = GrpcChannel.ForAddress(primary);
        var delay = 100;
        var loaded = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!loaded)
                {
                    await LoadSnapshotAsync(channel, primary, stoppingToken);
                    loaded = true;
                    health.SetStatus(string.Empty, ServingStatus.Serving);
                }

                var from = mirror.AppliedSequence + 1;
                CheckLog.Watching(logger, primary, from);
                using var call = channel.ServerStreaming(WatchEvents, new Pb.WatchEventsRequest { FromSequence = from },
                    new CallOptions(CancellationToken: stoppingToken));
                while (await call.ResponseStream.MoveNext(stoppingToken))
                {
                    var @event = call.ResponseStream.Current;
                    Apply(@event);
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

    private void Apply(Pb.Event @event)
    {
        try
        {
            if (mirror.Apply(@event))
            {
                CheckLog.EventApplied(logger, @event.Sequence);
            }
        }
        catch (ModelValidationException ex)
        {
            CheckLog.EventSkipped(logger, @event.Sequence, ex.Message);
            mirror.Skip(@event.Sequence);
            CheckLog.EventApplied(logger, @event.Sequence);
        }
    }

    private async Task LoadSnapshotAsync(GrpcChannel channel, string primary, CancellationToken cancellationToken)
    {
        var key = await channel.UnaryAsync(GetPublicKey, new Pb.GetPublicKeyRequest(), new CallOptions(CancellationToken: cancellationToken));
        var directory = Path.Combine(paths.DataDirectory, "replica");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "snapshot.snap");
        long bytes = 0;
        await using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            using var call = channel.ServerStreaming(GetSnapshot, new Pb.GetSnapshotRequest(), new CallOptions(CancellationToken: cancellationToken));
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                var data = call.ResponseStream.Current.Data;
                await file.WriteAsync(data.Memory, cancellationToken);
                bytes += data.Length;
            }
        }

        // Verify before loading: a snapshot that is not signed by the primary's key never reaches the matcher.
        var spki = PemEncoding.TryFind(key.SpkiPem, out var pem) ? Convert.FromBase64String(key.SpkiPem[pem.Base64Data]) : [];
        using (var verifier = SnapshotReader.Open(File.OpenRead(path)))
        {
            while (verifier.TryReadRecord(out _, out _))
            {
            }

            if (!verifier.VerifySignature(spki))
            {
                throw new CryptographicException($"the snapshot from {primary} is not signed by the key it publishes ({key.Fingerprint})");
            }
        }

        using var reader = SnapshotReader.Open(File.OpenRead(path));
        mirror.LoadSnapshot(reader);
        CheckLog.SnapshotLoaded(logger, primary, reader.Header.AsOfSequence, bytes, key.Fingerprint);
    }
}
