namespace OptOutRegistry.Server.Matching;

/// <summary>Log messages of the matcher rebuild at start (event ids 7090–7099).</summary>
internal static partial class MatcherLog
{
    [LoggerMessage(EventId = 7090, Level = LogLevel.Information, Message = "Matcher rebuilt from the store: {Reservations} reservations as of sequence {Sequence} in {Seconds:F1} s (the store read waited {ReadWaited:F1} s for the build, the build {BuildWaited:F1} s for the read)")]
    public static partial void Rebuilt(ILogger logger, int reservations, long sequence, double seconds, double readWaited, double buildWaited);

    [LoggerMessage(EventId = 7091, Level = LogLevel.Warning, Message = "Stored reservation '{ReservationId}' could not be loaded into the matcher and was skipped: {Reason}")]
    public static partial void RowSkipped(ILogger logger, string reservationId, string reason);

    [LoggerMessage(EventId = 7092, Level = LogLevel.Error, Message = "Matcher rebuild from the store failed; replaying the event log instead")]
    public static partial void RebuildFailed(ILogger logger, Exception exception);
}
