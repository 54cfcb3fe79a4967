using Npgsql;
using OptOutRegistry.Storage.Tests.Infrastructure;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// A throw-away PostgreSQL server for the benchmarks: the tests' own <see cref="PostgresServerFixture"/> (linked source),
/// with a larger buffer cache and WAL so a million-row import measures the store, not checkpoints.
/// </summary>
internal static class BenchmarkPostgres
{
    public static async Task<(PostgresServerFixture Server, string ConnectionString)> StartAsync()
    {
        var server = new PostgresServerFixture { ServerSettings = ["shared_buffers=512MB", "max_wal_size=4GB"] };
        await server.InitializeAsync();
        // SIGTERM / Ctrl+C still stop the server and delete its directory.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().GetAwaiter().GetResult();
        // Bulk statements of a million-row run may take longer than a test's 30 s command timeout.
        var connectionString = new NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()) { CommandTimeout = 0 }.ToString();
        return (server, connectionString);
    }
}
