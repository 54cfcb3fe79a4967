using Microsoft.Data.Sqlite;
using OptOutRegistry.Storage.Sqlite;

namespace OptOutRegistry.Storage.Tests.Conformance;

public sealed class SqliteConformanceTests : RegistryStoreConformanceTests, IDisposable
{
    private readonly List<DirectoryInfo> _dirs = [];

    protected override Task<string> CreateLocationAsync()
    {
        var dir = Directory.CreateTempSubdirectory("optout-sqlite-");
        _dirs.Add(dir);
        return Task.FromResult(dir.FullName);
    }

    protected override async Task<IRegistryStore> OpenAsync(string location) => await SqliteRegistryStore.OpenAsync(location);

    protected override Task MigrateToAsync(IRegistryStore store, int version) =>
        ((SqliteRegistryStore)store).MigrateToAsync(version, CancellationToken.None);

    protected override int LatestSchemaVersion => 3;

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            if (dir.Exists)
            {
                dir.Delete(recursive: true);
            }
        }
    }

    [Fact]
    public async Task Database_UsesWalJournalAndFullSync()
    {
        var store = (SqliteRegistryStore)Store;
        await using var connection = new SqliteConnection($"Data Source={store.DatabasePath}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
        // synchronous is per connection: FULL (2) on the connection that commits acknowledged writes.
        Assert.Equal(2, await store.ReadWriterPragmaAsync("synchronous"));
    }

    [Fact]
    public async Task Database_New_Has16KiBPages_AnExistingOneKeepsItsOwn()
    {
        await CreateHolderAsync();
        Assert.Equal(16384, await ((SqliteRegistryStore)Store).ReadWriterPragmaAsync("page_size"));

        // A data directory from before: 4 KiB pages, already in WAL mode. Opening and migrating keeps its page size and its data.
        var location = await CreateLocationAsync();
        await using (var old = new SqliteConnection($"Data Source={Path.Combine(location, SqliteRegistryStore.DatabaseFileName)};Pooling=False"))
        {
            await old.OpenAsync();
            await using var command = old.CreateCommand();
            command.CommandText = "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE before_upgrade (x INTEGER);";
            await command.ExecuteNonQueryAsync();
        }

        await using var store = await SqliteRegistryStore.OpenAsync(location);
        await store.MigrateAsync();
        await store.AppendAsync(new Mutation(Event("holder.created"), new CreateHolder("h1", "Holder", null)));
        Assert.Equal(4096, await store.ReadWriterPragmaAsync("page_size"));
        Assert.NotNull(await store.GetHolderAsync("h1"));
    }

    [Fact]
    public async Task Readers_WhileAWriteTransactionIsOpen_AreNotBlocked()
    {
        await CreateHolderAsync();
        var store = (SqliteRegistryStore)Store;
        await using var blocker = new SqliteConnection($"Data Source={store.DatabasePath}");
        await blocker.OpenAsync();
        using var transaction = blocker.BeginTransaction(deferred: false);
        await using (var write = blocker.CreateCommand())
        {
            write.Transaction = transaction;
            write.CommandText = "UPDATE holders SET display_name = 'uncommitted' WHERE id = 'h1'";
            await write.ExecuteNonQueryAsync();
        }

        var holder = await Store.GetHolderAsync("h1").WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("Holder One", holder!.DisplayName);
        transaction.Rollback();
    }

    // ---- the background search index (search.db) ----

    [Fact]
    public async Task Migrate_Version2DataWithSearchInRegistryFile_MovesSearchToItsOwnFileAndFindsOldWorks()
    {
        var location = await CreateLocationAsync();
        await using (var old = (SqliteRegistryStore)await OpenAsync(location))
        {
            await MigrateToAsync(old, 2);
            await old.AppendAsync(new Mutation(Event("holder.created"), new CreateHolder("h1", "Old Holder", null)));
            await old.AppendAsync(new Mutation(Event("reservation.created"), Reservation("r1", title: "Қара сөздер")));
            // Version 2 indexed in the append transaction, into registry.db's own works_fts.
            await ExecuteAsync(old.DatabasePath, "INSERT INTO works_fts (rowid, title, creators, identifiers, holder_name) VALUES (1, 'қара создер', '', '', '')");
        }

        await using var upgraded = (SqliteRegistryStore)await OpenAsync(location);
        await upgraded.MigrateAsync();

        Assert.Equal(3, await upgraded.GetSchemaVersionAsync());
        Assert.Equal(0L, await CountAsync(upgraded.DatabasePath, "SELECT count(*) FROM sqlite_master WHERE name = 'works_fts'"));
        Assert.Equal(["r1"], (await upgraded.SearchWorksAsync("ҚАРА", 10)).Select(h => h.ReservationId));
        Assert.True(File.Exists(Path.Combine(location, "search.db")));
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("from another registry")]
    [InlineData("garbage")]
    public async Task SearchIndex_MissingOrNotOfThisRegistry_IsRebuiltOnOpen(string damage)
    {
        var location = await CreateLocationAsync();
        await using (var first = await OpenAsync(location))
        {
            await first.MigrateAsync();
            await first.AppendAsync(new Mutation(Event("holder.created"), new CreateHolder("h1", "Holder", null)));
            await first.AppendAsync(new Mutation(Event("reservation.created"), Reservation("r1", title: "Lantern harbour")));
            Assert.Single(await first.SearchWorksAsync("lantern", 10));
        }

        var index = Path.Combine(location, "search.db");
        SqliteConnection.ClearAllPools();
        switch (damage)
        {
            case "deleted":
                File.Delete(index);
                break;
            case "from another registry":
                var other = await CreateLocationAsync();
                await using (var store = await OpenAsync(other))
                {
                    await store.MigrateAsync();
                    await store.AppendAsync(new Mutation(Event("holder.created"), new CreateHolder("h9", "Other", null)));
                    await store.AppendAsync(new Mutation(Event("reservation.created"), Reservation("x1", holderId: "h9", title: "Unrelated words")));
                    Assert.Single(await store.SearchWorksAsync("unrelated", 10));
                }

                SqliteConnection.ClearAllPools();
                File.Copy(Path.Combine(other, "search.db"), index, overwrite: true);
                File.Delete(index + "-wal");
                break;
            default:
                File.Delete(index + "-wal");
                await File.WriteAllBytesAsync(index, new byte[8192]);
                break;
        }

        await using var reopened = await OpenAsync(location);
        await reopened.MigrateAsync();

        Assert.Equal(["r1"], (await reopened.SearchWorksAsync("lantern", 10)).Select(h => h.ReservationId));
        Assert.Empty(await reopened.SearchWorksAsync("unrelated", 10));
        Assert.Equal(0, (await reopened.GetSearchIndexStatusAsync()).Lag);
    }

    [Fact]
    public async Task SearchIndex_BatchOfManyRows_IsSearchableAfterTheBatchAndReportsNoLag()
    {
        await CreateHolderAsync();
        var batch = new List<Mutation>();
        for (var i = 0; i < 2500; i++)
        {
            batch.Add(new Mutation(Event("reservation.created", "b" + i), Reservation("b" + i, title: (i % 100 == 0 ? "Rare " : "Common ") + "work " + i)));
        }

        var committed = await Store.AppendBatchAsync(batch);

        Assert.Equal(25, (await Store.SearchWorksAsync("rare", 1000)).Count);
        Assert.Equal(1000, (await Store.SearchWorksAsync("common", 1000)).Count);
        var status = await Store.GetSearchIndexStatusAsync();
        Assert.Equal(committed[^1].Sequence, status.IndexedThrough);
    }

    [Fact]
    public async Task History_WrittenBeforeCreationsWereDerived_IsNotDoubled()
    {
        await CreateHolderAsync();
        var created = await RegisterAsync(Reservation("r1"));
        // Schema v1-v3 data written by earlier code stored the creation's row too.
        await ExecuteAsync(((SqliteRegistryStore)Store).DatabasePath,
            $"INSERT INTO reservation_states (reservation_id, seq, state, at_us) VALUES ('r1', {created.Sequence}, 1, {created.TimeMicroseconds})");
        var revoked = await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("r1", ReservationState.Revoked)));

        var history = await Store.GetReservationHistoryAsync("r1");

        Assert.Equal(
            [(ReservationState.Active, created.Sequence, created.Time), (ReservationState.Revoked, revoked.Sequence, revoked.Time)],
            history.Select(h => (h.State, h.Sequence, h.At)));
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> CountAsync(string database, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={database};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
