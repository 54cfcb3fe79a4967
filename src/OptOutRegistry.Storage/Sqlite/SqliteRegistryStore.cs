using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace OptOutRegistry.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite database file in the data directory, WAL journal with
/// <c>synchronous=FULL</c> (a write is on disk when its task completes), one writer connection behind a lock and a
/// pool of reader connections that never wait for the writer (WAL readers see the last committed snapshot).
/// Full-text search lives in a second file, <c>search.db</c>, kept current by a background indexer
/// (<see cref="SqliteSearchIndex"/>): derived data, off the acknowledgement path.
/// </summary>
public sealed class SqliteRegistryStore : RelationalRegistryStore
{
    /// <summary>File name of the database inside the data directory.</summary>
    public const string DatabaseFileName = "registry.db";

    private readonly string _readConnectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private SqliteSearchIndex? _search;
    private bool _disposed;

    private SqliteRegistryStore(string path, TimeProvider? time)
        : base(time)
    {
        DatabasePath = path;
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 };
        _readConnectionString = builder.ToString();
        var writerBuilder = new SqliteConnectionStringBuilder(_readConnectionString) { Pooling = false };
        _writer = new SqliteConnection(writerBuilder.ToString());
    }

    /// <summary>Path of the database file.</summary>
    public string DatabasePath { get; }

    /// <summary>
    /// The longest a search waits for the background indexer to reach the log's head as of the query (default 5 s;
    /// a freshly imported million rows takes longer to index, and the search then answers from what is indexed:
    /// <see cref="GetSearchIndexStatusAsync"/> tells how far that is).
    /// </summary>
    public TimeSpan SearchFreshnessWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Opens (creating if needed) the store in <paramref name="dataDirectory"/>. Call <see cref="RelationalRegistryStore.MigrateAsync"/> next.
    /// </summary>
    public static async Task<SqliteRegistryStore> OpenAsync(string dataDirectory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        var store = new SqliteRegistryStore(Path.Combine(dataDirectory, DatabaseFileName), time);
        try
        {
            await store._writer.OpenAsync(cancellationToken).ConfigureAwait(false);
            // WAL: readers do not block the writer nor it them. synchronous=FULL: the WAL is fsynced at every
            // commit, so an acknowledged write survives power loss, not just a process crash (sqlite.org/pragma.html#pragma_synchronous).
            // wal_autocheckpoint 16384 pages (64 MiB): a bulk-import batch rewrites the same b-tree and FTS5 pages; copying
            // them back into the database file after every batch (the default 1000 pages) re-read each one from the WAL.
            // Durability is the WAL's fsync at commit and does not depend on checkpoints (sqlite.org/wal.html#ckpt).
            // page_size 16 KiB for a new database (a no-op for an existing one, whose page size is fixed once it is in WAL
            // mode: sqlite.org/pragma.html#pragma_page_size): a bulk-import batch fills fewer pages, with fewer b-tree
            // splits and page headers per row; 12 % less writer-thread CPU per imported reservation than 4 KiB in the
            // round-four A/B (RESULTS.md). It must come before journal_mode, which writes the file's first page.
            await ExecuteAsync(store._writer, "PRAGMA page_size = 16384;", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(store._writer, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824; PRAGMA wal_autocheckpoint = 16384;", cancellationToken)
                .ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    public override Task MigrateAsync(CancellationToken cancellationToken = default) => MigrateToAsync(SqliteSchema.Migrations.Length, cancellationToken);

    /// <summary>Migrates up to <paramref name="targetVersion"/> only (tests build old data directories with it).</summary>
    internal async Task MigrateToAsync(int targetVersion, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = await ReadUserVersionAsync(_writer, cancellationToken).ConfigureAwait(false);
            if (current > SqliteSchema.Migrations.Length)
            {
                throw new InvalidOperationException(
                    $"The database '{DatabasePath}' is at schema version {current}, newer than this program knows ({SqliteSchema.Migrations.Length}).");
            }

            for (var version = current + 1; version <= targetVersion; version++)
            {
                using var transaction = _writer.BeginTransaction();
                using var command = _writer.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = SqliteSchema.Migrations[version - 1] + $"\nPRAGMA user_version = {version};";
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                transaction.Commit();
            }

            if (targetVersion == SqliteSchema.Migrations.Length && _search is null)
            {
                var search = new SqliteSearchIndex(Path.Combine(Path.GetDirectoryName(DatabasePath)!, SqliteSearchIndex.FileName), _readConnectionString);
                try
                {
                    await search.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await search.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                _search = search;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc/>
    public override async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = (SqliteConnection)await OpenReadConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadUserVersionAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    private protected override async ValueTask<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = new SqliteConnection(_readConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    private protected override async Task<T> RunInWriteTransactionAsync<T>(
        Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // BEGIN IMMEDIATE (the Microsoft.Data.Sqlite default): takes the write lock now, so another process
            // sharing the file cannot slip an append in between our read of the log head and our commit.
            using var transaction = _writer.BeginTransaction(deferred: false);
            var result = await work(_writer, transaction, cancellationToken).ConfigureAwait(false);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private protected override IFastStatements? CreateFastStatements(DbConnection connection) => new SqliteWriteStatements((SqliteConnection)connection);

    private protected override int InsertChunkRows => 1;

    private protected override string SelectLogHeadForUpdateSql => "SELECT size, last_time_us, frontier FROM log_head WHERE id = 1";

    private protected override string InsertReservationSql => SqliteSchema.InsertReservation;

    private protected override string UpdateReservationSql => SqliteSchema.UpdateReservation;

    private protected override string? SearchReindexSql => SqliteSchema.QueueReindex;

    private protected override bool SearchTextInRow => false;

    private protected override void AfterCommit() => _search?.Notify();

    /// <inheritdoc/>
    public override async Task<SearchIndexStatus> GetSearchIndexStatusAsync(CancellationToken cancellationToken = default)
    {
        var latest = await GetLatestSequenceAsync(cancellationToken).ConfigureAwait(false);
        return new SearchIndexStatus(Math.Min(RequireSearch().IndexedThrough, latest), latest);
    }

    /// <summary>Rows the background indexer has written since the store was opened (the benchmark's catch-up rate).</summary>
    internal long SearchRowsIndexed => RequireSearch().RowsIndexed;

    private SqliteSearchIndex RequireSearch() =>
        _search ?? throw new InvalidOperationException("Full-text search is not open: run MigrateAsync first.");

    private protected override bool IsUniqueViolation(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT

    private protected override async Task<IReadOnlyList<SearchHit>> SearchCoreAsync(
        DbConnection connection, string[] words, int limit, bool activeOnly, CancellationToken cancellationToken)
    {
        var search = RequireSearch();
        // Read-your-writes within SearchFreshnessWait: wait for the indexer to cover the log as of this query.
        long head;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT size FROM log_head WHERE id = 1";
            head = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) - 1;
        }

        await search.WaitForAsync(head, SearchFreshnessWait, cancellationToken).ConfigureAwait(false);

        // Words hold only letters and digits (SearchText), so quoting them makes a safe FTS5 phrase each;
        // the last is a prefix query for search-as-you-type.
        var match = new System.Text.StringBuilder();
        for (var i = 0; i < words.Length; i++)
        {
            match.Append(i == 0 ? "\"" : " \"").Append(words[i]).Append('"');
        }

        match.Append('*');

        // Rank inside FTS5 (bm25, title 10, creators 4, identifiers 2, holder name 1; lower is better:
        // sqlite.org/fts5.html#the_bm25_function), ties broken by rowid (= created_seq), then look up only the best
        // `take` candidates in the registry. The ranking is deterministic, so a longer candidate list starts with the
        // shorter one: when the state filter leaves fewer than `limit` of a full list, rank again with 8x the candidates
        // until the list is no longer full. Results are exact, not approximate.
        var take = activeOnly ? limit * 4 : limit;
        await using var index = new SqliteConnection(search.ReadConnectionString);
        await index.OpenAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var candidates = new List<(long Seq, double Score)>(Math.Min(take, 4096));
            await using (var command = index.CreateCommand())
            {
                command.CommandText = "SELECT rowid, bm25(works_fts, 10.0, 4.0, 2.0, 1.0) AS score FROM works_fts WHERE works_fts MATCH $match ORDER BY score, rowid LIMIT $take";
                command.Parameters.Add(new SqliteParameter("$match", match.ToString()));
                command.Parameters.Add(new SqliteParameter("$take", take));
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    candidates.Add((reader.GetInt64(0), reader.GetDouble(1)));
                }
            }

            var rows = await ReadHitRowsAsync(connection, candidates, cancellationToken).ConfigureAwait(false);
            var hits = new List<SearchHit>(limit);
            foreach (var (seq, score) in candidates)
            {
                if (hits.Count == limit)
                {
                    break;
                }

                if (rows.TryGetValue(seq, out var row) && (!activeOnly || row.State == ReservationState.Active))
                {
                    hits.Add(new SearchHit(row.Id, row.HolderId, row.Title, row.State, -score));
                }
            }

            if (hits.Count == limit || candidates.Count < take)
            {
                return hits;
            }

            take = (int)Math.Min((long)take * 8, int.MaxValue);
        }
    }

    /// <summary>
    /// The rebuild read through SQLitePCL: one deferred read transaction (a WAL snapshot: the log head and the rows
    /// are of the same commit, sqlite.org/isolation.html), the payload column only, in rowid (= created_seq) order, so
    /// SQLite walks the table b-tree leaf by leaf without touching an index. Microsoft.Data.Sqlite's reader costs more
    /// per row than SQLite's own step here (a reader object per command, type checks and a copy per column read).
    /// </summary>
    private protected override Task<long> ReadReservationPayloadsCoreAsync(
        DbConnection connection, Action<byte[]> onPayload, CancellationToken cancellationToken) =>
        ReadReservationPayloadSpansCoreAsync(connection, static (payload, state) => ((Action<byte[]>)state!)(payload.ToArray()), onPayload, cancellationToken);

    /// <summary>The rebuild read handing out SQLite's own column buffer (valid until the next step), see above.</summary>
    private protected override Task<long> ReadReservationPayloadSpansCoreAsync(
        DbConnection connection, System.Buffers.ReadOnlySpanAction<byte, object?> onPayload, object? state, CancellationToken cancellationToken)
    {
        var db = ((SqliteConnection)connection).Handle ?? throw new InvalidOperationException("The read connection is not open.");
        Check(db, SQLitePCL.raw.sqlite3_exec(db, "BEGIN DEFERRED"));
        var committed = false;
        try
        {
            long size;
            using (var head = Prepare(db, "SELECT size FROM log_head WHERE id = 1"))
            {
                if (SQLitePCL.raw.sqlite3_step(head) != SQLitePCL.raw.SQLITE_ROW)
                {
                    throw new InvalidOperationException("The log head row is missing: run MigrateAsync first.");
                }

                size = SQLitePCL.raw.sqlite3_column_int64(head, 0);
            }

            using (var rows = Prepare(db, "SELECT payload FROM reservations ORDER BY created_seq"))
            {
                var count = 0;
                int rc;
                while ((rc = SQLitePCL.raw.sqlite3_step(rows)) == SQLitePCL.raw.SQLITE_ROW)
                {
                    onPayload(SQLitePCL.raw.sqlite3_column_blob(rows, 0), state);
                    if ((++count & 4095) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }

                Check(db, rc == SQLitePCL.raw.SQLITE_DONE ? SQLitePCL.raw.SQLITE_OK : rc);
            }

            Check(db, SQLitePCL.raw.sqlite3_exec(db, "COMMIT"));
            committed = true;
            return Task.FromResult(size - 1);
        }
        finally
        {
            if (!committed)
            {
                // The connection goes back to the pool: never with an open transaction.
                SQLitePCL.raw.sqlite3_exec(db, "ROLLBACK");
            }
        }
    }

    private static SQLitePCL.sqlite3_stmt Prepare(SQLitePCL.sqlite3 db, string sql)
    {
        Check(db, SQLitePCL.raw.sqlite3_prepare_v2(db, sql, out var statement));
        return statement;
    }

    private static void Check(SQLitePCL.sqlite3 db, int rc)
    {
        if (rc != SQLitePCL.raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }

    private static async Task<Dictionary<long, (string Id, string HolderId, string? Title, ReservationState State)>> ReadHitRowsAsync(
        DbConnection connection, List<(long Seq, double Score)> candidates, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<long, (string, string, string?, ReservationState)>(candidates.Count);
        for (var start = 0; start < candidates.Count; start += 500)
        {
            var count = Math.Min(500, candidates.Count - start);
            // The sequences are integers read from the index: safe to inline, and one statement per 500.
            var list = new System.Text.StringBuilder(count * 8);
            for (var i = 0; i < count; i++)
            {
                list.Append(i == 0 ? string.Empty : ",").Append(candidates[start + i].Seq);
            }

            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT created_seq, id, holder_id, title, state FROM reservations WHERE created_seq IN ({list})";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows[reader.GetInt64(0)] = (reader.GetString(1), reader.GetString(2), NullableString(reader, 3), (ReservationState)reader.GetInt64(4));
            }
        }

        return rows;
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_search is not null)
        {
            await _search.DisposeAsync().ConfigureAwait(false);
        }

        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            // Only this database's pooled readers: other stores in the process keep theirs.
            using var pooled = new SqliteConnection(_readConnectionString);
            SqliteConnection.ClearPool(pooled);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads an integer pragma on the writer connection (tests check durability settings with it).</summary>
    internal async Task<long> ReadWriterPragmaAsync(string name)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await using var command = _writer.CreateCommand();
            command.CommandText = "PRAGMA " + name;
            return Convert.ToInt64(await command.ExecuteScalarAsync().ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static async Task<int> ReadUserVersionAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
