namespace OptOutRegistry.Storage;

/// <summary>The event part of a mutation: who did it, what kind of event, and the service's canonical payload.</summary>
/// <param name="Actor">Who caused the event (e.g. "holder:h1", "admin"); at most 1024 UTF-8 bytes.</param>
/// <param name="Type">Event type (e.g. "reservation.created"); at most 1024 UTF-8 bytes.</param>
/// <param name="Payload">Opaque canonical payload, hashed into the leaf.</param>
public sealed record EventDraft(string Actor, string Type, byte[] Payload);

/// <summary>
/// One atomic change: the event plus the row changes it describes. The store writes both in one transaction,
/// assigns the sequence number and the server time, or writes nothing.
/// </summary>
public sealed record Mutation(EventDraft Event, IReadOnlyList<StoreChange> Changes)
{
    /// <summary>Convenience for a mutation with one change.</summary>
    public Mutation(EventDraft @event, StoreChange change)
        : this(@event, [change])
    {
    }
}

/// <summary>A row change inside a <see cref="Mutation"/>.</summary>
public abstract record StoreChange;

/// <summary>Creates a holder account; fails with <see cref="StoreErrorKind.Conflict"/> if the id exists.</summary>
public sealed record CreateHolder(string HolderId, string DisplayName, string? ContactEmail) : StoreChange;

/// <summary>Adds an API key for an existing holder. <see cref="KeyHash"/> is the SHA-256 of the secret (32 bytes).</summary>
public sealed record AddApiKey(string KeyId, string HolderId, byte[] KeyHash, string Prefix, string? Label) : StoreChange;

/// <summary>Revokes an API key of the holder (idempotent for an already revoked key).</summary>
public sealed record RevokeApiKey(string KeyId, string HolderId) : StoreChange;

/// <summary>Records that the holder proved control of a host (method: "well-known", "meta", "dns").</summary>
public sealed record AddVerifiedHost(string HolderId, string Host, string Method) : StoreChange;

/// <summary>
/// Inserts a reservation, or replaces the stored fields of an existing one of the same holder (an amendment).
/// On insert, registered_at is the event's server time (never client-supplied); a null
/// <see cref="ValidFrom"/> means "from registration". A state different from the stored one is added to the history.
/// </summary>
public sealed record PutReservation(
    string ReservationId,
    string HolderId,
    ReservationState State,
    DateTimeOffset? ValidFrom,
    DateTimeOffset? ValidUntil,
    WorkMetadata? Work,
    string? HolderDisplayName,
    byte[] Payload) : StoreChange;

/// <summary>Changes a reservation's state (revoke, supersede), optionally replacing its payload.</summary>
public sealed record ChangeReservationState(string ReservationId, ReservationState State, byte[]? Payload = null) : StoreChange;

/// <summary>
/// Remembers that (holder, idempotency key) produced <see cref="ResultId"/>, so a retried request creates nothing
/// twice; a second use of the key fails with <see cref="StoreErrorKind.Conflict"/> and rolls the whole mutation back.
/// </summary>
public sealed record RecordIdempotencyKey(string HolderId, string Key, string ResultId) : StoreChange;
