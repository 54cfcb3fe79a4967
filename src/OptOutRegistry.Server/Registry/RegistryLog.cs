namespace OptOutRegistry.Server.Registry;

/// <summary>Source-generated log messages of the Registry service (event ids 600–699). Never logs keys or private contacts.</summary>
internal static partial class RegistryLog
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Holder {HolderId} created (event {Sequence})")]
    public static partial void HolderCreated(ILogger logger, string holderId, long sequence);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Host {Host} verified for holder {HolderId} by {Method}")]
    public static partial void HostVerified(ILogger logger, string holderId, string host, string method);

    [LoggerMessage(EventId = 602, Level = LogLevel.Debug, Message = "Reservation {ReservationId} created by holder {HolderId} (event {Sequence})")]
    public static partial void ReservationCreated(ILogger logger, string reservationId, string holderId, long sequence);

    [LoggerMessage(EventId = 603, Level = LogLevel.Information, Message = "Reservation {ReservationId} superseded by {ReplacementId} (event {Sequence})")]
    public static partial void ReservationAmended(ILogger logger, string reservationId, string replacementId, long sequence);

    [LoggerMessage(EventId = 604, Level = LogLevel.Information, Message = "Reservation {ReservationId} revoked (event {Sequence})")]
    public static partial void ReservationRevoked(ILogger logger, string reservationId, long sequence);

    [LoggerMessage(EventId = 605, Level = LogLevel.Information, Message = "Import by holder {HolderId} finished: {Created} created, {Duplicates} duplicates, {Rejected} rejected")]
    public static partial void ImportFinished(ILogger logger, string holderId, int created, int duplicates, int rejected);
}
