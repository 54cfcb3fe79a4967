using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Server;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// The real server in process on loopback ports the OS picks, with its own temporary data directory (SQLite) and every
/// log line at every level captured by <see cref="CapturingLoggerProvider"/>. Dispose stops it and deletes the directory.
/// </summary>
public sealed class SecurityServer : IAsyncDisposable
{
    private SecurityServer(WebApplication app, string dataDirectory, IReadOnlyList<string> addresses, CapturingLoggerProvider logs)
    {
        App = app;
        DataDirectory = dataDirectory;
        Addresses = addresses;
        Logs = logs;
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>The data directory (database, signing key, admin key).</summary>
    public string DataDirectory { get; }

    /// <summary>The bound addresses in binding order: the gRPC (--urls) ones first, then the HTTP gateway ones.</summary>
    public IReadOnlyList<string> Addresses { get; }

    /// <summary>The gRPC address (h2c, or https when started with TLS).</summary>
    public string GrpcAddress => Addresses[0];

    /// <summary>The HTTP/1.1 gateway address (cleartext servers only).</summary>
    public string HttpAddress => Addresses[1];

    /// <summary>Every log line the server wrote.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>The admin key the server generated on first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(DataDirectory, "admin-key")).Trim();

    /// <summary>Starts a cleartext server (gRPC h2c plus an HTTP/1.1 gateway port); <paramref name="extraArgs"/> go to its configuration.</summary>
    public static Task<SecurityServer> StartAsync(params string[] extraArgs) =>
        StartWithAsync(["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", .. extraArgs]);

    /// <summary>Starts a server with exactly these address arguments plus a fresh data directory and trace logging.</summary>
    public static async Task<SecurityServer> StartWithAsync(string[] args, string? dataDirectory = null)
    {
        dataDirectory ??= Path.Combine(Path.GetTempPath(), "optout-sec-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var app = ServerHost.Build(["--data-dir", dataDirectory, "--Logging:LogLevel:Default", "Trace", .. args]);
        var logs = new CapturingLoggerProvider();
        // Added after Build: LoggerFactory updates the loggers it already handed out, so nothing logged from start on is missed.
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return new SecurityServer(app, dataDirectory, addresses, logs);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a background task: the OS temp cleaner will take it.
        }
    }
}

/// <summary>Keeps every formatted log line (with exception text and scope-free state) in memory.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>The lines logged so far: "category level message exception".</summary>
    public IReadOnlyCollection<string> Lines => _lines;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, _lines);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // The structured values too, not only the message: a secret passed as a parameter but left out of the template counts.
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => p.Key + "=" + p.Value)) : string.Empty;
            lines.Enqueue($"{category} {logLevel} {formatter(state, exception)} {values} {exception}");
        }
    }
}
