using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text;
using OptOutRegistry.Storage.Internal;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage;

/// <summary>
/// The store logic both databases share: validation, the append transaction (rows + event + Merkle nodes + log
/// head), reads, proofs and tailing. Subclasses supply connections, transactions, the SQL that differs (locking the
/// log head, full-text search) and change notification.
/// </summary>
public abstract class RelationalRegistryStore : IRegistryStore
{
    /// <summary>Separator of list columns (creators, identifiers); refused inside values by validation.</summary>
    internal const char ListSeparator = '\u001F';

    private const string ReservationColumns =
        "id, holder_id, state, state_changed_us, registered_us, valid_from_us, valid_until_us, title, creators, identifiers, language, holder_name, payload, created_seq, last_seq";

    private readonly TimeProvider _time;
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private protected RelationalRegistryStore(TimeProvider? time) => _time = time ?? TimeProvider.System;

    /// <summary>The longest a tailing reader waits before polling again when no notification arrives.</summary>
    public TimeSpan TailPollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    // ---- dialect hooks ----

    private protected abstract ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken);

    private protected abstract Task<T> RunInWriteTransactionAsync<T>(
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>Reads (size, last_time_us, frontier) of the single log-head row, locking it until commit.</summary>
    private protected abstract string SelectLogHeadForUpdateSql { get; }

    /// <summary>
    /// Inserts a reservation unless its id exists (<c>ON CONFLICT (id) DO NOTHING</c>, so the affected row count tells
    /// insert from amendment without a prior read); params @p0..@p14 as in <see cref="ReservationParameters"/>, search text @p15..@p18.
    /// </summary>
    private protected abstract string InsertReservationSql { get; }

    /// <summary>
    /// When set, new reservations of a batch are buffered into multi-row INSERTs (column list, per-row VALUES tuple
    /// from its first parameter index): worth it where each statement is a network round trip (PostgreSQL), not
    /// for SQLite, whose per-statement cost is small and whose parameter lookup grows with the statement.
    /// </summary>
    private protected virtual (string Columns, Func<int, string> Tuple)? BufferedReservationInsert => null;

    /// <summary>
    /// Statements of the append transaction that a dialect can run faster than through ADO.NET (SQLite: prepared once,
    /// bound by index), or null to use cached <see cref="DbCommand"/>s.
    /// </summary>
    private protected virtual IFastStatements? CreateFastStatements(DbConnection connection) => null;

    /// <summary>
    /// Rows per multi-row INSERT of events, history and Merkle nodes. Worth it where a statement is a network round
    /// trip (PostgreSQL); SQLite runs one prepared single-row statement per row (1), which is cheaper than binding a
    /// long parameter list.
    /// </summary>
    private protected virtual int InsertChunkRows => RowBuffer.DefaultChunkRows;

    /// <summary>
    /// Writes each table's buffered append-only rows in one operation at the end of a batch (PostgreSQL: binary COPY),
    /// or null to send them as multi-row INSERTs of <see cref="InsertChunkRows"/>.
    /// </summary>
    private protected virtual IBulkRowWriter? CreateBulkRowWriter(DbConnection connection, DbTransaction transaction) => null;

    /// <summary>A dialect's bulk writer of buffered rows, inside the append transaction.</summary>
    internal interface IBulkRowWriter
    {
        /// <summary>Smaller buffers go out as multi-row INSERTs (a bulk operation has a fixed cost).</summary>
        int MinimumRows { get; }

        /// <summary>
        /// Writes the rows (row-major, <paramref name="width"/> values each) into <paramref name="table"/>; returns the rows
        /// inserted. For <c>reservations</c> the values are those of <see cref="ReservationParameters"/> with search text,
        /// <paramref name="columns"/> the insert's column list, and an id that exists already is skipped, not an error.
        /// </summary>
        Task<int> WriteAsync(string table, string columns, int width, List<object?> values, CancellationToken ct);
    }

    /// <summary>A dialect's direct execution of write statements (parameters @p0..@pN given by position).</summary>
    internal interface IFastStatements : IDisposable
    {
        /// <summary>Runs the statement; returns the rows changed.</summary>
        int Execute(string sql, object?[] values);

        /// <summary>Runs the query; true if it returned a row.</summary>
        bool Exists(string sql, object?[] values);

        /// <summary>
        /// Inserts a new reservation row (<see cref="InsertReservationSql"/>, same columns as
        /// <see cref="ReservationParameters"/> without search text) from the change itself, without a boxed parameter
        /// array; returns the rows inserted (0: the id exists, the caller amends).
        /// </summary>
        int InsertReservation(PutReservation change, long timeUs, long sequence);

        /// <summary>Inserts one event row.</summary>
        void InsertEvent(long sequence, long timeUs, EventDraft draft, byte[] leafHash);

        /// <summary>Inserts one stored Merkle node (key: <see cref="MerkleNodeId.ToKey"/>).</summary>
        void InsertNode(long key, byte[] hash);
    }

    /// <summary>
    /// Queues an amended reservation for a full-text index maintained outside the append transaction (@p0 the
    /// amending event's sequence, @p1 the row's created_seq), or null when the row itself carries its search vector.
    /// </summary>
    private protected virtual string? SearchReindexSql => null;

    /// <summary>
    /// True when the reservation insert/update takes the normalised search text (@p15..@p18); false skips
    /// <see cref="SearchText.Normalize"/> on the append path (SQLite indexes in the background).
    /// </summary>
    private protected virtual bool SearchTextInRow => true;

    /// <summary>Called after every committed append transaction (SQLite: wakes the search indexer).</summary>
    private protected virtual void AfterCommit()
    {
    }

    /// <summary>Replaces a reservation's fields (same parameters; @p13 is its created_seq).</summary>
    private protected abstract string UpdateReservationSql { get; }

    /// <summary>Runs inside the append transaction just before commit (PostgreSQL: NOTIFY).</summary>
    private protected virtual Task BeforeCommitAsync(DbConnection connection, DbTransaction transaction, long newSize, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    private protected abstract bool IsUniqueViolation(DbException exception);

    private protected abstract Task<IReadOnlyList<SearchHit>> SearchCoreAsync(
        DbConnection connection, string[] words, int limit, bool activeOnly, CancellationToken cancellationToken);

    /// <summary>Called when tailing starts waiting, so a store can start listening to other processes.</summary>
    private protected virtual void EnsureListening()
    {
    }

    /// <inheritdoc/>
    public abstract Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc/>
    public abstract Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();

    /// <summary>Wakes every tailing reader (a commit here or, for PostgreSQL, a NOTIFY from another process).</summary>
    private protected void SignalCommitted()
    {
        var previous = Interlocked.Exchange(ref _committed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }

    // ---- writes ----

    /// <inheritdoc/>
    public async Task<CommittedEvent> AppendAsync(Mutation mutation, CancellationToken cancellationToken = default)
    {
        MutationValidator.Validate(mutation);
        var result = await AppendCoreAsync([mutation], cancellationToken).ConfigureAwait(false);
        return result[0];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<CommittedEvent>> AppendBatchAsync(IReadOnlyList<Mutation> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return [];
        }

        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                MutationValidator.Validate(batch[i]);
            }
            catch (StoreException ex)
            {
                throw ex.AtIndex(i);
            }
        }

        return await AppendCoreAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<CommittedEvent>> AppendCoreAsync(IReadOnlyList<Mutation> batch, CancellationToken cancellationToken)
    {
        var events = await RunInWriteTransactionAsync(
            async (connection, transaction, ct) =>
            {
                var writer = new WriteSession(this, connection, transaction);
                try
                {
                    var head = await writer.ReadLogHeadAsync(ct).ConfigureAwait(false);
                    await writer.PrecheckAsync(batch, ct).ConfigureAwait(false);
                    var frontier = head.Frontier;
                    var lastTime = head.LastTimeMicroseconds;
                    var committed = new CommittedEvent[batch.Count];
                    if (writer.WritesEventsDirectly && batch.Count >= HashAheadMinimum)
                    {
                        lastTime = await ApplyHashingAheadAsync(writer, batch, frontier, lastTime, committed, ct).ConfigureAwait(false);
                    }
                    else
                    {
                        for (var i = 0; i < batch.Count; i++)
                        {
                            lastTime = NextEventTime(lastTime);
                            try
                            {
                                committed[i] = await writer.ApplyAsync(batch[i], frontier, lastTime, ct).ConfigureAwait(false);
                            }
                            catch (StoreException ex) when (batch.Count > 1)
                            {
                                throw ex.AtIndex(i);
                            }
                        }
                    }

                    await writer.WriteLogHeadAsync(frontier, lastTime, ct).ConfigureAwait(false);
                    await BeforeCommitAsync(connection, transaction, frontier.Size, ct).ConfigureAwait(false);
                    return committed;
                }
                finally
                {
                    writer.Dispose();
                }
            },
            cancellationToken).ConfigureAwait(false);
        SignalCommitted();
        AfterCommit();
        return events;
    }

    /// <summary>The server time of the next event: never before the last one, whatever the wall clock does.</summary>
    private long NextEventTime(long lastTime) => Math.Max(StoreTime.ToMicroseconds(_time.GetUtcNow()), lastTime);

    /// <summary>Batches from this size on hash their leaves on another thread (<see cref="ApplyHashingAheadAsync"/>).</summary>
    private const int HashAheadMinimum = 256;

    /// <summary>
    /// A large batch with direct event inserts (SQLite): the leaf hashes and the Merkle nodes they complete — about two
    /// SHA-256 per event — are computed on a pool thread while this thread writes the rows, then the events and nodes
    /// are inserted. SQLite has one writer thread, so this takes the hashing off the path that bounds a bulk import.
    /// Sequences and server times are fixed first (the same values the one-by-one loop assigns); rows, events and
    /// nodes are still written in the one transaction, and a refused change still refuses the whole batch (the
    /// frontier being hashed is this transaction's copy and is dropped with it).
    /// </summary>
    private async Task<long> ApplyHashingAheadAsync(
        WriteSession writer, IReadOnlyList<Mutation> batch, MerkleFrontier frontier, long lastTime, CommittedEvent[] committed, CancellationToken ct)
    {
        var first = frontier.Size;
        var times = new long[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            lastTime = NextEventTime(lastTime);
            times[i] = lastTime;
        }

        var hashing = Task.Run(() => HashLeaves(batch, first, times, frontier), CancellationToken.None);
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                await writer.ApplyChangesAsync(batch[i], first + i, times[i], ct).ConfigureAwait(false);
            }
            catch (StoreException ex)
            {
                throw ex.AtIndex(i);
            }
        }

        // Wait rather than await: the SQLite append runs synchronously on its caller's thread (the writer) and stays there;
        // the rows take longer than the hashes, so this rarely blocks, and a hashing task the pool has not started yet is
        // run inline by Wait, so a starved pool cannot stall the commit.
        hashing.Wait(CancellationToken.None);
        var (leaves, nodes) = hashing.Result;
        for (var i = 0; i < batch.Count; i++)
        {
            committed[i] = writer.WriteEvent(batch[i].Event, first + i, times[i], leaves[i]);
        }

        writer.WriteNodes(nodes);
        return lastTime;
    }

    private static (byte[][] Leaves, List<(long Key, byte[] Hash)> Nodes) HashLeaves(
        IReadOnlyList<Mutation> batch, long first, long[] times, MerkleFrontier frontier)
    {
        var leaves = new byte[batch.Count][];
        var nodes = new List<(long Key, byte[] Hash)>(batch.Count / 8 + 8);
        var sink = new NodeListCollector(nodes);
        for (var i = 0; i < batch.Count; i++)
        {
            var draft = batch[i].Event;
            leaves[i] = EventLeaf.Hash(first + i, times[i], draft.Actor, draft.Type, draft.Payload);
            frontier.Append(leaves[i], ref sink);
        }

        return (leaves, nodes);
    }

    /// <inheritdoc/>
    public async Task PutVerificationChallengeAsync(VerificationChallenge challenge, CancellationToken cancellationToken = default)
    {
        MutationValidator.ValidateChallenge(challenge);
        await RunInWriteTransactionAsync(
            async (connection, transaction, ct) =>
            {
                using var command = CreateCommand(connection, transaction,
                    "INSERT INTO verification_challenges (holder_id, host, token, created_us, expires_us) VALUES (@p0, @p1, @p2, @p3, @p4) "
                    + "ON CONFLICT (holder_id, host) DO UPDATE SET token = excluded.token, created_us = excluded.created_us, expires_us = excluded.expires_us",
                    challenge.HolderId, challenge.Host, challenge.Token,
                    StoreTime.ToMicroseconds(challenge.CreatedAt), StoreTime.ToMicroseconds(challenge.ExpiresAt));
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<bool> DeleteVerificationChallengeAsync(string holderId, string host, CancellationToken cancellationToken = default) =>
        RunInWriteTransactionAsync(
            async (connection, transaction, ct) =>
            {
                using var command = CreateCommand(connection, transaction,
                    "DELETE FROM verification_challenges WHERE holder_id = @p0 AND host = @p1", holderId, host);
                return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false) > 0;
            },
            cancellationToken);

    // ---- reads ----

    /// <inheritdoc/>
    public async Task<HolderRecord?> GetHolderAsync(string holderId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = CreateCommand(connection, null,
            "SELECT id, display_name, contact_email, created_us, created_seq FROM holders WHERE id = @p0", holderId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new HolderRecord(reader.GetString(0), reader.GetString(1), NullableString(reader, 2),
            StoreTime.FromMicroseconds(reader.GetInt64(3)), reader.GetInt64(4));
    }

    private const string ApiKeyColumns = "key_id, holder_id, key_hash, prefix, label, created_us, revoked_us";

    /// <inheritdoc/>
    public async Task<ApiKeyRecord?> FindApiKeyByHashAsync(byte[] keyHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyHash);
        var keys = await QueryListAsync(
            $"SELECT {ApiKeyColumns} FROM api_keys WHERE key_hash = @p0", ReadApiKey, cancellationToken, keyHash).ConfigureAwait(false);
        return keys.Count == 0 ? null : keys[0];
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string holderId, CancellationToken cancellationToken = default) =>
        QueryListAsync($"SELECT {ApiKeyColumns} FROM api_keys WHERE holder_id = @p0 ORDER BY created_us, key_id", ReadApiKey, cancellationToken, holderId);

    /// <inheritdoc/>
    public Task<IReadOnlyList<VerifiedHostRecord>> ListVerifiedHostsAsync(string holderId, CancellationToken cancellationToken = default) =>
        QueryListAsync("SELECT holder_id, host, method, verified_us FROM verified_hosts WHERE holder_id = @p0 ORDER BY host",
            ReadVerifiedHost, cancellationToken, holderId);

    /// <inheritdoc/>
    public async IAsyncEnumerable<VerifiedHostRecord> ReadAllVerifiedHostsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = CreateCommand(connection, null,
            "SELECT holder_id, host, method, verified_us FROM verified_hosts ORDER BY holder_id, host");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadVerifiedHost(reader);
        }
    }

    /// <inheritdoc/>
    public async Task<VerificationChallenge?> GetVerificationChallengeAsync(string holderId, string host, CancellationToken cancellationToken = default)
    {
        var list = await QueryListAsync(
            "SELECT holder_id, host, token, created_us, expires_us FROM verification_challenges WHERE holder_id = @p0 AND host = @p1",
            static r => new VerificationChallenge(r.GetString(0), r.GetString(1), r.GetString(2),
                StoreTime.FromMicroseconds(r.GetInt64(3)), StoreTime.FromMicroseconds(r.GetInt64(4))),
            cancellationToken, holderId, host).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <inheritdoc/>
    public async Task<string?> FindIdempotencyKeyAsync(string holderId, string key, CancellationToken cancellationToken = default)
    {
        var list = await QueryListAsync(
            "SELECT result_id FROM idempotency_keys WHERE holder_id = @p0 AND idem_key = @p1",
            static r => r.GetString(0), cancellationToken, holderId, key).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <summary>Ids per IN (...) list: well under SQLite's and PostgreSQL's bind-parameter limits.</summary>
    private const int InListChunk = 500;

    /// <inheritdoc/>
    public async Task<IReadOnlyDictionary<string, string>> FindIdempotencyKeysAsync(
        string holderId, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(holderId);
        ArgumentNullException.ThrowIfNull(keys);
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        for (var start = 0; start < keys.Count; start += InListChunk)
        {
            var count = Math.Min(InListChunk, keys.Count - start);
            var values = new object?[count + 1];
            values[0] = holderId;
            for (var i = 0; i < count; i++)
            {
                values[i + 1] = keys[start + i];
            }

            await using var command = CreateCommand(connection, null,
                "SELECT idem_key, result_id FROM idempotency_keys WHERE holder_id = @p0 AND idem_key IN (" + InList(1, count) + ")", values);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found[reader.GetString(0)] = reader.GetString(1);
            }
        }

        return found;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<ReservationRecord>> GetReservationsAsync(IReadOnlyList<string> reservationIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reservationIds);
        var found = new List<ReservationRecord>(reservationIds.Count);
        if (reservationIds.Count == 0)
        {
            return found;
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        for (var start = 0; start < reservationIds.Count; start += InListChunk)
        {
            var count = Math.Min(InListChunk, reservationIds.Count - start);
            var values = new object?[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = reservationIds[start + i];
            }

            await using var command = CreateCommand(connection, null,
                $"SELECT {ReservationColumns} FROM reservations WHERE id IN (" + InList(0, count) + ")", values);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found.Add(ReadReservation(reader));
            }
        }

        return found;
    }

    private static string InList(int first, int count)
    {
        var list = new StringBuilder(count * 6);
        for (var i = 0; i < count; i++)
        {
            list.Append(i == 0 ? string.Empty : ", ").Append(ParameterName(first + i));
        }

        return list.ToString();
    }

    /// <inheritdoc/>
    public async Task<ReservationRecord?> GetReservationAsync(string reservationId, CancellationToken cancellationToken = default)
    {
        var list = await QueryListAsync($"SELECT {ReservationColumns} FROM reservations WHERE id = @p0",
            ReadReservation, cancellationToken, reservationId).ConfigureAwait(false);
        return list.Count == 0 ? null : list[0];
    }

    /// <inheritdoc/>
    public async Task<Page<ReservationRecord>> ListReservationsByHolderAsync(
        string holderId, string? pageToken, int pageSize, CancellationToken cancellationToken = default)
    {
        if (pageSize is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), $"page_size: {pageSize} is outside 1..1000");
        }

        var after = PageToken.Decode(pageToken);
        var rows = await QueryListAsync(
            $"SELECT {ReservationColumns} FROM reservations WHERE holder_id = @p0 AND created_seq > @p1 ORDER BY created_seq LIMIT @p2",
            ReadReservation, cancellationToken, holderId, after, (long)pageSize + 1).ConfigureAwait(false);
        if (rows.Count <= pageSize)
        {
            return new Page<ReservationRecord>(rows, null);
        }

        var items = new List<ReservationRecord>(pageSize);
        for (var i = 0; i < pageSize; i++)
        {
            items.Add(rows[i]);
        }

        return new Page<ReservationRecord>(items, PageToken.Encode(items[^1].CreatedSequence));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<ReservationStateRecord>> GetReservationHistoryAsync(string reservationId, CancellationToken cancellationToken = default) =>
        // A creation in the Active state (nearly all of them) stores no history row: the reservation row already says
        // when (registered_us) and by which event (created_seq), so the entry is derived here. Data written before that
        // change has the row, which the NOT EXISTS recognises.
        QueryListAsync(
            "SELECT state, at_us, seq FROM reservation_states WHERE reservation_id = @p0 "
            + "UNION ALL SELECT 1, registered_us, created_seq FROM reservations r WHERE r.id = @p0 "
            + "AND NOT EXISTS (SELECT 1 FROM reservation_states s WHERE s.reservation_id = r.id AND s.seq = r.created_seq) ORDER BY 3",
            static r => new ReservationStateRecord((ReservationState)r.GetInt64(0), StoreTime.FromMicroseconds(r.GetInt64(1)), r.GetInt64(2)),
            cancellationToken, reservationId);

    /// <inheritdoc/>
    public async IAsyncEnumerable<ReservationRecord> ReadAllReservationsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = CreateCommand(connection, null, $"SELECT {ReservationColumns} FROM reservations ORDER BY created_seq");
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadReservation(reader);
        }
    }

    /// <inheritdoc/>
    public async Task<long> ReadReservationPayloadsAsync(Action<byte[]> onPayload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onPayload);
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadReservationPayloadsCoreAsync(connection, onPayload, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<long> ReadReservationPayloadSpansAsync(
        System.Buffers.ReadOnlySpanAction<byte, object?> onPayload, object? state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onPayload);
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadReservationPayloadSpansCoreAsync(connection, onPayload, state, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="ReadReservationPayloadSpansAsync"/> on an open read connection: by default through the array read;
    /// SQLite overrides it to pass its column buffer.
    /// </summary>
    private protected virtual Task<long> ReadReservationPayloadSpansCoreAsync(
        DbConnection connection, System.Buffers.ReadOnlySpanAction<byte, object?> onPayload, object? state, CancellationToken cancellationToken) =>
        ReadReservationPayloadsCoreAsync(connection, p => onPayload(p, state), cancellationToken);

    /// <summary>
    /// <see cref="ReadReservationPayloadsAsync"/> on an open read connection. The default runs both reads in one
    /// REPEATABLE READ transaction (PostgreSQL: one snapshot for the log head and the rows); SQLite overrides it.
    /// </summary>
    private protected virtual async Task<long> ReadReservationPayloadsCoreAsync(
        DbConnection connection, Action<byte[]> onPayload, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken)
            .ConfigureAwait(false);
        long size;
        await using (var command = CreateCommand(connection, transaction, "SELECT size FROM log_head WHERE id = 1"))
        {
            size = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        await using (var command = CreateCommand(connection, transaction, "SELECT payload FROM reservations ORDER BY created_seq"))
        {
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
            // ReadAsync does not look at the token while it serves rows the driver has buffered already.
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                onPayload(reader.GetFieldValue<byte[]>(0));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return size - 1;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<SearchHit>> SearchWorksAsync(string query, int limit, bool activeOnly = true, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), $"limit: {limit} is outside 1..1000");
        }

        if (query is { Length: > 1000 })
        {
            throw new ArgumentException($"query: {query.Length} characters; the limit is 1000", nameof(query));
        }

        var words = SearchText.Words(query);
        if (words.Length == 0)
        {
            return [];
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await SearchCoreAsync(connection, words, limit, activeOnly, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public virtual async Task<SearchIndexStatus> GetSearchIndexStatusAsync(CancellationToken cancellationToken = default)
    {
        var latest = await GetLatestSequenceAsync(cancellationToken).ConfigureAwait(false);
        return new SearchIndexStatus(latest, latest);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<CommittedEvent>> ReadEventsAsync(long fromSequence, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fromSequence);
        if (max is < 1 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(max), $"max: {max} is outside 1..100000");
        }

        return QueryListAsync(
            "SELECT seq, time_us, actor, type, payload, leaf_hash FROM events WHERE seq >= @p0 ORDER BY seq LIMIT @p1",
            static r => new CommittedEvent(r.GetInt64(0), StoreTime.FromMicroseconds(r.GetInt64(1)), r.GetString(2), r.GetString(3),
                (byte[])r.GetValue(4), (byte[])r.GetValue(5)),
            cancellationToken, fromSequence, (long)max);
    }

    /// <inheritdoc/>
    public async Task<long> GetLatestSequenceAsync(CancellationToken cancellationToken = default)
    {
        var head = await ReadLogHeadAsync(cancellationToken).ConfigureAwait(false);
        return head.Size - 1;
    }

    /// <inheritdoc/>
    public async IAsyncEnumerable<CommittedEvent> TailEventsAsync(long fromSequence, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fromSequence);
        var next = fromSequence;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Take the signal before reading so a commit between the read and the wait is not missed.
            var signal = Volatile.Read(ref _committed).Task;
            var batch = await ReadEventsAsync(next, 1000, cancellationToken).ConfigureAwait(false);
            foreach (var committedEvent in batch)
            {
                yield return committedEvent;
                next = committedEvent.Sequence + 1;
            }

            if (batch.Count == 0)
            {
                EnsureListening();
                await Task.WhenAny(signal, Task.Delay(TailPollInterval, cancellationToken)).ConfigureAwait(false);
            }
        }
    }

    // ---- transparency ----

    /// <inheritdoc/>
    public async Task<TreeHead> GetTreeHeadAsync(CancellationToken cancellationToken = default)
    {
        var head = await ReadLogHeadAsync(cancellationToken).ConfigureAwait(false);
        return new TreeHead(head.Size, head.Frontier.ComputeRoot(), StoreTime.FromMicroseconds(head.LastTimeMicroseconds));
    }

    /// <inheritdoc/>
    public async Task<byte[]> GetRootAsync(long treeSize, CancellationToken cancellationToken = default)
    {
        await EnsureTreeSizeAsync(treeSize, nameof(treeSize), cancellationToken).ConfigureAwait(false);
        if (treeSize == 0)
        {
            return MerkleHash.EmptyRoot.ToArray();
        }

        var plan = MerkleProofPlan.ForRoot(treeSize);
        return (await ResolveAsync(plan, cancellationToken).ConfigureAwait(false))[0];
    }

    /// <inheritdoc/>
    public async Task<byte[][]> GetInclusionProofAsync(long leafIndex, long treeSize, CancellationToken cancellationToken = default)
    {
        await EnsureTreeSizeAsync(treeSize, nameof(treeSize), cancellationToken).ConfigureAwait(false);
        return await ResolveAsync(MerkleProofPlan.ForInclusion(leafIndex, treeSize), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<byte[][]> GetConsistencyProofAsync(long size1, long size2, CancellationToken cancellationToken = default)
    {
        await EnsureTreeSizeAsync(size2, nameof(size2), cancellationToken).ConfigureAwait(false);
        return await ResolveAsync(MerkleProofPlan.ForConsistency(size1, size2), cancellationToken).ConfigureAwait(false);
    }

    private async Task EnsureTreeSizeAsync(long treeSize, string name, CancellationToken cancellationToken)
    {
        var head = await ReadLogHeadAsync(cancellationToken).ConfigureAwait(false);
        if (treeSize < 0 || treeSize > head.Size)
        {
            throw new ArgumentOutOfRangeException(name, $"{name}: {treeSize} is outside 0..{head.Size} (the current log size)");
        }
    }

    private async Task<byte[][]> ResolveAsync(MerkleProofPlan plan, CancellationToken cancellationToken)
    {
        var needed = plan.RequiredNodes;
        var found = new Dictionary<MerkleNodeId, byte[]>(needed.Count);
        var leafIndexes = new HashSet<long>();
        var derived = new List<MerkleNodeId>();
        var nodes = new List<long>();
        foreach (var id in needed)
        {
            if (id.Level == 0)
            {
                leafIndexes.Add(id.Index);
            }
            else if (id.Level < StoredNodeLevel)
            {
                // Not stored: hashed from its 2^level leaves below (at most 2 + 4 + 8 per proof path level).
                derived.Add(id);
                for (var leaf = id.Index << id.Level; leaf < (id.Index + 1) << id.Level; leaf++)
                {
                    leafIndexes.Add(leaf);
                }
            }
            else
            {
                nodes.Add(id.ToKey());
            }
        }

        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (leafIndexes.Count > 0)
        {
            // Level 0 is the events' own leaf hashes.
            await using var command = CreateKeyLookupCommand(connection, "SELECT seq, leaf_hash FROM events", "seq", [.. leafIndexes]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found[new MerkleNodeId(0, reader.GetInt64(0))] = (byte[])reader.GetValue(1);
            }
        }

        if (nodes.Count > 0)
        {
            await using var command = CreateKeyLookupCommand(connection, "SELECT node_id, hash FROM merkle_nodes", "node_id", [.. nodes]);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found[MerkleNodeId.FromKey(reader.GetInt64(0))] = (byte[])reader.GetValue(1);
            }
        }

        foreach (var id in derived)
        {
            found[id] = HashSubtree(id, found);
        }

        return plan.Resolve(found.GetValueOrDefault);
    }

    /// <summary>
    /// <paramref name="select"/> restricted to the rows whose <paramref name="keyColumn"/> is one of <paramref name="keys"/>
    /// (a proof's leaves or stored Merkle nodes). By default the keys are inlined as <c>IN (…)</c>: they are computed longs,
    /// safe to inline, and SQLite parses such a statement in microseconds. PostgreSQL overrides it with one array parameter,
    /// so the statement text is the same for every proof and its plan is prepared once.
    /// </summary>
    private protected virtual DbCommand CreateKeyLookupCommand(DbConnection connection, string select, string keyColumn, long[] keys)
    {
        var sql = new StringBuilder(select.Length + keyColumn.Length + 16 + (keys.Length * 8)).Append(select).Append(" WHERE ").Append(keyColumn).Append(" IN (");
        for (var i = 0; i < keys.Length; i++)
        {
            sql.Append(i > 0 ? "," : string.Empty).Append(keys[i]);
        }

        return CreateCommand(connection, null, sql.Append(')').ToString());
    }

    /// <summary>
    /// Levels 1 .. <c>StoredNodeLevel − 1</c> of the Merkle tree are not stored: they are 7/8 of all interior nodes, i.e.
    /// 0.875 row inserts per appended event, and each is recomputed on demand from at most 2^(StoredNodeLevel−1) = 8 leaf
    /// hashes, so a proof still reads O(log n) rows and hashes a bounded number more. Data written earlier holds
    /// those levels too; they are simply not read.
    /// </summary>
    private const int StoredNodeLevel = 4;

    // MTH of a complete subtree (RFC 9162 §2.1.1) from its leaf hashes, folded pairwise level by level.
    private static byte[] HashSubtree(MerkleNodeId id, Dictionary<MerkleNodeId, byte[]> found)
    {
        var width = 1 << id.Level;
        var level = new byte[width][];
        for (var i = 0; i < width; i++)
        {
            var leaf = new MerkleNodeId(0, (id.Index << id.Level) + i);
            level[i] = found.GetValueOrDefault(leaf) ?? throw new InvalidDataException($"leaf {leaf.Index} is missing from the store");
        }

        for (; width > 1; width /= 2)
        {
            for (var i = 0; i < width / 2; i++)
            {
                level[i] = MerkleHash.HashChildren(level[2 * i], level[2 * i + 1]);
            }
        }

        return level[0];
    }

    private async Task<LogHead> ReadLogHeadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = CreateCommand(connection, null, "SELECT size, last_time_us, frontier FROM log_head WHERE id = 1");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("The log head row is missing: run MigrateAsync first.");
        }

        return LogHead.Read(reader);
    }

    // ---- helpers ----

    private static readonly string[] ParameterNames = [.. Enumerable.Range(0, 256).Select(i => "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    // Names carry their '@': Microsoft.Data.Sqlite looks a bare name up once per prefix it tries.
    private static string ParameterName(int i) =>
        i < ParameterNames.Length ? ParameterNames[i] : "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private protected static DbCommand CreateCommand(DbConnection connection, DbTransaction? transaction, string sql, params object?[] values)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = ParameterName(i);
            parameter.Value = values[i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private async Task<IReadOnlyList<T>> QueryListAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken, params object?[] values)
    {
        await using var connection = await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = CreateCommand(connection, null, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(map(reader));
        }

        return list;
    }

    private protected static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static ApiKeyRecord ReadApiKey(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), r.GetString(3), NullableString(r, 4),
        StoreTime.FromMicroseconds(r.GetInt64(5)), r.IsDBNull(6) ? null : StoreTime.FromMicroseconds(r.GetInt64(6)));

    private static VerifiedHostRecord ReadVerifiedHost(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), StoreTime.FromMicroseconds(r.GetInt64(3)));

    private static ReservationRecord ReadReservation(DbDataReader r)
    {
        // Columns are read in order: SequentialAccess is used for the full scan.
        var id = r.GetString(0);
        var holderId = r.GetString(1);
        var state = (ReservationState)r.GetInt64(2);
        var stateChanged = r.GetInt64(3);
        var registered = r.GetInt64(4);
        var validFrom = r.GetInt64(5);
        long? validUntil = r.IsDBNull(6) ? null : r.GetInt64(6);
        var title = NullableString(r, 7);
        var creators = SplitList(r.GetString(8));
        var identifiers = SplitList(r.GetString(9));
        var language = NullableString(r, 10);
        var holderName = NullableString(r, 11);
        var payload = (byte[])r.GetValue(12);
        var createdSeq = r.GetInt64(13);
        var lastSeq = r.GetInt64(14);
        return new ReservationRecord(id, holderId, state, StoreTime.FromMicroseconds(stateChanged), StoreTime.FromMicroseconds(registered),
            StoreTime.FromMicroseconds(validFrom), validUntil is { } u ? StoreTime.FromMicroseconds(u) : null,
            new WorkMetadata(title, creators, identifiers, language), holderName, payload, createdSeq, lastSeq);
    }

    private static string[] SplitList(string joined) => joined.Length == 0 ? [] : joined.Split(ListSeparator);

    private static string JoinList(IReadOnlyList<string> items) => items.Count == 0 ? string.Empty : string.Join(ListSeparator, items);

    /// <summary>Builds the parameter values of <see cref="InsertReservationSql"/> / <see cref="UpdateReservationSql"/>.</summary>
    private protected static object?[] ReservationParameters(
        PutReservation change, long stateChangedUs, long registeredUs, long createdSeq, long lastSeq, bool withSearchText)
    {
        var work = change.Work ?? WorkMetadata.Empty;
        var validFrom = change.ValidFrom is { } from ? StoreTime.ToMicroseconds(from) : registeredUs;
        var creators = JoinList(work.Creators);
        var identifiers = JoinList(work.Identifiers);
        var validUntil = change.ValidUntil is { } until ? StoreTime.ToMicroseconds(until) : (long?)null;
        if (!withSearchText)
        {
            return
            [
                change.ReservationId, change.HolderId, (long)change.State, stateChangedUs, registeredUs, validFrom, validUntil,
                work.Title, creators, identifiers, work.Language, change.HolderDisplayName, change.Payload, createdSeq, lastSeq,
            ];
        }

        return
        [
            change.ReservationId, change.HolderId, (long)change.State, stateChangedUs, registeredUs, validFrom, validUntil,
            work.Title, creators, identifiers, work.Language, change.HolderDisplayName, change.Payload, createdSeq, lastSeq,
            SearchText.Normalize(work.Title), SearchText.Normalize(string.Join(' ', work.Creators)),
            SearchText.Normalize(string.Join(' ', work.Identifiers)), SearchText.Normalize(change.HolderDisplayName),
        ];
    }

    private readonly record struct LogHead(long Size, long LastTimeMicroseconds, MerkleFrontier Frontier)
    {
        public static LogHead Read(DbDataReader reader)
        {
            var size = reader.GetInt64(0);
            return new LogHead(size, reader.GetInt64(1), MerkleFrontier.Deserialize(size, (byte[])reader.GetValue(2)));
        }
    }

    /// <summary>One append transaction: commands are created once per statement and reused for every mutation of a batch.</summary>
    private sealed class WriteSession(RelationalRegistryStore store, DbConnection connection, DbTransaction transaction) : IDisposable
    {
        private readonly Dictionary<string, DbCommand> _commands = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<string> _knownHolders = new(StringComparer.Ordinal);
        private readonly IFastStatements? _fast = store.CreateFastStatements(connection);
        private readonly IBulkRowWriter? _bulk = store.CreateBulkRowWriter(connection, transaction);
        private readonly RowBuffer _events = new("events", "seq, time_us, actor, type, payload, leaf_hash", 6, store.InsertChunkRows);
        private readonly RowBuffer _history = new("reservation_states", "reservation_id, seq, state, at_us", 4, store.InsertChunkRows);
        private readonly RowBuffer _nodes = new("merkle_nodes", "node_id, hash", 2, store.InsertChunkRows);
        private readonly RowBuffer? _reservations = store.BufferedReservationInsert is { } b
            ? new RowBuffer("reservations", b.Columns, 19, RowBuffer.DefaultChunkRows, b.Tuple, " ON CONFLICT (id) DO NOTHING")
            : null;
        private readonly HashSet<string> _existingIds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _insertedIds = new(StringComparer.Ordinal);

        /// <summary>With buffered inserts: learn in one query which reservation ids of the batch already exist.</summary>
        public async Task PrecheckAsync(IReadOnlyList<Mutation> batch, CancellationToken ct)
        {
            if (_reservations is null)
            {
                return;
            }

            var ids = new List<string>();
            foreach (var mutation in batch)
            {
                foreach (var change in mutation.Changes)
                {
                    if (change is PutReservation put)
                    {
                        ids.Add(put.ReservationId);
                    }
                }
            }

            if (ids.Count == 0)
            {
                return;
            }

            await using var command = CreateCommand(connection, transaction, "SELECT id FROM reservations WHERE id = ANY(@p0)", [ids.ToArray()]);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                _existingIds.Add(reader.GetString(0));
            }
        }

        public async Task<LogHead> ReadLogHeadAsync(CancellationToken ct)
        {
            await using var reader = await Command(store.SelectLogHeadForUpdateSql, []).ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                throw new InvalidOperationException("The log head row is missing: run MigrateAsync first.");
            }

            return LogHead.Read(reader);
        }

        public async Task WriteLogHeadAsync(MerkleFrontier frontier, long lastTime, CancellationToken ct)
        {
            await FlushAsync(full: true, ct).ConfigureAwait(false);
            await Execute("UPDATE log_head SET size = @p0, last_time_us = @p1, frontier = @p2 WHERE id = 1", ct,
                frontier.Size, lastTime, frontier.Serialize()).ConfigureAwait(false);
        }

        // Append-only rows nobody reads before commit go out in multi-row INSERTs: far fewer statement executions
        // per mutation, which is what bounds bulk import.
        private async Task FlushAsync(bool full, CancellationToken ct)
        {
            await FlushReservationsAsync(full, ct).ConfigureAwait(false);
            await FlushAsync(_events, full, ct).ConfigureAwait(false);
            await FlushAsync(_history, full, ct).ConfigureAwait(false);
            await FlushAsync(_nodes, full, ct).ConfigureAwait(false);
        }

        private async Task FlushReservationsAsync(bool full, CancellationToken ct)
        {
            if (_reservations is null)
            {
                return;
            }

            if (_bulk is not null && (!full || _reservations.Rows >= _bulk.MinimumRows))
            {
                // Bulk rows wait for the batch's end (or an amendment's read) and go out in one operation.
                var pending = _reservations.Rows;
                if (full && await _bulk.WriteAsync(_reservations.Table, _reservations.Columns, _reservations.Width, _reservations.Values, ct)
                        .ConfigureAwait(false) != pending)
                {
                    throw new StoreException(StoreErrorKind.Conflict, "changes", "a reservation id of this batch was registered concurrently");
                }

                if (full)
                {
                    _reservations.Clear();
                }

                return;
            }

            while (_reservations.Rows >= _reservations.ChunkRows || (full && _reservations.Rows > 0))
            {
                var rows = Math.Min(_reservations.Rows, _reservations.ChunkRows);
                var (sql, values) = _reservations.TakeChunk();
                if (await Execute(sql, ct, values).ConfigureAwait(false) != rows)
                {
                    // An id checked as new was inserted by another process meanwhile: refuse rather than log an
                    // event whose row was not written.
                    throw new StoreException(StoreErrorKind.Conflict, "changes", "a reservation id of this batch was registered concurrently");
                }
            }
        }

        private async Task FlushAsync(RowBuffer buffer, bool full, CancellationToken ct)
        {
            if (_bulk is not null && (!full || buffer.Rows >= _bulk.MinimumRows))
            {
                if (full)
                {
                    await _bulk.WriteAsync(buffer.Table, buffer.Columns, buffer.Width, buffer.Values, ct).ConfigureAwait(false);
                    buffer.Clear();
                }

                return;
            }

            while (buffer.Rows >= buffer.ChunkRows || (full && buffer.Rows > 0))
            {
                var (sql, values) = buffer.TakeChunk();
                await Execute(sql, ct, values).ConfigureAwait(false);
            }
        }

        /// <summary>True when events and Merkle nodes go straight into their tables (SQLite's fast statements).</summary>
        public bool WritesEventsDirectly => _fast is not null;

        /// <summary>Writes the rows of one mutation (not its event).</summary>
        public async Task ApplyChangesAsync(Mutation mutation, long sequence, long timeUs, CancellationToken ct)
        {
            for (var i = 0; i < mutation.Changes.Count; i++)
            {
                try
                {
                    await ApplyChangeAsync(mutation.Changes[i], MutationValidator.ChangePath(i), sequence, timeUs, ct).ConfigureAwait(false);
                }
                catch (DbException ex) when (store.IsUniqueViolation(ex))
                {
                    // A concurrent writer (another process) won a race the checks above could not see.
                    throw new StoreException(StoreErrorKind.Conflict, MutationValidator.ChangePath(i), "already exists", -1, ex);
                }
            }
        }

        /// <summary>Inserts an event whose leaf hash is known (<see cref="WritesEventsDirectly"/> only).</summary>
        public CommittedEvent WriteEvent(EventDraft draft, long sequence, long timeUs, byte[] leafHash)
        {
            _fast!.InsertEvent(sequence, timeUs, draft, leafHash);
            return new CommittedEvent(sequence, StoreTime.FromMicroseconds(timeUs), draft.Actor, draft.Type, draft.Payload, leafHash);
        }

        /// <summary>Inserts stored Merkle nodes (<see cref="WritesEventsDirectly"/> only).</summary>
        public void WriteNodes(List<(long Key, byte[] Hash)> nodes)
        {
            foreach (var (key, hash) in nodes)
            {
                _fast!.InsertNode(key, hash);
            }
        }

        public async Task<CommittedEvent> ApplyAsync(Mutation mutation, MerkleFrontier frontier, long timeUs, CancellationToken ct)
        {
            var sequence = frontier.Size;
            await ApplyChangesAsync(mutation, sequence, timeUs, ct).ConfigureAwait(false);
            var draft = mutation.Event;
            var leafHash = EventLeaf.Hash(sequence, timeUs, draft.Actor, draft.Type, draft.Payload);
            if (_fast is not null)
            {
                // Straight into the table: nobody reads the events of a batch before it commits.
                var written = WriteEvent(draft, sequence, timeUs, leafHash);
                var sink = new NodeCollector(null, _fast);
                frontier.Append(leafHash, ref sink);
                return written;
            }

            _events.Add(sequence, timeUs, draft.Actor, draft.Type, draft.Payload, leafHash);
            var buffered = new NodeCollector(_nodes, null);
            frontier.Append(leafHash, ref buffered);
            await FlushAsync(full: false, ct).ConfigureAwait(false);
            return new CommittedEvent(sequence, StoreTime.FromMicroseconds(timeUs), draft.Actor, draft.Type, draft.Payload, leafHash);
        }

        private async Task ApplyChangeAsync(StoreChange change, string path, long sequence, long timeUs, CancellationToken ct)
        {
            switch (change)
            {
                case CreateHolder c:
                    if (await HolderExistsAsync(c.HolderId, ct).ConfigureAwait(false))
                    {
                        throw new StoreException(StoreErrorKind.Conflict, path + ".holder_id", $"holder '{c.HolderId}' already exists");
                    }

                    await Execute("INSERT INTO holders (id, display_name, contact_email, created_us, created_seq) VALUES (@p0, @p1, @p2, @p3, @p4)", ct,
                        c.HolderId, c.DisplayName, c.ContactEmail, timeUs, sequence).ConfigureAwait(false);
                    _knownHolders.Add(c.HolderId);
                    break;

                case AddApiKey c:
                    await RequireHolderAsync(c.HolderId, path, ct).ConfigureAwait(false);
                    if (await Exists("SELECT 1 FROM api_keys WHERE key_id = @p0 OR key_hash = @p1", ct, c.KeyId, c.KeyHash).ConfigureAwait(false))
                    {
                        throw new StoreException(StoreErrorKind.Conflict, path + ".key_id", "an API key with this id or hash already exists");
                    }

                    await Execute("INSERT INTO api_keys (key_id, holder_id, key_hash, prefix, label, created_us) VALUES (@p0, @p1, @p2, @p3, @p4, @p5)", ct,
                        c.KeyId, c.HolderId, c.KeyHash, c.Prefix, c.Label, timeUs).ConfigureAwait(false);
                    break;

                case RevokeApiKey c:
                    if (await Execute("UPDATE api_keys SET revoked_us = COALESCE(revoked_us, @p2) WHERE key_id = @p0 AND holder_id = @p1", ct,
                            c.KeyId, c.HolderId, timeUs).ConfigureAwait(false) == 0)
                    {
                        throw new StoreException(StoreErrorKind.NotFound, path + ".key_id", $"holder '{c.HolderId}' has no API key '{c.KeyId}'");
                    }

                    break;

                case AddVerifiedHost c:
                    await RequireHolderAsync(c.HolderId, path, ct).ConfigureAwait(false);
                    await Execute("INSERT INTO verified_hosts (holder_id, host, method, verified_us) VALUES (@p0, @p1, @p2, @p3) "
                        + "ON CONFLICT (holder_id, host) DO UPDATE SET method = excluded.method, verified_us = excluded.verified_us", ct,
                        c.HolderId, c.Host, c.Method, timeUs).ConfigureAwait(false);
                    break;

                case PutReservation c:
                    await PutReservationAsync(c, path, sequence, timeUs, ct).ConfigureAwait(false);
                    break;

                case ChangeReservationState c:
                    await ChangeStateAsync(c, path, sequence, timeUs, ct).ConfigureAwait(false);
                    break;

                case RecordIdempotencyKey c:
                    if (await Exists("SELECT 1 FROM idempotency_keys WHERE holder_id = @p0 AND idem_key = @p1", ct, c.HolderId, c.Key).ConfigureAwait(false))
                    {
                        throw new StoreException(StoreErrorKind.Conflict, path + ".key", $"idempotency key '{c.Key}' was already used by holder '{c.HolderId}'");
                    }

                    await Execute("INSERT INTO idempotency_keys (holder_id, idem_key, result_id, created_us) VALUES (@p0, @p1, @p2, @p3)", ct,
                        c.HolderId, c.Key, c.ResultId, timeUs).ConfigureAwait(false);
                    break;

                default:
                    throw new StoreException(StoreErrorKind.Invalid, path, $"unknown change type {change.GetType().Name}");
            }
        }

        private async Task PutReservationAsync(PutReservation c, string path, long sequence, long timeUs, CancellationToken ct)
        {
            await RequireHolderAsync(c.HolderId, path, ct).ConfigureAwait(false);
            if (_fast is not null && _reservations is null && !store.SearchTextInRow)
            {
                // The common case of a bulk import, bound from the change's fields; an amendment continues below.
                if (_fast.InsertReservation(c, timeUs, sequence) == 1)
                {
                    AddCreationHistory(c, sequence, timeUs);
                    return;
                }
            }
            else if (await InsertReservationAsync(c, sequence, timeUs, ct).ConfigureAwait(false))
            {
                return;
            }

            await AmendReservationAsync(c, path, sequence, timeUs, ct).ConfigureAwait(false);
        }

        // Inserts a new reservation through the buffered or single-row INSERT; false when its id exists already.
        private async Task<bool> InsertReservationAsync(PutReservation c, long sequence, long timeUs, CancellationToken ct)
        {
            var values = ReservationParameters(c, timeUs, timeUs, sequence, sequence, store.SearchTextInRow);
            if (_reservations is not null)
            {
                if (!_existingIds.Contains(c.ReservationId) && _insertedIds.Add(c.ReservationId))
                {
                    _reservations.Add(values);
                    AddCreationHistory(c, sequence, timeUs);
                    return true;
                }

                // An amendment: rows buffered so far must be in the table before it is read or updated.
                await FlushReservationsAsync(full: true, ct).ConfigureAwait(false);
            }

            if (await Execute(store.InsertReservationSql, ct, values).ConfigureAwait(false) == 1)
            {
                AddCreationHistory(c, sequence, timeUs);
                return true;
            }

            return false;
        }

        private async Task AmendReservationAsync(PutReservation c, string path, long sequence, long timeUs, CancellationToken ct)
        {
            var existing = await ReadReservationKeyAsync(c.ReservationId, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"reservation '{c.ReservationId}' conflicted on insert but cannot be read");
            var (holderId, state, createdSeq, registeredUs, stateChangedUs) = existing;
            if (!string.Equals(holderId, c.HolderId, StringComparison.Ordinal))
            {
                throw new StoreException(StoreErrorKind.Conflict, path + ".reservation_id",
                    $"reservation '{c.ReservationId}' belongs to another holder");
            }

            var changed = state != c.State;
            var values = ReservationParameters(c, changed ? timeUs : stateChangedUs, registeredUs, createdSeq, sequence, store.SearchTextInRow);
            await Execute(store.UpdateReservationSql, ct, values).ConfigureAwait(false);
            if (store.SearchReindexSql is { } reindex)
            {
                await Execute(reindex, ct, sequence, createdSeq).ConfigureAwait(false);
            }

            if (changed)
            {
                AddHistory(c.ReservationId, sequence, c.State, timeUs);
            }
        }

        private async Task ChangeStateAsync(ChangeReservationState c, string path, long sequence, long timeUs, CancellationToken ct)
        {
            await FlushReservationsAsync(full: true, ct).ConfigureAwait(false);
            var existing = await ReadReservationKeyAsync(c.ReservationId, ct).ConfigureAwait(false);
            if (existing is null)
            {
                throw new StoreException(StoreErrorKind.NotFound, path + ".reservation_id", $"reservation '{c.ReservationId}' does not exist");
            }

            if (existing.Value.State == c.State)
            {
                throw new StoreException(StoreErrorKind.Conflict, path + ".state",
                    $"reservation '{c.ReservationId}' is already {c.State.ToString().ToLowerInvariant()}");
            }

            if (c.Payload is null)
            {
                await Execute("UPDATE reservations SET state = @p1, state_changed_us = @p2, last_seq = @p3 WHERE id = @p0", ct,
                    c.ReservationId, (long)c.State, timeUs, sequence).ConfigureAwait(false);
            }
            else
            {
                await Execute("UPDATE reservations SET state = @p1, state_changed_us = @p2, last_seq = @p3, payload = @p4 WHERE id = @p0", ct,
                    c.ReservationId, (long)c.State, timeUs, sequence, c.Payload).ConfigureAwait(false);
            }

            AddHistory(c.ReservationId, sequence, c.State, timeUs);
        }

        private void AddHistory(string reservationId, long sequence, ReservationState state, long timeUs) =>
            _history.Add(reservationId, sequence, (long)state, timeUs);

        // An Active creation is derived from the reservation row when the history is read (GetReservationHistoryAsync):
        // one b-tree insert less per imported reservation, keyed by a random id.
        private void AddCreationHistory(PutReservation c, long sequence, long timeUs)
        {
            if (c.State != ReservationState.Active)
            {
                AddHistory(c.ReservationId, sequence, c.State, timeUs);
            }
        }

        private async Task<(string HolderId, ReservationState State, long CreatedSeq, long RegisteredUs, long StateChangedUs)?> ReadReservationKeyAsync(
            string reservationId, CancellationToken ct)
        {
            await using var reader = await Command(
                "SELECT holder_id, state, created_seq, registered_us, state_changed_us FROM reservations WHERE id = @p0", [reservationId])
                .ExecuteReaderAsync(ct).ConfigureAwait(false);
            if (!await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                return null;
            }

            return (reader.GetString(0), (ReservationState)reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
        }

        private async Task RequireHolderAsync(string holderId, string path, CancellationToken ct)
        {
            if (!await HolderExistsAsync(holderId, ct).ConfigureAwait(false))
            {
                throw new StoreException(StoreErrorKind.NotFound, path + ".holder_id", $"holder '{holderId}' does not exist");
            }
        }

        private async Task<bool> HolderExistsAsync(string holderId, CancellationToken ct)
        {
            if (_knownHolders.Contains(holderId))
            {
                return true;
            }

            var exists = await Exists("SELECT 1 FROM holders WHERE id = @p0", ct, holderId).ConfigureAwait(false);
            if (exists)
            {
                _knownHolders.Add(holderId);
            }

            return exists;
        }

        private async Task<bool> Exists(string sql, CancellationToken ct, params object?[] values)
        {
            if (_fast is not null)
            {
                return _fast.Exists(sql, values);
            }

            await using var reader = await Command(sql, values).ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false);
        }

        private Task<int> Execute(string sql, CancellationToken ct, params object?[] values) =>
            _fast is not null ? Task.FromResult(_fast.Execute(sql, values)) : Command(sql, values).ExecuteNonQueryAsync(ct);

        private DbCommand Command(string sql, object?[] values)
        {
            if (!_commands.TryGetValue(sql, out var command))
            {
                command = CreateCommand(connection, transaction, sql, values);
                _commands.Add(sql, command);
                return command;
            }

            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            return command;
        }

        public void Dispose()
        {
            foreach (var command in _commands.Values)
            {
                command.Dispose();
            }

            _fast?.Dispose();
        }
    }

    // Stored Merkle nodes of a batch hashed ahead, inserted after its rows.
    private readonly struct NodeListCollector(List<(long Key, byte[] Hash)> nodes) : IMerkleNodeSink
    {
        public void Add(MerkleNodeId id, byte[] hash)
        {
            if (id.Level >= StoredNodeLevel)
            {
                nodes.Add((id.ToKey(), hash));
            }
        }
    }

    // Stored Merkle nodes go to a row buffer, or (fast statements) straight into the table.
    private readonly struct NodeCollector(RowBuffer? nodes, IFastStatements? fast) : IMerkleNodeSink
    {
        public void Add(MerkleNodeId id, byte[] hash)
        {
            if (id.Level >= StoredNodeLevel)
            {
                if (fast is not null)
                {
                    fast.InsertNode(id.ToKey(), hash);
                }
                else
                {
                    nodes!.Add(id.ToKey(), hash);
                }
            }
        }
    }

    /// <summary>Rows waiting for a multi-row INSERT; the SQL text per (table, row count) is built once and shared.</summary>
    private sealed class RowBuffer(string table, string columns, int width, int chunkRows, Func<int, string>? tuple = null, string suffix = "")
    {
        public const int DefaultChunkRows = 32;

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string, int), string> SqlCache = new();
        private readonly List<object?> _values = new(chunkRows * width);

        public int ChunkRows => chunkRows;

        public string Table => table;

        public string Columns => columns;

        public int Width => width;

        /// <summary>The buffered values, row-major (for <see cref="IBulkRowWriter"/>).</summary>
        public List<object?> Values => _values;

        public void Clear() => _values.Clear();

        public int Rows => _values.Count / width;

        public void Add(params ReadOnlySpan<object?> row)
        {
            foreach (var value in row)
            {
                _values.Add(value);
            }
        }

        public (string Sql, object?[] Values) TakeChunk()
        {
            var rows = Math.Min(Rows, ChunkRows);
            var sql = SqlCache.GetOrAdd((table, rows),
                static (key, state) => Build(state.table, state.columns, state.width, key.Item2, state.tuple, state.suffix), (table, columns, width, tuple, suffix));
            var values = _values.GetRange(0, rows * width).ToArray();
            _values.RemoveRange(0, rows * width);
            return (sql, values);
        }

        private static string Build(string table, string columns, int width, int rows, Func<int, string>? tuple, string suffix)
        {
            var sql = new StringBuilder("INSERT INTO ").Append(table).Append(" (").Append(columns).Append(") VALUES ");
            for (var r = 0; r < rows; r++)
            {
                if (tuple is not null)
                {
                    sql.Append(r == 0 ? string.Empty : ", ").Append(tuple(r * width));
                    continue;
                }

                sql.Append(r == 0 ? "(" : ", (");
                for (var c = 0; c < width; c++)
                {
                    sql.Append(c == 0 ? "@p" : ", @p").Append(r * width + c);
                }

                sql.Append(')');
            }

            return sql.Append(suffix).ToString();
        }
    }
}
