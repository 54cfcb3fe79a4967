using System.Net;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Integration.Tests.Registry;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

public sealed class AccessAndSnapshotTests
{
    [Fact]
    public async Task RateLimit_PerAddress_AnswersResourceExhaustedWithRetryAfter_AndHttp429()
    {
        await using var server = await ServerFixture.StartAsync("--check-rate-limit-per-address", "100");
        await using var client = CheckClient.Create(server.GrpcAddress);
        var batch = new Pb.CheckBatchRequest();
        for (var i = 0; i < 100; i++)
        {
            batch.Subjects.Add(new Pb.Subject { Url = $"https://limit{i}.example/" });
        }

        await client.CheckBatchAsync(batch);
        var ex = await RegistryTestHelpers.AssertStatusAsync(StatusCode.ResourceExhausted, () => client.CheckBatchAsync(batch));
        Assert.True(long.TryParse(ex.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0, $"retry-after-ms trailer: '{ex.Trailers.GetValue("retry-after-ms")}'");

        using var http = new HttpClient();
        using var response = await http.PostAsync(server.HttpAddress + "/api/v2/query/urls", new StringContent(string.Join('\n', Enumerable.Repeat("https://x.example/", 100))));
        Assert.Equal((HttpStatusCode)429, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task RequireKey_RefusesAnonymousChecks_AndAcceptsAHolderKey()
    {
        await using var server = await ServerFixture.StartAsync("--check-require-key", "true");
        await using var anonymous = CheckClient.Create(server.GrpcAddress);
        var request = new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://example.kz/" } } };
        await RegistryTestHelpers.AssertStatusAsync(StatusCode.Unauthenticated, () => anonymous.CheckBatchAsync(request));
        await using (var wrong = CheckClient.Create(server.GrpcAddress, new CheckClientOptions { ApiKey = "oor_not-a-key" }))
        {
            await RegistryTestHelpers.AssertStatusAsync(StatusCode.Unauthenticated, () => wrong.CheckBatchAsync(request));
        }

        using var registry = RegistryClient.Create(server.GrpcAddress, server.AdminKey);
        var holder = await registry.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Keyed", ContactEmail = "k@example.org" });
        await using var keyed = CheckClient.Create(server.GrpcAddress, new CheckClientOptions { ApiKey = holder.ApiKey });
        Assert.Equal(Pb.Verdict.Unknown, (await keyed.CheckBatchAsync(request)).Results[0].Verdict);
    }

    [Fact]
    public async Task Snapshot_LoadsOffline_RefusesTampering_AndFollowsDeltasAndTheFeed()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Offline Press", ContactEmail = "o@example.org" });
        using var holder = anonymous.WithKey(created.ApiKey);
        var first = await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://offline.example/one")));

        using var feed = FeedClient.Create(server.GrpcAddress);
        var pem = (await feed.GetPublicKeyAsync()).SpkiPem;
        var dir = Path.Combine(server.DataDirectory, "offline-test");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "full.snap");
        long asOf;
        await using (var file = File.Create(path))
        {
            asOf = await feed.DownloadSnapshotAsync(file);
        }

        var offline = OfflineChecker.Load(path, pem);
        Assert.Equal(asOf, offline.AppliedSequence);
        Assert.Equal(Verdict.Disallowed, offline.CheckUrl("http://OFFLINE.example/one", UsageCategory.TrainAi));
        Assert.Equal(Verdict.Unknown, offline.CheckUrl("https://offline.example/two", UsageCategory.TrainAi));
        var viaHandlerInterface = await offline.CheckUrlAsync("https://offline.example/one", Pb.UsageCategory.TrainAi);
        Assert.Equal(first.Reservation.Id, viaHandlerInterface.Matches[0].ReservationId);

        // One flipped byte anywhere in the records breaks the digest.
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[SnapshotFormat.HeaderLength + 20] ^= 0x01;
        var tampered = Path.Combine(dir, "tampered.snap");
        await File.WriteAllBytesAsync(tampered, bytes);
        Assert.ThrowsAny<Exception>(() => OfflineChecker.Load(tampered, pem));
        // Truncation is detected too.
        await File.WriteAllBytesAsync(tampered, bytes.AsSpan(0, bytes.Length - 3).ToArray());
        Assert.Throws<SnapshotFormatException>(() => OfflineChecker.Load(tampered, pem));

        // A delta brings the offline checker up to date.
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://offline.example/two")));
        var deltaPath = Path.Combine(dir, "delta.snap");
        await using (var file = File.Create(deltaPath))
        {
            await feed.DownloadSnapshotAsync(file, sinceSequence: offline.AppliedSequence);
        }

        offline.ApplyDelta(deltaPath, pem);
        Assert.Equal(Verdict.Disallowed, offline.CheckUrl("https://offline.example/two", UsageCategory.TrainAi));

        // Following the feed: a new registration arrives without another download.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var follow = offline.FollowAsync(feed, cts.Token);
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://offline.example/three")));
        while (offline.CheckUrl("https://offline.example/three", UsageCategory.TrainAi) != Verdict.Disallowed)
        {
            Assert.False(cts.IsCancellationRequested, "the offline checker did not follow the feed");
            await Task.Delay(10);
        }

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follow);
    }
}
