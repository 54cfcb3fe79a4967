namespace OptOutRegistry.Server.Matching;

/// <summary>Log messages of the matcher rebuild at start and of readiness (event ids 7090–7099).</summary>
internal static partial class MatcherLog
{
    [LoggerMessage(EventId = 7090, Level = LogLevel.Information, Message = "Matcher rebuilt from the store: {Reservations} reservations as of sequence {Sequence} in {Seconds:F1} s (the store read waited {ReadWaited:F1} s for the build, the build {BuildWaited:F1} s for the read)")]
    public static partial void Rebuilt(ILogger logger, int reservations, long sequence, double seconds, double readWaited, double buildWaited);

    [LoggerMessage(EventId = 7091, Level = LogLevel.Warning, Message = "Stored reservation '{ReservationId}' could not be loaded into the matcher and was skipped: {Reason}")]
    public static partial void RowSkipped(ILogger logger, string reservationId, string reason);

    [LoggerMessage(EventId = 7092, Level = LogLevel.Error, Message = "Matcher rebuild from the store failed; replaying the event log instead")]
    public static partial void RebuildFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7093, Level = LogLevel.Warning, Message = "Matcher replaying the event log from sequence {From} to the store's head {Head}; the server is not ready until then")]
    public static partial void CatchingUp(ILogger logger, long from, long head);

    [LoggerMessage(EventId = 7094, Level = LogLevel.Information, Message = "Matcher caught up with the store at sequence {Sequence}")]
    public static partial void CaughtUp(ILogger logger, long sequence);

    [LoggerMessage(EventId = 7095, Level = LogLevel.Warning, Message = "Replica of {Primary}: replaying the feed from sequence {From} to the primary's head {Head}; the server is not ready until then")]
    public static partial void ReplicaCatchingUp(ILogger logger, string primary, long from, long head);

    [LoggerMessage(EventId = 7096, Level = LogLevel.Information, Message = "Replica of {Primary}: caught up with the primary at sequence {Sequence}")]
    public static partial void ReplicaCaughtUp(ILogger logger, string primary, long sequence);
}
