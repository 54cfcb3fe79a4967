using Microsoft.Data.Sqlite;

namespace OptOutRegistry.Storage.Sqlite;

/// <summary>
/// The full-text index of works, kept in its own database file (<c>search.db</c>) next to the registry and maintained
/// by a background task that follows the event sequence. It is derived data: nothing in it is evidence, it can be
/// deleted at any time and is rebuilt from the reservations table. Keeping it off the append transaction removes the
/// FTS5 insert (≈ 17 µs, the largest single cost of a reservation) and the text normalisation from the acknowledgement
/// path, and a separate file has its own write lock, so the indexer runs on the second core while the registry's
/// writer commits (sqlite.org/wal.html: one writer per database file).
/// <para>
/// Consistency: <c>index_state.indexed_seq</c> is written in the same transaction as the rows it covers, so after a
/// crash the index is exactly as of some sequence and catches up from there. New reservations are found by their
/// <c>created_seq</c> (the registry's rowid: a range scan); amendments, which change the text of an older row, leave a
/// row in the registry's <c>search_pending</c> in their append transaction. The leaf hash of the event at
/// <c>indexed_seq</c> is kept too: when it does not match the registry (a restored or replaced registry.db) the
/// index is dropped and rebuilt.
/// </para>
/// </summary>
internal sealed class SqliteSearchIndex : IAsyncDisposable
{
    /// <summary>File name of the index inside the data directory.</summary>
    public const string FileName = "search.db";

    /// <summary>Events covered per indexing transaction: bounds the index's write transaction and the memory it holds.</summary>
    private const int ChunkEvents = 20_000;

    /// <summary>Version of search.db's layout (its <c>user_version</c>); a file at another version is rebuilt.</summary>
    private const int LayoutVersion = 1;

    private readonly string _registryReadConnectionString;
    private readonly SqliteConnection _writer;
    private readonly CancellationTokenSource _stop = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _indexedThrough = -1;
    private Task? _loop;

