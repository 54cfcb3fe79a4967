using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Server.Hosting;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// The real server in process (<see cref="TemporaryServer"/>) with every log line at every level captured by
/// <see cref="CapturingLoggerProvider"/>. Dispose stops it and deletes its data directory.
/// </summary>
public sealed class SecurityServer : IAsyncDisposable
{
    private readonly TemporaryServer _server;

    private SecurityServer(TemporaryServer server, CapturingLoggerProvider logs)
    {
        _server = server;
        Logs = logs;
    }

    /// <summary>The running application.</summary>
    public WebApplication App => _server.App;

    /// <summary>The data directory (database, signing key, admin key).</summary>
    public string DataDirectory => _server.DataDirectory;

    /// <summary>The bound addresses in binding order: the gRPC (--urls) ones first, then the HTTP gateway ones.</summary>
    public IReadOnlyList<string> Addresses => _server.Addresses;

    /// <summary>The gRPC address (h2c, or https when started with TLS).</summary>
    public string GrpcAddress => Addresses[0];

    /// <summary>The HTTP/1.1 gateway address (cleartext servers only).</summary>
    public string HttpAddress => Addresses[1];

    /// <summary>Every log line the server wrote.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>The admin key the server generated on first start.</summary>
    public string AdminKey => _server.AdminKey;

    /// <summary>Starts a cleartext server (gRPC h2c plus an HTTP/1.1 gateway port); <paramref name="extraArgs"/> go to its configuration.</summary>
    public static Task<SecurityServer> StartAsync(params string[] extraArgs) =>
        StartWithAsync(["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", .. extraArgs]);

    /// <summary>Starts a server with exactly these address arguments plus a fresh data directory and trace logging.</summary>
    public static async Task<SecurityServer> StartWithAsync(string[] args)
    {
        var logs = new CapturingLoggerProvider();
        // Every category at Trace, including the two the server's LoggingDefaults turns down (Microsoft.AspNetCore at Warning,
        // Hosting.Diagnostics off): a category's own level wins over Default, and the request lines are where a leak would show.
        string[] everything =
        [
            "--Logging:LogLevel:Default", "Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore", "Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Trace",
        ];
        return new SecurityServer(await TemporaryServer.StartAsync([.. everything, .. args], logging: logs), logs);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();
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
