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
}
