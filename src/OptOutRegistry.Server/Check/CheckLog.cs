namespace OptOutRegistry.Server.Check;

/// <summary>Log messages of the matcher host, replicas and the check path (event ids 7000–7099).</summary>
internal static partial class CheckLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Matcher following the store from sequence {Sequence}")]
    public static partial void FollowingStore(ILogger logger, long sequence);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Event {Sequence} could not be applied to the matcher and was skipped: {Reason}")]
    public static partial void EventSkipped(ILogger logger, long sequence, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Following {Source} failed; retrying in {DelayMs} ms")]
    public static partial void FollowFailed(ILogger logger, string source, int delayMs, Exception exception);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information, Message = "Replica of {Primary}: loaded snapshot as_of_sequence={Sequence} ({Bytes} bytes, key {Fingerprint})")]
    public static partial void SnapshotLoaded(ILogger logger, string primary, long sequence, long bytes, string fingerprint);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Debug, Message = "applied event sequence={Sequence}")]
    public static partial void EventApplied(ILogger logger, long sequence);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Information, Message = "Replica of {Primary}: watching events from sequence {Sequence}")]
    public static partial void Watching(ILogger logger, string primary, long sequence);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Warning, Message = "No registry store is configured; the matcher stays empty")]
    public static partial void NoStore(ILogger logger);
}
