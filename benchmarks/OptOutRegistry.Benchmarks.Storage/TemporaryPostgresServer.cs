using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// Starts a throw-away PostgreSQL server from Debian's binaries (/usr/lib/postgresql/&lt;version&gt;/bin) in a temporary
/// directory on a free loopback port, as the tests do, so benchmarks need no pre-installed database.
/// </summary>
internal sealed class TemporaryPostgresServer : IDisposable
{
    private readonly string _bin;
    private readonly string _dir;
    private readonly bool _asPostgres;

    private TemporaryPostgresServer(string bin, string dir, bool asPostgres, int port)
    {
        _bin = bin;
        _dir = dir;
        _asPostgres = asPostgres;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database};Pooling=true;Timeout=30;Command Timeout=0";

    public static TemporaryPostgresServer Start()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")).FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("PostgreSQL binaries not found under /usr/lib/postgresql/<version>/bin: install the Debian 'postgresql' package, or pass --pg <connection string>.");
        }

        var dir = Directory.CreateTempSubdirectory("optout-bench-pg-").FullName;
        var asPostgres = Environment.UserName == "root";
        if (asPostgres)
        {
            Run("chown", ["-R", "postgres:postgres", dir]);
        }

        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var server = new TemporaryPostgresServer(bin, dir, asPostgres, port);
        // SIGTERM / Ctrl+C still stop the server and delete its directory.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        Console.CancelKeyPress += (_, _) => server.Dispose();
        server.Pg("initdb", ["-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
        server.Pg("pg_ctl", ["-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "log"), "-w", "-o",
            $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=on -c shared_buffers=512MB -c max_wal_size=4GB", "start"]);
        using var connection = new Npgsql.NpgsqlConnection(server.ConnectionString("postgres"));
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand("CREATE DATABASE bench", connection);
        command.ExecuteNonQuery();
        return server;
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Npgsql.NpgsqlConnection.ClearAllPools();
        Pg("pg_ctl", ["-D", Path.Combine(_dir, "data"), "-m", "fast", "-w", "stop"]);
        Directory.Delete(_dir, recursive: true);
    }

    private void Pg(string tool, string[] args)
    {
        var path = Path.Combine(_bin, tool);
        if (_asPostgres)
        {
            Run("runuser", ["-u", "postgres", "--", path, .. args]);
        }
        else
        {
            Run(path, args);
        }
    }

    private static void Run(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {output.Result}{error}");
        }
    }
}
