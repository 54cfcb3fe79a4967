using System.Globalization;
using OptOutRegistry.Testing;

namespace OptOutRegistry.Reliability.Hosting;

/// <summary>A process's resident memory in bytes: the total and its anonymous, file-backed and shared-memory parts.</summary>
public sealed record ProcessMemory(long Rss, long RssAnon, long RssFile, long RssShmem);

/// <summary>Where and how a registry server is started: data directory, store, extra options.</summary>
/// <param name="DataDirectory">The server's <c>--data-dir</c> (signing key, admin key, SQLite database).</param>
/// <param name="PostgresConnectionString">With a value the server runs <c>--store postgres</c>; null for SQLite.</param>
/// <param name="ExtraArguments">More <c>--key value</c> options for the host's configuration.</param>
public sealed record ServerSettings(string DataDirectory, string? PostgresConnectionString = null, IReadOnlyList<string>? ExtraArguments = null)
{
    /// <summary>The store's name as <c>--store</c> takes it.</summary>
    public string StoreName => PostgresConnectionString is null ? "sqlite" : "postgres";
}

/// <summary>
/// The real registry server as a child process (<c>dotnet optout-server.dll</c>, the same entry point operators run),
/// on a fixed loopback port so restarts keep the address. The process handling is the shared
/// <see cref="ChildServerProcess"/> (tests/Shared); this adds the harness's settings and memory readings.
/// <see cref="Kill"/> is SIGKILL: no shutdown hooks, no flush.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private const int MaxLogLines = 2000;
    private readonly ChildServerProcess _process;

    private ServerProcess(ChildServerProcess process, string address)
    {
        _process = process;
        Address = address;
    }

    /// <summary>The gRPC (h2c) address, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public string Address { get; }

    /// <summary>The server's process id (the <c>dotnet</c> host runs the app in-process).</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the server wrote to stdout/stderr (warnings and errors: the log level is Warning).</summary>
    public string RecentLog => _process.Log;

    /// <summary>A free loopback TCP port (the OS picks it; the listener is closed again at once).</summary>
    public static int FreePort() => ChildServerProcess.FreePort();

    /// <summary>
    /// Starts the server on <paramref name="port"/> and waits until it answers <c>Feed.GetTreeHead</c> (which needs the
    /// store open and migrated). Check rate limits are off unless <see cref="ServerSettings.ExtraArguments"/> set them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The server exited or did not answer within <paramref name="timeout"/>.</exception>
    public static async Task<ServerProcess> StartAsync(ServerSettings settings, int port, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var address = ChildServerProcess.LoopbackAddress(port);
        List<string> arguments =
        [
            "--urls", address, "--http-urls", "none", "--data-dir", settings.DataDirectory,
            // The harness measures the server, not the limiter: limits are off unless a run sets them on purpose.
            "--check-rate-limit-per-address", "0", "--check-rate-limit-per-key", "0",
            "--registry-rate-limit-per-address", "0", "--feed-rate-limit-per-address", "0",
            "--Logging:LogLevel:Default", "Warning",
            "--Logging:Console:FormatterName", "simple", "--Logging:Console:FormatterOptions:SingleLine", "true",
        ];
        if (settings.PostgresConnectionString is { } connectionString)
        {
            arguments.AddRange(["--store", "postgres", "--postgres", connectionString]);
        }

        arguments.AddRange(settings.ExtraArguments ?? []);
        var server = new ServerProcess(ChildServerProcess.Start("optout-server.dll", arguments, MaxLogLines), address);
        try
        {
            await server._process.WaitReadyAsync(address, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return server;
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Unix): the server gets no chance to finish anything.</summary>
    public void Kill() => _process.Kill();

    /// <summary>The resident set size from <c>/proc/PID/status</c> (VmRSS), in bytes; null once the process is gone.</summary>
    public long? ReadRssBytes() => ReadMemory()?.Rss;

    /// <summary>
    /// VmRSS and its parts RssAnon (heap, GC heap, native allocations such as SQLite's page cache), RssFile (mapped
    /// files: the runtime's assemblies and SQLite's memory-mapped database) and RssShmem (shared memory: the runtime's
    /// double-mapped executable memory for JIT code, SQLite's WAL index), in bytes; null once the process is gone.
    /// </summary>
    public ProcessMemory? ReadMemory()
    {
        long rss = -1, anon = -1, file = -1, shmem = -1;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = ParseKilobytes(line);
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anon = ParseKilobytes(line);
                }
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                {
                    file = ParseKilobytes(line);
                }
                else if (line.StartsWith("RssShmem:", StringComparison.Ordinal))
                {
                    shmem = ParseKilobytes(line);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process has exited.
        }

        return rss < 0 ? null : new ProcessMemory(rss, Math.Max(anon, 0), Math.Max(file, 0), Math.Max(shmem, 0));
    }

    private static long ParseKilobytes(string line)
    {
        var value = line.AsSpan(line.IndexOf(':') + 1).Trim();
        var space = value.IndexOf(' ');
        return long.Parse(space < 0 ? value : value[..space], CultureInfo.InvariantCulture) * 1024;
    }

    /// <inheritdoc />
    public void Dispose() => _process.Dispose();
}
