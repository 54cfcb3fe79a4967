namespace OptOutRegistry.Server.Replication;

/// <summary>Log messages of a replica's local state (event ids 7100–7119).</summary>
internal static partial class ReplicaLog
{
    [LoggerMessage(EventId = 7100, Level = LogLevel.Information,
        Message = "Replica of {Primary}: resumed from local state: loaded snapshot as_of_sequence={Sequence} from disk")]
    public static partial void Resumed(ILogger logger, string primary, long sequence);

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Replica: replayed {Count} journal events, at sequence {Sequence}")]
    public static partial void JournalReplayed(ILogger logger, long count, long sequence);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Replica: local state discarded, downloading a new snapshot: {Reason}")]
    public static partial void LocalStateDiscarded(ILogger logger, string reason);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning,
        Message = "Replica of {Primary}: the primary now signs with key {Fingerprint}; local state discarded, downloading a new snapshot")]
    public static partial void KeyChanged(ILogger logger, string primary, string fingerprint);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Information, Message = "Replica: the journal holds {Count} events; downloading a fresh snapshot instead")]
    public static partial void JournalFolded(ILogger logger, long count);
}
