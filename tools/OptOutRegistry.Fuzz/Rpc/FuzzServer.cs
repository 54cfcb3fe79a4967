using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Server.Hosting;

namespace OptOutRegistry.Fuzz.Rpc;

/// <summary>One log entry at Error or above, as captured.</summary>
/// <param name="Category">Logger category.</param>
/// <param name="EventId">Event id.</param>
/// <param name="Level">Level.</param>
/// <param name="Message">Formatted message.</param>
/// <param name="Exception">The exception logged with it, if any.</param>
public sealed record CapturedLog(string Category, EventId EventId, LogLevel Level, string Message, Exception? Exception);

/// <summary>Captures every Error/Critical entry of the server, so that a handled-looking answer can still reveal an unhandled exception.</summary>
public sealed class ErrorLogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _entries = new();

    /// <summary>Takes every entry captured since the last call.</summary>
    public List<CapturedLog> Drain()
    {
        var list = new List<CapturedLog>();
        while (_entries.TryDequeue(out var entry))
        {
            list.Add(entry);
        }

        return list;
    }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<CapturedLog> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                entries.Enqueue(new CapturedLog(category, eventId, logLevel, formatter(state, exception), exception));
            }
        }
    }
}

/// <summary>
/// The real server in process (<see cref="TemporaryServer"/>: SQLite store, every service, loopback port chosen by the OS,
/// its own data directory) with an <see cref="ErrorLogCapture"/> hooked into its logger factory.
/// </summary>
public sealed class FuzzServer : IAsyncDisposable
{
    private readonly TemporaryServer _server;

    private FuzzServer(TemporaryServer server, ErrorLogCapture logs)
    {
        _server = server;
        GrpcAddress = new Uri(server.GrpcAddress);
        Logs = logs;
    }

    /// <summary>The running application.</summary>
    public WebApplication App => _server.App;

    /// <summary>Its data directory (deleted on dispose).</summary>
    public string DataDirectory => _server.DataDirectory;

    /// <summary>The h2c gRPC address.</summary>
    public Uri GrpcAddress { get; }

    /// <summary>Error entries the server logged.</summary>
    public ErrorLogCapture Logs { get; }

    /// <summary>The admin key the server generated.</summary>
    public string AdminKey => _server.AdminKey;

    /// <summary>
    /// Starts a server. Registry and Feed rate limits are off (the check limit's default is far above the fuzzer's rate)
    /// so the fuzzer measures parsing, not the limiter.
    /// </summary>
    public static async Task<FuzzServer> StartAsync(params string[] extraArgs)
    {
        var logs = new ErrorLogCapture();
        var server = await TemporaryServer.StartAsync(
            ["--Logging:LogLevel:Default", "Warning", "--Logging:Console:LogLevel:Default", "None",
             "--registry-rate-limit-per-address", "0", "--feed-rate-limit-per-address", "0", .. extraArgs],
            logging: logs);
        return new FuzzServer(server, logs);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
