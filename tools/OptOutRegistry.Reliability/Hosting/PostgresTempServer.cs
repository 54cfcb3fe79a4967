using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace OptOutRegistry.Reliability.Hosting;

/// <summary>
/// A throwaway PostgreSQL server, the same way the Storage tests run one: Debian's binaries
/// (<c>/usr/lib/postgresql/&lt;version&gt;/bin</c>, newest found), <c>initdb</c> into a temporary directory,
/// <c>pg_ctl</c> on a free loopback port with the unix socket in that directory; as root it runs as the
/// <c>postgres</c> system user (initdb refuses root). Dispose stops it and deletes the directory.
/// </summary>
public sealed class PostgresTempServer : IAsyncDisposable
{
    private const string DebianRoot = "/usr/lib/postgresql";
    private readonly DirectoryInfo _directory;
    private readonly string _binDirectory;
    private readonly bool _asPostgresUser;

    private PostgresTempServer(DirectoryInfo directory, string binDirectory, bool asPostgresUser, int port)
    {
        _directory = directory;
        _binDirectory = binDirectory;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    private string DataDirectory => Path.Combine(_directory.FullName, "data");

    /// <summary>Creates the cluster, starts it and creates the database <c>optout</c>.</summary>
    /// <exception cref="InvalidOperationException">No PostgreSQL server binaries (Debian package <c>postgresql</c>).</exception>
    public static async Task<PostgresTempServer> StartAsync()
    {
        var bin = FindBinaries();
        var directory = Directory.CreateTempSubdirectory("optout-reliability-pg-");
        var asPostgres = string.Equals(Environment.UserName, "root", StringComparison.Ordinal);
        var server = new PostgresTempServer(directory, bin, asPostgres, ServerProcess.FreePort());
        try
        {
            if (asPostgres)
            {
                await RunAsync("chown", ["-R", "postgres:postgres", directory.FullName], TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }

            await server.RunPgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                TimeSpan.FromMinutes(2)).ConfigureAwait(false);
            await server.RunPgAsync("pg_ctl",
                ["-D", server.DataDirectory, "-l", Path.Combine(directory.FullName, "server.log"), "-w", "-t", "300",
                    "-o", $"-p {server.Port.ToString(CultureInfo.InvariantCulture)} -k {directory.FullName} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on",
                    "start"],
                TimeSpan.FromMinutes(6)).ConfigureAwait(false);
            await using var connection = new NpgsqlConnection(server.ConnectionString("postgres"));
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand("CREATE DATABASE optout", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>The connection string of database <paramref name="database"/> (default: the registry's).</summary>
    public string ConnectionString(string database = "optout") => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Timeout = 30,
    }.ToString();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Directory.Exists(DataDirectory) && File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                NpgsqlConnection.ClearAllPools();
                await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            }
        }
        finally
        {
            _directory.Delete(recursive: true);
        }
    }

    private Task<string> RunPgAsync(string tool, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var path = Path.Combine(_binDirectory, tool);
        return _asPostgresUser
            ? RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], timeout)
            : RunAsync(path, arguments, timeout);
    }

    private static string FindBinaries()
    {
        if (Directory.Exists(DebianRoot))
        {
            string? best = null;
            var bestVersion = -1;
            foreach (var directory in Directory.GetDirectories(DebianRoot))
            {
                if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > bestVersion
                    && File.Exists(Path.Combine(directory, "bin", "initdb")) && File.Exists(Path.Combine(directory, "bin", "pg_ctl")))
                {
                    best = directory;
                    bestVersion = version;
                }
            }

            if (best is not null)
            {
                return Path.Combine(best, "bin");
            }
        }

        throw new InvalidOperationException(
            $"PostgreSQL server binaries (initdb, pg_ctl) were not found under {DebianRoot}/<version>/bin: install the Debian package 'postgresql'");
    }

    private static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}");
        }

        var output = new StringBuilder().Append(await stdout.ConfigureAwait(false)).Append(await stderr.ConfigureAwait(false)).ToString();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}:\n{output}");
        }

        return output;
    }
}
