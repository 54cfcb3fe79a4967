using Microsoft.Extensions.Logging;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>Source-generated log messages of the server side, with stable event ids.</summary>
internal static partial class GrpcServerLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Error when executing service method '{Method}'.")]
    public static partial void ErrorExecutingServiceMethod(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Error status code '{StatusCode}' with detail '{Detail}' raised by '{Method}'.")]
    public static partial void RpcConnectionError(ILogger logger, StatusCode statusCode, string detail, string method);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Request deadline of {Timeout} exceeded for '{Method}'.")]
    public static partial void DeadlineExceeded(ILogger logger, TimeSpan timeout, string method);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Invalid grpc-timeout header value '{Value}' ignored.")]
    public static partial void InvalidTimeoutIgnored(ILogger logger, string value);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Request for '{Path}' rejected: {Reason}")]
    public static partial void RequestRejected(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Call '{Method}' cancelled by the client.")]
    public static partial void CallCancelledByClient(ILogger logger, string method);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Error while ending call '{Method}' after its deadline.")]
    public static partial void DeadlineCompletionError(ILogger logger, string method, Exception exception);
}
