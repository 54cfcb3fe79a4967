using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage;

/// <summary>
/// The registry's source of truth: holders, reservations with their history, and the append-only event log
/// that is also the transparency log. Every write is a <see cref="Mutation"/>: its rows and its event are
/// committed in one transaction, the event's sequence number is its leaf index, and sequences are gapless.
/// Implementations: <see cref="Sqlite.SqliteRegistryStore"/>, <see cref="Postgres.PostgresRegistryStore"/>.
/// </summary>
public interface IRegistryStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema in place (idempotent; safe to run from several processes).</summary>
    Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>The schema version the store is at.</summary>
    Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default);

    // ---- writes ----

    /// <summary>Commits one mutation and its event; durable when the task completes.</summary>
    /// <exception cref="StoreException">The mutation was refused; nothing was written.</exception>
    Task<CommittedEvent> AppendAsync(Mutation mutation, CancellationToken cancellationToken = default);

    /// <summary>Commits many mutations in one transaction (bulk import): all or none.</summary>
    /// <exception cref="StoreException">One mutation was refused (see <see cref="StoreException.MutationIndex"/>); nothing was written.</exception>
    Task<IReadOnlyList<CommittedEvent>> AppendBatchAsync(IReadOnlyList<Mutation> batch, CancellationToken cancellationToken = default);

    /// <summary>Stores (replaces) the pending verification challenge for (holder, host). Not logged: not evidence.</summary>
    Task PutVerificationChallengeAsync(VerificationChallenge challenge, CancellationToken cancellationToken = default);

    /// <summary>Deletes a pending challenge; true if one existed.</summary>
    Task<bool> DeleteVerificationChallengeAsync(string holderId, string host, CancellationToken cancellationToken = default);

    // ---- holders ----

    /// <summary>A holder by id, or null.</summary>
    Task<HolderRecord?> GetHolderAsync(string holderId, CancellationToken cancellationToken = default);

    /// <summary>The key whose SHA-256 is <paramref name="keyHash"/> (revoked keys too: check <see cref="ApiKeyRecord.IsActive"/>).</summary>
    Task<ApiKeyRecord?> FindApiKeyByHashAsync(byte[] keyHash, CancellationToken cancellationToken = default);

    /// <summary>The holder's keys, oldest first.</summary>
    Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string holderId, CancellationToken cancellationToken = default);

    /// <summary>The holder's verified hosts, by host name.</summary>
    Task<IReadOnlyList<VerifiedHostRecord>> ListVerifiedHostsAsync(string holderId, CancellationToken cancellationToken = default);

    /// <summary>Every verified (holder, host), for the matcher rebuild.</summary>
    IAsyncEnumerable<VerifiedHostRecord> ReadAllVerifiedHostsAsync(CancellationToken cancellationToken = default);

    /// <summary>The pending challenge for (holder, host), or null.</summary>
    Task<VerificationChallenge?> GetVerificationChallengeAsync(string holderId, string host, CancellationToken cancellationToken = default);

    /// <summary>The result id recorded for (holder, idempotency key), or null.</summary>
    Task<string?> FindIdempotencyKeyAsync(string holderId, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// The result ids recorded for those of <paramref name="keys"/> the holder has used, keyed by idempotency key
    /// (absent keys are missing from the map): the bulk import's duplicate check, a few queries per batch instead of
    /// one per item.
    /// </summary>
    Task<IReadOnlyDictionary<string, string>> FindIdempotencyKeysAsync(
        string holderId, IReadOnlyList<string> keys, CancellationToken cancellationToken = default);

    // ---- reservations ----

    /// <summary>A reservation by id, or null.</summary>
    Task<ReservationRecord?> GetReservationAsync(string reservationId, CancellationToken cancellationToken = default);

    /// <summary>Those of the reservations that exist, in no particular order (a few queries for many ids).</summary>
    Task<IReadOnlyList<ReservationRecord>> GetReservationsAsync(IReadOnlyList<string> reservationIds, CancellationToken cancellationToken = default);

    /// <summary>The holder's reservations in registration order, a page at a time (page size 1..1000).</summary>
    /// <exception cref="ArgumentException">The page token was not issued by this store, or the page size is out of range.</exception>
    Task<Page<ReservationRecord>> ListReservationsByHolderAsync(
        string holderId, string? pageToken, int pageSize, CancellationToken cancellationToken = default);

    /// <summary>Every state the reservation has had, oldest first (empty if unknown).</summary>
    Task<IReadOnlyList<ReservationStateRecord>> GetReservationHistoryAsync(string reservationId, CancellationToken cancellationToken = default);

    /// <summary>Every reservation in registration order (all states), streamed: the matcher rebuild.</summary>
    IAsyncEnumerable<ReservationRecord> ReadAllReservationsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The current payload of every reservation (all states) in registration order, read in one consistent snapshot
    /// together with the log sequence the rows are current as of: the matcher rebuild's compact input (only the
    /// payload column, no event log), after which the caller tails the log from the returned sequence + 1.
    /// </summary>
    /// <param name="onPayload">Called on the reading thread once per reservation, in order; the array is the caller's.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The sequence of the newest event the rows reflect (−1 for an empty log).</returns>
    Task<long> ReadReservationPayloadsAsync(Action<byte[]> onPayload, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="ReadReservationPayloadsAsync"/>, but each payload is handed over as a span that is valid only during
    /// the call (no array per row: SQLite passes its own column buffer), with <paramref name="state"/> passed through.
    /// </summary>
    /// <param name="onPayload">Called on the reading thread once per reservation, in order; copy what you keep.</param>
    /// <param name="state">Passed to every call of <paramref name="onPayload"/>.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The sequence of the newest event the rows reflect (−1 for an empty log).</returns>
    Task<long> ReadReservationPayloadSpansAsync(System.Buffers.ReadOnlySpanAction<byte, object?> onPayload, object? state, CancellationToken cancellationToken = default)
        => ReadReservationPayloadsAsync(p => onPayload(p, state), cancellationToken);

    /// <summary>
    /// Full-text search over title, creators, identifiers and holder display name: ranked (title weighs most),
    /// case- and accent-insensitive (see <see cref="SearchText"/>), all query words must match, the last as a prefix.
    /// </summary>
    Task<IReadOnlyList<SearchHit>> SearchWorksAsync(
        string query, int limit, bool activeOnly = true, CancellationToken cancellationToken = default);

    /// <summary>
    /// How far full-text search has indexed the log. PostgreSQL indexes in the append transaction (always current);
    /// SQLite indexes in the background, and a search waits up to <see cref="Sqlite.SqliteRegistryStore.SearchFreshnessWait"/>
    /// for the index to reach the log's head before answering from what is indexed.
    /// </summary>
    Task<SearchIndexStatus> GetSearchIndexStatusAsync(CancellationToken cancellationToken = default);

    // ---- event log ----

    /// <summary>Up to <paramref name="max"/> events from <paramref name="fromSequence"/> on, in order.</summary>
    Task<IReadOnlyList<CommittedEvent>> ReadEventsAsync(long fromSequence, int max, CancellationToken cancellationToken = default);

    /// <summary>The sequence of the newest event, or −1 when the log is empty.</summary>
    Task<long> GetLatestSequenceAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams events from <paramref name="fromSequence"/> on, forever: the stored ones first, then new ones as they
    /// are committed by this or (PostgreSQL) any other process, with a bounded delay.
    /// </summary>
    IAsyncEnumerable<CommittedEvent> TailEventsAsync(long fromSequence, CancellationToken cancellationToken = default);

    // ---- transparency log ----

    /// <summary>The current size and root of the log.</summary>
    Task<TreeHead> GetTreeHeadAsync(CancellationToken cancellationToken = default);

    /// <summary>The root hash the log had at <paramref name="treeSize"/> (O(log n) stored nodes).</summary>
    Task<byte[]> GetRootAsync(long treeSize, CancellationToken cancellationToken = default);

    /// <summary>RFC 9162 inclusion proof of leaf <paramref name="leafIndex"/> in the tree of <paramref name="treeSize"/>.</summary>
    Task<byte[][]> GetInclusionProofAsync(long leafIndex, long treeSize, CancellationToken cancellationToken = default);

    /// <summary>RFC 9162 consistency proof between two sizes (0 &lt; size1 ≤ size2 ≤ current size).</summary>
    Task<byte[][]> GetConsistencyProofAsync(long size1, long size2, CancellationToken cancellationToken = default);
}
