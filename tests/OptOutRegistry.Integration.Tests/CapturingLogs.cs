using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OptOutRegistry.Integration.Tests;

/// <summary>
/// Every log line of an in-process server, from its start on (add it with <c>logging.AddProvider</c>): tests assert
/// what an operator would read in the log, e.g. which keep-awake method runs or that the warm-up happened.
/// </summary>
internal sealed class CapturingLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(_lines);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(formatter(state, exception));
    }
}
