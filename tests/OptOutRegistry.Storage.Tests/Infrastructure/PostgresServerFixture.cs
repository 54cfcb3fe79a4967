using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace OptOutRegistry.Storage.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for the test run: Debian's binaries (/usr/lib/postgresql/&lt;version&gt;/bin, newest
/// version found), initdb into a temporary directory, pg_ctl on a free loopback port with the unix socket in the same
/// directory, stopped and deleted at the end. As root the server runs as the 'postgres' system user (initdb refuses
/// root). No binaries means the tests fail with instructions: they are never skipped.
/// This one file is also compiled into the storage benchmarks (linked, see their project file): it must not use xunit;
/// the test project adds <c>IAsyncLifetime</c> in <c>PostgresCollection.cs</c>.
/// </summary>
public sealed partial class PostgresServerFixture
{
    private const string DebianRoot = "/usr/lib/postgresql";
    private DirectoryInfo? _dir;
    private string? _binDir;
    private bool _asPostgresUser;
    private int _databaseCounter;

    public int Port { get; private set; }

    /// <summary>Extra server settings (<c>name=value</c>, passed as <c>-c</c>), e.g. a larger shared_buffers for benchmarks.</summary>
    public IReadOnlyList<string> ServerSettings { get; init; } = [];

    public string DataDirectory => Path.Combine(_dir!.FullName, "data");

    public async Task InitializeAsync()
    {
        _binDir = FindBinaries();
        _dir = Directory.CreateTempSubdirectory("optout-pg-");
        _asPostgresUser = string.Equals(Environment.UserName, "root", StringComparison.Ordinal);
        if (_asPostgresUser)
        {
            await ProcessRunner.RunAsync("chown", ["-R", "postgres:postgres", _dir.FullName], TimeSpan.FromSeconds(30));
        }

        await RunPgAsync("initdb", ["-D", DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            TimeSpan.FromMinutes(2));
        Port = FreePort();
        await StartAsync();
    }

    /// <summary>Starts (or restarts) the server on <see cref="Port"/>.</summary>
    public Task StartAsync()
    {
        var options = $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {_dir!.FullName} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on";
        foreach (var setting in ServerSettings)
        {
            options += " -c " + setting;
        }

        return RunPgAsync("pg_ctl",
            ["-D", DataDirectory, "-l", Path.Combine(_dir.FullName, "server.log"), "-w", "-t", "300", "-o", options, "start"],
            TimeSpan.FromMinutes(6));
    }

    /// <summary>Stops the server the way a crash would: immediate shutdown, recovery from the WAL on next start.</summary>
    /// A checkpoint first bounds crash recovery to the WAL written after it (the writer's latest commits), so a
    /// loaded CI machine restarts in seconds rather than replaying every test database's creation.
    public async Task CrashAsync()
    {
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("CHECKPOINT", connection);
            await command.ExecuteNonQueryAsync();
        }

        await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], TimeSpan.FromMinutes(1));
    }

    /// <summary>Creates a fresh database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "optout_test_" + Interlocked.Increment(ref _databaseCounter).ToString(CultureInfo.InvariantCulture);
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name} STRATEGY FILE_COPY", connection);
            await command.ExecuteNonQueryAsync();
        }

        return ConnectionString(name);
    }

    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = database,
            Pooling = true,
            MaxPoolSize = 20,
            Timeout = 30,
        }.ToString();

    /// <summary>Stops the server and deletes its directory; later calls do nothing.</summary>
    public async Task DisposeAsync()
    {
        var dir = Interlocked.Exchange(ref _dir, null);
        if (dir is null)
        {
            return;
        }

        try
        {
            var data = Path.Combine(dir.FullName, "data");
            if (_binDir is not null && Directory.Exists(data))
            {
                NpgsqlConnection.ClearAllPools();
                await RunPgAsync("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"], TimeSpan.FromMinutes(1));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private Task<string> RunPgAsync(string tool, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var path = Path.Combine(_binDir!, tool);
        return _asPostgresUser
            ? ProcessRunner.RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], timeout)
            : ProcessRunner.RunAsync(path, arguments, timeout);
    }

    private static string FindBinaries()
    {
        if (Directory.Exists(DebianRoot))
        {
            var best = Directory.GetDirectories(DebianRoot)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(x => x.Version > 0 && File.Exists(Path.Combine(x.Dir, "bin", "initdb")) && File.Exists(Path.Combine(x.Dir, "bin", "pg_ctl")))
                .OrderByDescending(x => x.Version)
                .FirstOrDefault();
            if (best.Dir is not null)
            {
                return Path.Combine(best.Dir, "bin");
            }
        }

        throw new InvalidOperationException(
            $"PostgreSQL server binaries (initdb, pg_ctl) were not found under {DebianRoot}/<version>/bin. "
            + "Install the Debian package 'postgresql' (CI: .ci/run does apt-get install postgresql).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
