using System.Text;
using Npgsql;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Tests.Infrastructure;

namespace OptOutRegistry.Storage.Tests.Conformance;

[Collection(PostgresCollection.Name)]
public sealed class PostgresConformanceTests(PostgresServerFixture server) : RegistryStoreConformanceTests
{
    private string? _connectionString;

    protected override async Task<string> CreateLocationAsync()
    {
        var location = await server.CreateDatabaseAsync();
        _connectionString ??= location;
        return location;
    }

    protected override Task<IRegistryStore> OpenAsync(string location) =>
        Task.FromResult<IRegistryStore>(PostgresRegistryStore.Create(location));

    protected override Task MigrateToAsync(IRegistryStore store, int version) =>
        ((PostgresRegistryStore)store).MigrateToAsync(version, CancellationToken.None);

    protected override int LatestSchemaVersion => 3;

    [Fact]
    public async Task Migrate_FromVersion2_BoundsTheSearchIndexPendingListTo256kB()
    {
        var location = await server.CreateDatabaseAsync();
        await using var store = PostgresRegistryStore.Create(location);
        await store.MigrateToAsync(2, CancellationToken.None);
        Assert.Null(await SearchIndexOptionsAsync(location));

        await store.MigrateAsync();

        Assert.Equal(3, await store.GetSchemaVersionAsync());
        Assert.Equal("gin_pending_list_limit=256", await SearchIndexOptionsAsync(location));
    }

    private static async Task<string?> SearchIndexOptionsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'reservations_search'", connection);
        return await command.ExecuteScalarAsync() as string;
    }

    [Fact]
    public async Task TwoServerProcesses_SharingOneDatabase_AppendGaplessAndSeeEachOthersEventsPromptly()
    {
        // Two store instances with their own connection pools stand for two server processes.
        await using var other = PostgresRegistryStore.Create(_connectionString!);
        await other.MigrateAsync();
        await CreateHolderAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seenByOther = new TaskCompletionSource<long>();
        var tail = Task.Run(async () =>
        {
            await foreach (var e in other.TailEventsAsync(1, cts.Token))
            {
                if (e.Type == "probe")
                {
                    seenByOther.TrySetResult(e.Sequence);
                }
            }
        });

        var writers = new[] { Store, other }.SelectMany((store, s) => Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < 15; i++)
            {
                await store.AppendAsync(new Mutation(Event("reservation.created"), Reservation($"s{s}-t{t}-{i}")));
            }
        }))).ToArray();
        await Task.WhenAll(writers);

        await Task.Delay(500);
        var started = DateTime.UtcNow;
        var probe = await Store.AppendAsync(new Mutation(new EventDraft("test", "probe", Encoding.UTF8.GetBytes("p")), Reservation("probe")));
        var seen = await seenByOther.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var delay = DateTime.UtcNow - started;
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tail);

        Assert.Equal(probe.Sequence, seen);
        Assert.Equal(121, probe.Sequence);
        Assert.True(delay < TimeSpan.FromSeconds(2), $"the other process saw the event after {delay}");
        await LogAudit.VerifyAsync(other);
    }
}
