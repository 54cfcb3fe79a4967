using System.Diagnostics;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Integration.Tests.Check;
using OptOutRegistry.Integration.Tests.Registry;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Replication;

/// <summary>
/// Issue 7 item 3: a primary and two replicas as separate processes. A registration on the primary changes both
/// replicas' verdicts within 1 second; a replica killed (SIGKILL) and restarted while events stream resumes without
/// gaps or duplicates, asserted on the sequence numbers it logs as applied.
/// </summary>
public sealed class ReplicationTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "optout-repl-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task PrimaryAndTwoReplicas_FollowWithinOneSecond_AndAKilledReplicaResumesWithoutGapsOrDuplicates()
    {
        using var primary = ServerProcess.Start(Path.Combine(_root, "primary"));
        await WaitUntilServingAsync(primary);
        using var anonymous = RegistryClient.Create(primary.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Replicated Press", ContactEmail = "r@example.org" });
        using var holder = anonymous.WithKey(created.ApiKey);
        for (var i = 0; i < 5; i++)
        {
            await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url($"https://replica.example/before/{i}")));
        }

        using var replicaA = ServerProcess.Start(Path.Combine(_root, "a"), primary.GrpcAddress);
        using var replicaB = ServerProcess.Start(Path.Combine(_root, "b"), primary.GrpcAddress);
        await CheckRegistryFixture.WaitForVerdictAsync(replicaA.GrpcAddress, "https://replica.example/before/4", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));
        await CheckRegistryFixture.WaitForVerdictAsync(replicaB.GrpcAddress, "https://replica.example/before/4", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));

        // A registration on the primary reaches both replicas within 1 second.
        var clock = Stopwatch.StartNew();
        var fresh = await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://replica.example/fresh")));
        var registered = clock.Elapsed;
        var a = CheckRegistryFixture.WaitForVerdictAsync(replicaA.GrpcAddress, "https://replica.example/fresh", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(5));
        var b = CheckRegistryFixture.WaitForVerdictAsync(replicaB.GrpcAddress, "https://replica.example/fresh", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(5));
        await Task.WhenAll(a, b);
        var visible = clock.Elapsed - registered;
        Assert.True(visible < TimeSpan.FromSeconds(1), $"replicas followed after {visible.TotalMilliseconds:F0} ms");

        // So does a revocation.
        clock.Restart();
        await holder.RevokeReservationAsync(fresh.Reservation.Id, "test");
        await Task.WhenAll(
            CheckRegistryFixture.WaitForVerdictAsync(replicaA.GrpcAddress, "https://replica.example/fresh", Pb.Verdict.Unknown, timeout: TimeSpan.FromSeconds(5)),
            CheckRegistryFixture.WaitForVerdictAsync(replicaB.GrpcAddress, "https://replica.example/fresh", Pb.Verdict.Unknown, timeout: TimeSpan.FromSeconds(5)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"revocation followed after {clock.Elapsed.TotalMilliseconds:F0} ms (including the revoke call)");

        // A replica refuses registry calls, naming its primary.
        using (var viaReplica = RegistryClient.Create(replicaA.GrpcAddress, created.ApiKey))
        {
            var refused = await RegistryTestHelpers.AssertStatusAsync(StatusCode.FailedPrecondition,
                () => viaReplica.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://replica.example/nope"))));
            Assert.Contains("read-only replica of " + primary.GrpcAddress, refused.Status.Detail);
        }

        // Kill replica A with SIGKILL while registrations stream in, then restart it on the same data directory.
        var writes = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url($"https://replica.example/during/{i}")));
            }
        });
        await CheckRegistryFixture.WaitForVerdictAsync(replicaA.GrpcAddress, "https://replica.example/during/10", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(30));
        var firstRun = replicaA.AppliedSequences();
        replicaA.Kill();
        using var restarted = ServerProcess.Start(replicaA.DataDirectory, primary.GrpcAddress);
        await writes;
        await CheckRegistryFixture.WaitForVerdictAsync(restarted.GrpcAddress, "https://replica.example/during/39", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));
        await CheckRegistryFixture.WaitForVerdictAsync(replicaB.GrpcAddress, "https://replica.example/during/39", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(5));

        using var feed = FeedClient.Create(primary.GrpcAddress);
        var latest = (await feed.GetTreeHeadAsync()).TreeSize - 1;
        await WaitForSequenceAsync(restarted, latest);
        await WaitForSequenceAsync(replicaB, latest);

        AssertContiguous("replica A (first run)", replicaA.SnapshotSequence(), firstRun, null);
        // The restarted replica resumed from its own disk (snapshot + journal), then took the rest from the primary.
        Assert.True(restarted.ResumedLocally(), "the restarted replica downloaded the snapshot again instead of resuming\n" + restarted.Log);
        AssertContiguous("replica A (restarted)", restarted.SnapshotSequence(), restarted.AppliedSequences(), latest);
        AssertContiguous("replica B", replicaB.SnapshotSequence(), replicaB.AppliedSequences(), latest);
        Assert.True(firstRun.Count > 0, "replica A applied events before it was killed");
    }

    [Fact]
    public async Task ARestartedReplica_ServesFromItsOwnDisk_WhileThePrimaryIsDown_AndAPinnedKeyRefusesAnotherPrimary()
    {
        var primary = ServerProcess.Start(Path.Combine(_root, "primary"));
        using var otherPrimary = ServerProcess.Start(Path.Combine(_root, "other-primary"));
        await WaitUntilServingAsync(primary);
        await WaitUntilServingAsync(otherPrimary);
        using var anonymous = RegistryClient.Create(primary.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Offline Press", ContactEmail = "o@example.org" });
        using var holder = anonymous.WithKey(created.ApiKey);
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://offline.example/in-snapshot")));

        // The replica pins the primary's key, saved the way docs/checking.md tells an operator to.
        string keyFile = Path.Combine(_root, "primary-key.pem");
        var saved = await Cli.RunAsync(null, null, "public-key", "--server", primary.GrpcAddress, "--out", keyFile);
        Assert.True(saved.ExitCode == 0, saved.StdErr);
        using (var feed = FeedClient.Create(primary.GrpcAddress))
        {
            var published = await feed.GetPublicKeyAsync();
            Assert.Equal(published.SpkiPem, await File.ReadAllTextAsync(keyFile));
            Assert.Contains("fingerprint (SHA-256 of SPKI): " + published.Fingerprint, saved.StdErr, StringComparison.Ordinal);
        }

        var replicaDirectory = Path.Combine(_root, "replica");
        using (var replica = ServerProcess.Start(replicaDirectory, primary.GrpcAddress, "--follow-key", keyFile))
        {
            await CheckRegistryFixture.WaitForVerdictAsync(replica.GrpcAddress, "https://offline.example/in-snapshot", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));
            // This one arrives through the feed, so it lives only in the replica's journal.
            await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://offline.example/in-journal")));
            await CheckRegistryFixture.WaitForVerdictAsync(replica.GrpcAddress, "https://offline.example/in-journal", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(10));
            replica.Kill();
        }

        primary.Kill();
        primary.Dispose();

        // A crash in the middle of a journal write leaves a torn record: a header promising 200 bytes, then 11.
        var journal = Path.Combine(replicaDirectory, "replica", "events.journal");
        Assert.True(File.Exists(journal), "the replica kept no journal");
        var intactLength = new FileInfo(journal).Length;
        await using (var torn = new FileStream(journal, FileMode.Append))
        {
            torn.Write([200, 0, 0, 0, 1, 2, 3, 4]);
            torn.Write("half an ev"u8);
        }

        // Primary down: the restarted replica still answers both verdicts, from its snapshot and its journal.
        using (var restarted = ServerProcess.Start(replicaDirectory, primary.GrpcAddress, "--follow-key", keyFile))
        {
            await CheckRegistryFixture.WaitForVerdictAsync(restarted.GrpcAddress, "https://offline.example/in-snapshot", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));
            await CheckRegistryFixture.WaitForVerdictAsync(restarted.GrpcAddress, "https://offline.example/in-journal", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(10));
            Assert.True(restarted.ResumedLocally(), restarted.Log);
            Assert.Contains("replayed 1 journal events", restarted.Log, StringComparison.Ordinal);
            restarted.Kill();
            Assert.Equal(intactLength, new FileInfo(journal).Length);
        }

        // Another registry answering at the followed address signs with another key: the pinned replica refuses it and
        // keeps serving what it verified, instead of replacing it with the other registry's snapshot.
        using (var misdirected = ServerProcess.Start(replicaDirectory, otherPrimary.GrpcAddress, "--follow-key", keyFile))
        {
            await CheckRegistryFixture.WaitForVerdictAsync(misdirected.GrpcAddress, "https://offline.example/in-journal", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(60));
            var clock = Stopwatch.StartNew();
            while (!misdirected.Log.Contains("not the key pinned with --follow-key", StringComparison.Ordinal))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the replica did not refuse the other key\n" + misdirected.Log);
                await Task.Delay(100);
            }

            await CheckRegistryFixture.WaitForVerdictAsync(misdirected.GrpcAddress, "https://offline.example/in-journal", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(5));
            Assert.DoesNotContain("downloading a new snapshot", misdirected.Log, StringComparison.Ordinal);
        }
    }

    /// <summary>Snapshot at S, then exactly S+1, S+2, … (no gap, no duplicate), ending at <paramref name="last"/> when given.</summary>
    private static void AssertContiguous(string who, long? snapshot, List<long> applied, long? last)
    {
        Assert.True(snapshot is not null, $"{who} logged no snapshot");
        var expected = snapshot!.Value + 1;
        foreach (var sequence in applied)
        {
            Assert.True(sequence == expected, $"{who}: applied {sequence} where {expected} was next (snapshot {snapshot}; applied {string.Join(",", applied)})");
            expected++;
        }

        if (last is { } end)
        {
            Assert.True(expected - 1 == end, $"{who}: last applied {expected - 1}, the primary is at {end}");
        }
    }

    private static async Task WaitForSequenceAsync(ServerProcess replica, long sequence)
    {
        await using var client = CheckClient.Create(replica.GrpcAddress);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://probe.example/" } } });
            if (response.AsOfSequence >= sequence)
            {
                // Give the console logger a moment to write the last "applied" lines.
                await Task.Delay(300);
                return;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"replica stuck at {response.AsOfSequence}, primary at {sequence}\n{replica.Log}");
            await Task.Delay(20);
        }
    }

    private static async Task WaitUntilServingAsync(ServerProcess server)
    {
        await using var client = CheckClient.Create(server.GrpcAddress);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.CheckBatchAsync(new Pb.CheckBatchRequest());
                return;
            }
            catch (Exception) when (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100);
            }
        }
    }
}
