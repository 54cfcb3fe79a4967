namespace OptOutRegistry.Server.Warmup;

/// <summary>Log messages of the warm-up (event ids 7110–7119).</summary>
internal static partial class WarmUpLog
{
    [LoggerMessage(EventId = 7110, Level = LogLevel.Information, Message = "Warm-up: {Requests} requests to this server's own addresses in {Milliseconds:F0} ms; ready")]
    public static partial void Done(ILogger logger, int requests, double milliseconds);

    [LoggerMessage(EventId = 7111, Level = LogLevel.Warning, Message = "Warm-up failed after {Requests} requests in {Milliseconds:F0} ms; ready without it")]
    public static partial void Failed(ILogger logger, int requests, double milliseconds, Exception exception);

    [LoggerMessage(EventId = 7112, Level = LogLevel.Warning, Message = "Warm-up: no check entry point answered on the listening addresses ({Addresses}); ready without it")]
    public static partial void NothingWarmed(ILogger logger, string addresses);
}
