using System.Diagnostics;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using OptOutRegistry.Integration.Tests.Check;
using OptOutRegistry.Storage.Tests.Infrastructure;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>A real PostgreSQL server (initdb + pg_ctl on loopback) for this test class, stopped at the end.</summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public PostgresServerFixture Server { get; } = new();

    public Task InitializeAsync() => Server.InitializeAsync();

    public Task DisposeAsync() => Server.DisposeAsync();
}

/// <summary>
/// Issue 4 item 3 through the real services: two servers share one PostgreSQL database (and, with <c>--signing-key</c>, one
/// signing key). A holder created on one works on the other; a registration on A changes B's verdicts within a second and
/// a revocation on B changes A's; receipts from either verify with the one published key; search and history see the
/// same log from both.
/// </summary>
public sealed class SharedPostgresTests(PostgresServer postgres) : IClassFixture<PostgresServer>, IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "optout-pgshared-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task TwoServersOnOneDatabase_ShareHoldersVerdictsSearchAndOneSigningKey()
    {
        var database = await postgres.Server.CreateDatabaseAsync();
        var keyFile = Path.Combine(_root, "secrets", "log-signing-key.pem");
        string[] shared = ["--store", "postgres", "--postgres", database, "--signing-key", keyFile];
        await using var a = await ServerFixture.StartAsync(shared);
        await using var b = await ServerFixture.StartAsync(shared);
        Assert.True(File.Exists(keyFile), "the first server did not create the shared signing key");
        Assert.False(File.Exists(Path.Combine(a.DataDirectory, "transparency-signing-key.pem")), "--signing-key was ignored");

        using var onA = RegistryClient.Create(a.GrpcAddress);
        var created = await onA.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Абай баспасы", ContactEmail = "pg@example.kz" });
        using var holderOnA = onA.WithKey(created.ApiKey);
        using var holderOnB = RegistryClient.Create(b.GrpcAddress, created.ApiKey);

        // A registration on A: visible to B's checks within a second (B tails the shared event table).
        var clock = Stopwatch.StartNew();
        var registered = await holderOnA.CreateReservationAsync(
            RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://pg.example.kz/books/abai.pdf"), title: "Қара сөздер"));
        var afterWrite = clock.Elapsed;
        await CheckRegistryFixture.WaitForVerdictAsync(b.GrpcAddress, "https://pg.example.kz/books/abai.pdf", Pb.Verdict.Disallowed, timeout: TimeSpan.FromSeconds(5));
        Assert.True(clock.Elapsed - afterWrite < TimeSpan.FromSeconds(1), $"B saw A's registration after {(clock.Elapsed - afterWrite).TotalMilliseconds:F0} ms");

        // One log, one key: both servers publish the same key, and A's receipt verifies with what B publishes.
        var keyA = await onA.GetPublicKeyAsync();
        var keyB = await holderOnB.GetPublicKeyAsync();
        Assert.Equal(keyA.Fingerprint, keyB.Fingerprint);
        var verification = ReceiptVerifier.Verify(registered.Receipt, keyB.SpkiPem);
        Assert.True(verification.IsValid, string.Join("; ", verification.Errors));

        // The holder's key, created through A, works on B; B reads the reservation and finds it by its Kazakh title.
        var read = await holderOnB.GetReservationAsync(registered.Reservation.Id);
        Assert.Equal("Қара сөздер", read.Work.Title);
        var hits = await holderOnB.SearchWorksAsync("қара сөз");
        Assert.Contains(hits.Hits, h => h.ReservationId == registered.Reservation.Id && h.HolderName == "Абай баспасы");

        // A revocation on B reaches A's checks within a second too.
        clock.Restart();
        var revoked = await holderOnB.RevokeReservationAsync(registered.Reservation.Id, "licensed");
        var afterRevoke = clock.Elapsed;
        await CheckRegistryFixture.WaitForVerdictAsync(a.GrpcAddress, "https://pg.example.kz/books/abai.pdf", Pb.Verdict.Unknown, timeout: TimeSpan.FromSeconds(5));
        Assert.True(clock.Elapsed - afterRevoke < TimeSpan.FromSeconds(1), $"A saw B's revocation after {(clock.Elapsed - afterRevoke).TotalMilliseconds:F0} ms");
        Assert.True(ReceiptVerifier.Verify(revoked.Receipt, keyA.SpkiPem).IsValid);

        // Both servers tell the same history, in the same order, from the shared log.
        var historyA = await holderOnA.GetReservationHistoryAsync(registered.Reservation.Id);
        var historyB = await holderOnB.GetReservationHistoryAsync(registered.Reservation.Id);
        Assert.Equal(2, historyA.Entries.Count);
        Assert.Equal(historyA.Entries, historyB.Entries);
    }
}