    public SqliteSearchIndex(string path, string registryReadConnectionString)
    {
        Path = path;
        _registryReadConnectionString = registryReadConnectionString;
        ReadConnectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 30 }.ToString();
        _writer = new SqliteConnection(new SqliteConnectionStringBuilder(ReadConnectionString) { Pooling = false }.ToString());
    }

    public string Path { get; }

    /// <summary>Connection string of the index's readers.</summary>
    public string ReadConnectionString { get; }

    /// <summary>Every event up to and including this sequence is reflected in the index (−1: none).</summary>
    public long IndexedThrough => Interlocked.Read(ref _indexedThrough);

    /// <summary>The last failure of the indexing task, if its latest attempt failed (it retries).</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Rows indexed since start (new reservations plus re-indexed amendments): the benchmark's catch-up rate.</summary>
    public long RowsIndexed => Interlocked.Read(ref _rowsIndexed);

    private long _rowsIndexed;

    /// <summary>Opens (creating or rebuilding when needed) the index file and starts following the registry.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        int version;
        try
        {
            version = await OpenWriterAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 26 or 11) // SQLITE_NOTADB, SQLITE_CORRUPT
        {
            // Derived data: a damaged file is replaced, not repaired.
            await _writer.CloseAsync().ConfigureAwait(false);
            SqliteConnection.ClearPool(_writer);
            foreach (var suffix in (string[])["", "-wal", "-shm"])
            {
                File.Delete(Path + suffix);
            }

            version = await OpenWriterAsync(cancellationToken).ConfigureAwait(false);
        }

        if (version != LayoutVersion)
        {
            Recreate();
        }

        var (indexed, hash) = ReadState();
        if (indexed >= 0 && !MatchesRegistry(indexed, hash))
        {
            Recreate();
            indexed = -1;
        }

        Interlocked.Exchange(ref _indexedThrough, indexed);
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    private async Task<int> OpenWriterAsync(CancellationToken cancellationToken)
    {
        await _writer.OpenAsync(cancellationToken).ConfigureAwait(false);
        // synchronous=NORMAL: derived data. In WAL mode a power loss may drop the last index transactions but never
        // corrupts the file (sqlite.org/pragma.html#pragma_synchronous), and indexed_seq rolls back with them.
        // journal_size_limit: a 20,000-row FTS5 transaction (with its segment merges) grows the WAL to hundreds of MiB,
        // and SQLite keeps the file at its largest size unless told to truncate it after a checkpoint.
        Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;");
        return Convert.ToInt32(Scalar("PRAGMA user_version"), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Tells the indexer the registry has new events.</summary>
    public void Notify() => Interlocked.Exchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until the index covers <paramref name="sequence"/> or <paramref name="timeout"/> passes; true when it does.</summary>
    public async Task<bool> WaitForAsync(long sequence, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (IndexedThrough >= sequence)
        {
            return true;
        }

        Notify();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (IndexedThrough < sequence)
            {
                var advanced = Volatile.Read(ref _advanced).Task;
                if (IndexedThrough >= sequence)
                {
                    break;
                }

                await advanced.WaitAsync(deadline.Token).ConfigureAwait(false);
            }

            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var wake = Volatile.Read(ref _wake).Task;
            try
            {
                while (!token.IsCancellationRequested && IndexChunk())
                {
                    LastError = null;
                }

                LastError = null;
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException or IOException)
            {
                // E.g. a full disk: the registry keeps accepting writes; the index retries and search answers from what it has.
                LastError = ex;
            }

            try
            {
                // The poll covers appends by another process sharing the registry file, which cannot notify us.
                await wake.WaitAsync(TimeSpan.FromSeconds(1), token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Indexes the next chunk of events; false when the index had already caught up.</summary>
    private bool IndexChunk()
    {
        using var registry = new SqliteConnection(_registryReadConnectionString);
        registry.Open();
        // BEGIN IMMEDIATE on the index: a second process running an indexer on the same files waits here instead of
        // inserting the same rows; indexed_seq is re-read under the lock.
        using var transaction = _writer.BeginTransaction(deferred: false);
        var (indexed, _) = ReadState(transaction);
        // One read transaction on the registry: the head, the rows and the leaf hash come from one snapshot.
        using var snapshot = registry.BeginTransaction(deferred: true);
        var head = Convert.ToInt64(Scalar(registry, snapshot, "SELECT size FROM log_head WHERE id = 1", 0), System.Globalization.CultureInfo.InvariantCulture) - 1;
        if (indexed >= head)
        {
            Interlocked.Exchange(ref _indexedThrough, indexed);
            return false;
        }

        var upTo = Math.Min(head, indexed + ChunkEvents);
        var rows = 0L;
        using (var insert = Command(_writer, transaction, "INSERT INTO works_fts (rowid, title, creators, identifiers, holder_name) VALUES ($s, $t, $c, $i, $h)", "$s", "$t", "$c", "$i", "$h"))
        using (var delete = Command(_writer, transaction, "DELETE FROM works_fts WHERE rowid = $s", "$s"))
        {
            // Amended rows first (created before this chunk, their text changed in it): delete and re-insert.
            using (var read = Command(registry, snapshot,
                "SELECT DISTINCT r.created_seq, r.title, r.creators, r.identifiers, r.holder_name FROM search_pending p "
                + "JOIN reservations r ON r.created_seq = p.created_seq WHERE p.seq > $a AND p.seq <= $b AND p.created_seq <= $a", "$a", "$b"))
            {
                read.Parameters[0].Value = indexed;
                read.Parameters[1].Value = upTo;
                using var reader = read.ExecuteReader();
                while (reader.Read())
                {
                    delete.Parameters[0].Value = reader.GetInt64(0);
                    delete.ExecuteNonQuery();
                    Insert(insert, reader);
                    rows++;
                }
            }

            // New reservations of the chunk, with their current text (a later amendment re-indexes them again).
            using (var read = Command(registry, snapshot,
                "SELECT created_seq, title, creators, identifiers, holder_name FROM reservations WHERE created_seq > $a AND created_seq <= $b ORDER BY created_seq", "$a", "$b"))
            {
                read.Parameters[0].Value = indexed;
                read.Parameters[1].Value = upTo;
                using var reader = read.ExecuteReader();
                while (reader.Read())
                {
                    Insert(insert, reader);
                    rows++;
                }
            }
        }

        var leafHash = (byte[])Scalar(registry, snapshot, "SELECT leaf_hash FROM events WHERE seq = $s", upTo)!;
        snapshot.Commit();
        using (var state = Command(_writer, transaction, "UPDATE index_state SET indexed_seq = $s, leaf_hash = $h WHERE id = 1", "$s", "$h"))
        {
            state.Parameters[0].Value = upTo;
            state.Parameters[1].Value = leafHash;
            state.ExecuteNonQuery();
        }

        transaction.Commit();
        Interlocked.Add(ref _rowsIndexed, rows);
        Interlocked.Exchange(ref _indexedThrough, upTo);
        Interlocked.Exchange(ref _advanced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        return true;
    }

    private static void Insert(SqliteCommand insert, SqliteDataReader row)
    {
        // Normalised here, not in the append transaction: SearchText is the one normalisation both stores use.
        insert.Parameters[0].Value = row.GetInt64(0);
        insert.Parameters[1].Value = SearchText.Normalize(row.IsDBNull(1) ? null : row.GetString(1));
        insert.Parameters[2].Value = SearchText.Normalize(row.GetString(2)); // list separator U+001F is not a letter: a word break
        insert.Parameters[3].Value = SearchText.Normalize(row.GetString(3));
        insert.Parameters[4].Value = SearchText.Normalize(row.IsDBNull(4) ? null : row.GetString(4));
        insert.ExecuteNonQuery();
    }

    private bool MatchesRegistry(long indexed, byte[]? hash)
    {
        using var registry = new SqliteConnection(_registryReadConnectionString);
        registry.Open();
        return Scalar(registry, null, "SELECT leaf_hash FROM events WHERE seq = $s", indexed) is byte[] stored
            && hash is not null && stored.AsSpan().SequenceEqual(hash);
    }

    private void Recreate()
    {
        // Contentless (the text lives in the registry) with contentless_delete (SQLite 3.43+) so amendments can replace
        // a row by rowid; text is normalised by SearchText first, unicode61 with remove_diacritics 2 is a second net.
        Execute($"""
            DROP TABLE IF EXISTS works_fts;
            DROP TABLE IF EXISTS index_state;
            CREATE VIRTUAL TABLE works_fts USING fts5(
                title, creators, identifiers, holder_name, content = '', contentless_delete = 1,
                tokenize = 'unicode61 remove_diacritics 2');
            CREATE TABLE index_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_seq INTEGER NOT NULL, leaf_hash BLOB);
            INSERT INTO index_state (id, indexed_seq, leaf_hash) VALUES (1, -1, NULL);
            PRAGMA user_version = {LayoutVersion};
            """);
    }

    private (long Indexed, byte[]? Hash) ReadState(SqliteTransaction? transaction = null)
    {
        using var command = _writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT indexed_seq, leaf_hash FROM index_state WHERE id = 1";
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw new InvalidOperationException($"{Path}: the index_state row is missing");
        }

        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : (byte[])reader.GetValue(1));
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, long value)
    {
        using var command = Command(connection, transaction, sql, "$s");
        command.Parameters[0].Value = value;
        var result = command.ExecuteScalar();
        return result is DBNull ? null : result;
    }

    private object? Scalar(string sql)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private void Execute(string sql)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        await _writer.DisposeAsync().ConfigureAwait(false);
        using (var pooled = new SqliteConnection(ReadConnectionString))
        {
            SqliteConnection.ClearPool(pooled);
        }

        _stop.Dispose();
    }
}
