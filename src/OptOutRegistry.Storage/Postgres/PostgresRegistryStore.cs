using System.Data.Common;
using System.Globalization;
using Npgsql;

namespace OptOutRegistry.Storage.Postgres;

/// <summary>
/// The scale-out store: several server processes share one PostgreSQL database. Appends serialise on the single
/// <c>log_head</c> row (<c>SELECT … FOR UPDATE</c> inside the append transaction), which makes sequence numbers
/// gapless and in commit order across processes, as the Merkle tree needs. Each append NOTIFYs; tailing readers
/// LISTEN and also poll every <see cref="RelationalRegistryStore.TailPollInterval"/>, so a lost notification
/// delays an event by at most that long.
/// </summary>
public sealed class PostgresRegistryStore : RelationalRegistryStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lock _listenerLock = new();
    private Task? _listener;
    private bool _disposed;

    private PostgresRegistryStore(NpgsqlDataSource dataSource, TimeProvider? time)
        : base(time) => _dataSource = dataSource;

    /// <summary>Creates a store over <paramref name="connectionString"/> (Npgsql syntax). Call <see cref="MigrateAsync"/> next.</summary>
    public static PostgresRegistryStore Create(string connectionString, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            // The append path runs the same dozen statements again and again: let Npgsql prepare them.
            builder.MaxAutoPrepare = 64;
        }

        return new PostgresRegistryStore(NpgsqlDataSource.Create(builder), time);
    }

    /// <inheritdoc/>
    public override Task MigrateAsync(CancellationToken cancellationToken = default) => MigrateToAsync(PostgresSchema.Migrations.Length, cancellationToken);

    /// <summary>Migrates up to <paramref name="targetVersion"/> only (tests build old databases with it).</summary>
    internal async Task MigrateToAsync(int targetVersion, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({PostgresSchema.MigrationLockKey})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, transaction,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            cancellationToken).ConfigureAwait(false);
        var current = await ReadVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (current > PostgresSchema.Migrations.Length)
        {
            throw new InvalidOperationException(
                $"The database is at schema version {current}, newer than this program knows ({PostgresSchema.Migrations.Length}).");
        }

        for (var version = current + 1; version <= targetVersion; version++)
        {
            await ExecuteAsync(connection, transaction, PostgresSchema.Migrations[version - 1], cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction,
                $"INSERT INTO schema_migrations (version) VALUES ({version.ToString(CultureInfo.InvariantCulture)})", cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", connection);
        if (!(bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            return 0;
        }

        return await ReadVersionAsync(connection, null, cancellationToken).ConfigureAwait(false);
    }

    private protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    private protected override async Task<T> RunInWriteTransactionAsync<T>(
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, cancellationToken)
            .ConfigureAwait(false);
        var result = await work(connection, transaction, cancellationToken).ConfigureAwait(false);
        // Once the commit is sent its outcome is decided by the server; do not let cancellation make it ambiguous.
        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    // FOR UPDATE: the row lock is the log's single point of serialisation across processes; READ COMMITTED
    // re-reads the newest committed row once the lock is granted.
    private protected override string SelectLogHeadForUpdateSql => "SELECT size, last_time_us, frontier FROM log_head WHERE id = 1 FOR UPDATE";

    private protected override string InsertReservationSql => PostgresSchema.InsertReservation;

    private protected override string UpdateReservationSql => PostgresSchema.UpdateReservation;

    // Each statement is a round trip here: new reservations of a batch go out 32 per INSERT.
    private protected override (string Columns, Func<int, string> Tuple)? BufferedReservationInsert =>
        (PostgresSchema.ReservationInsertColumns, PostgresSchema.ReservationRowTuple);

    // A bulk batch's rows go out by binary COPY (PostgresBulkRowWriter); small appends keep the multi-row INSERTs.
    private protected override IBulkRowWriter? CreateBulkRowWriter(DbConnection connection, DbTransaction transaction) =>
        new PostgresBulkRowWriter((NpgsqlConnection)connection);

    private protected override async Task BeforeCommitAsync(DbConnection connection, DbTransaction transaction, long newSize, CancellationToken cancellationToken)
    {
        // NOTIFY is delivered at commit, and only if the transaction commits.
        await using var command = new NpgsqlCommand($"SELECT pg_notify('{PostgresSchema.NotifyChannel}', @p0)", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        command.Parameters.AddWithValue("p0", newSize.ToString(CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // A proof's leaf and node lookups: with the ids inlined (IN (…)) each proof was a new statement text, planned afresh
    // (0.86 ms of planning vs 0.2 ms of execution under load, RESULTS.md round four). One bigint[] parameter keeps the
    // text fixed, so Npgsql's auto-prepare (MaxAutoPrepare) prepares each of the two statements once per connection.
    private protected override DbCommand CreateKeyLookupCommand(DbConnection connection, string select, string keyColumn, long[] keys)
    {
        var command = new NpgsqlCommand(select + " WHERE " + keyColumn + " = ANY(@keys)", (NpgsqlConnection)connection);
        command.Parameters.Add(new NpgsqlParameter<long[]>("keys", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint) { TypedValue = keys });
        return command;
    }

    private protected override bool IsUniqueViolation(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    private protected override async Task<IReadOnlyList<SearchHit>> SearchCoreAsync(
        DbConnection connection, string[] words, int limit, bool activeOnly, CancellationToken cancellationToken)
    {
        // Words hold only letters and digits (SearchText), so they are safe tsquery operands; the last is a prefix.
        var query = string.Join(" & ", words) + ":*";
        await using var command = new NpgsqlCommand(
            "SELECT id, holder_id, title, state, ts_rank(search, q) AS score FROM reservations, to_tsquery('simple', @q) q "
            + "WHERE search @@ q" + (activeOnly ? " AND state = 1" : string.Empty)
            + " ORDER BY score DESC, created_seq LIMIT @limit", (NpgsqlConnection)connection);
        command.Parameters.AddWithValue("q", query);
        command.Parameters.AddWithValue("limit", (long)limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var hits = new List<SearchHit>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            hits.Add(new SearchHit(reader.GetString(0), reader.GetString(1), NullableString(reader, 2),
                (ReservationState)reader.GetInt64(3), reader.GetFloat(4)));
        }

        return hits;
    }

    private protected override void EnsureListening()
    {
        if (_listener is not null)
        {
            return;
        }

        lock (_listenerLock)
        {
            _listener ??= Task.Run(() => ListenAsync(_shutdown.Token));
        }
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                connection.Notification += (_, _) => SignalCommitted();
                await using (var command = new NpgsqlCommand($"LISTEN {PostgresSchema.NotifyChannel}", connection))
                {
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                // Anything committed while we were not listening is picked up by the tailers' next poll.
                SignalCommitted();
                while (!cancellationToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
            {
                // Connection lost: tailers keep polling meanwhile; retry shortly.
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _shutdown.CancelAsync().ConfigureAwait(false);
        if (_listener is { } listener)
        {
            try
            {
                await listener.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _dataSource.DisposeAsync().ConfigureAwait(false);
        _shutdown.Dispose();
    }

    private static async Task<int> ReadVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection, transaction);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
