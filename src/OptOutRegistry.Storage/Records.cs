using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage;

/// <summary>Lifecycle state of a stored reservation.</summary>
public enum ReservationState
{
    /// <summary>In force (from its valid_from, until valid_until if any).</summary>
    Active = 1,

    /// <summary>Replaced by a later reservation; kept for history and time travel.</summary>
    Superseded = 2,

    /// <summary>Withdrawn by its holder.</summary>
    Revoked = 3,
}

/// <summary>A rights holder account.</summary>
public sealed record HolderRecord(string Id, string DisplayName, string? ContactEmail, DateTimeOffset CreatedAt, long CreatedSequence);

/// <summary>An API key, stored only as the SHA-256 of the secret plus a short public prefix for listing.</summary>
public sealed record ApiKeyRecord(
    string KeyId, string HolderId, byte[] KeyHash, string Prefix, string? Label, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    /// <summary>True while the key may authenticate.</summary>
    public bool IsActive => RevokedAt is null;
}

/// <summary>A host whose control by the holder was verified, and how.</summary>
public sealed record VerifiedHostRecord(string HolderId, string Host, string Method, DateTimeOffset VerifiedAt);

/// <summary>A pending host-verification challenge (not evidence: it is not logged).</summary>
public sealed record VerificationChallenge(string HolderId, string Host, string Token, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

/// <summary>Searchable metadata of the reserved work.</summary>
public sealed record WorkMetadata(string? Title, IReadOnlyList<string> Creators, IReadOnlyList<string> Identifiers, string? Language = null)
{
    /// <summary>No metadata.</summary>
    public static WorkMetadata Empty { get; } = new(null, [], []);
}

/// <summary>
/// A stored reservation: the columns the store queries by, plus the service layer's canonical payload (opaque).
/// Times have microsecond precision.
/// </summary>
public sealed record ReservationRecord(
    string Id,
    string HolderId,
    ReservationState State,
    DateTimeOffset StateChangedAt,
    DateTimeOffset RegisteredAt,
    DateTimeOffset ValidFrom,
    DateTimeOffset? ValidUntil,
    WorkMetadata Work,
    string? HolderDisplayName,
    byte[] Payload,
    long CreatedSequence,
    long LastSequence);

/// <summary>One state of a reservation's history, with the event that made it.</summary>
public sealed record ReservationStateRecord(ReservationState State, DateTimeOffset At, long Sequence);

/// <summary>A page of results; <see cref="NextPageToken"/> is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextPageToken);

/// <summary>A search result, best first; <see cref="Rank"/> orders hits within one query only.</summary>
public sealed record SearchHit(string ReservationId, string HolderId, string? Title, ReservationState State, double Rank);

/// <summary>How far full-text search has indexed the event log.</summary>
/// <param name="IndexedThrough">Every event up to and including this sequence is reflected in search results (−1: none).</param>
/// <param name="LatestSequence">The newest event in the log (−1 when empty).</param>
public sealed record SearchIndexStatus(long IndexedThrough, long LatestSequence)
{
    /// <summary>Events committed but not yet searchable.</summary>
    public long Lag => Math.Max(0, LatestSequence - IndexedThrough);
}

/// <summary>
/// An event as committed to the log. <see cref="Sequence"/> is the leaf index in the transparency log;
/// <see cref="LeafHash"/> = SHA-256(0x00 ‖ <see cref="EventLeaf"/> encoding).
/// </summary>
public sealed record CommittedEvent(long Sequence, DateTimeOffset Time, string Actor, string Type, byte[] Payload, byte[] LeafHash)
{
    /// <summary>Server time in microseconds since the Unix epoch, as hashed into the leaf.</summary>
    public long TimeMicroseconds => StoreTime.ToMicroseconds(Time);

    /// <summary>The canonical leaf bytes (see <see cref="EventLeaf"/>).</summary>
    public byte[] EncodeLeaf() => EventLeaf.Encode(Sequence, TimeMicroseconds, Actor, Type, Payload);

    /// <summary>True when <see cref="LeafHash"/> matches the event's own fields.</summary>
    public bool HasValidLeafHash() => MerkleHash.HashLeaf(EncodeLeaf()).AsSpan().SequenceEqual(LeafHash);
}

/// <summary>The log's current size and root, unsigned (the service signs it with <see cref="TreeHeadSigner"/>).</summary>
public sealed record TreeHead(long TreeSize, byte[] RootHash, DateTimeOffset LastEventTime);

/// <summary>Microsecond time helpers: both stores keep times as integer microseconds since the Unix epoch.</summary>
public static class StoreTime
{
    /// <summary>Microseconds since the Unix epoch.</summary>
    public static long ToMicroseconds(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>Inverse of <see cref="ToMicroseconds"/>.</summary>
    public static DateTimeOffset FromMicroseconds(long microseconds) => DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10);
}
