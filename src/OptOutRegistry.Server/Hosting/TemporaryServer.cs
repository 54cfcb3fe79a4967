using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The real server (<see cref="ServerHost.Build"/>: embedded SQLite, every service) in this process, on loopback ports
/// the OS picks, with a data directory of its own that disposing deletes. For integration tests — ours, and a crawler
/// operator's who wants to test against a real registry without running one.
/// </summary>
/// <example>
/// <code>
/// await using var server = await TemporaryServer.StartAsync();
/// using var registry = RegistryClient.Create(server.GrpcAddress);
/// </code>
/// </example>
public sealed class TemporaryServer : IAsyncDisposable
{
    private readonly bool _deleteDataDirectory;

    private TemporaryServer(WebApplication app, string dataDirectory, IReadOnlyList<string> addresses, bool deleteDataDirectory)
    {
        App = app;
        DataDirectory = dataDirectory;
        Addresses = addresses;
        _deleteDataDirectory = deleteDataDirectory;
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>The data directory (database, signing key, admin key).</summary>
    public string DataDirectory { get; }

    /// <summary>The bound addresses in binding order: the gRPC (<c>--urls</c>) ones first, then the HTTP gateway ones.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>The first gRPC address, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public string GrpcAddress => Addresses[0];

    /// <summary>The admin key the server generated on first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(DataDirectory, "admin-key")).Trim();

    /// <summary>
    /// Starts a server with <paramref name="args"/> (the <c>optout serve</c> options; when they name no <c>--urls</c>,
    /// gRPC listens on <c>http://127.0.0.1:0</c> and the HTTP gateways are off). A fresh data directory under the temp
    /// directory is used and deleted on dispose unless <paramref name="dataDirectory"/> names one (then it is kept).
    /// <paramref name="logging"/>, when given, receives every log line from the start on.
    /// </summary>
    public static async Task<TemporaryServer> StartAsync(IEnumerable<string>? args = null, string? dataDirectory = null, ILoggerProvider? logging = null)
    {
        var arguments = new List<string>(args ?? []);
        if (!arguments.Exists(a => a == "--urls" || a.StartsWith("--urls=", StringComparison.Ordinal)))
        {
            arguments.InsertRange(0, ["--urls", "http://127.0.0.1:0", "--http-urls", "none"]);
        }

        // A test host's parked pool threads would leave the in-process server none free (ThreadPoolHeadroom.Ensure).
        OptOutRegistry.Grpc.ThreadPoolHeadroom.Ensure();
        var owned = dataDirectory is null;
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var app = ServerHost.Build(["--data-dir", dataDirectory, .. arguments]);
        if (logging is not null)
        {
            // Added after Build: the logger factory updates the loggers it already handed out, so nothing is missed.
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logging);
        }

        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            if (owned)
            {
                TryDelete(dataDirectory);
            }

            throw;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return new TemporaryServer(app, dataDirectory, addresses, owned);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync().ConfigureAwait(false);
        await App.DisposeAsync().ConfigureAwait(false);
        if (_deleteDataDirectory)
        {
            TryDelete(DataDirectory);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a background task: the OS temp cleaner will take it.
        }
    }
}
