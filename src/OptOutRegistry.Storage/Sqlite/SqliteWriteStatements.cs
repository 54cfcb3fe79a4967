using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace OptOutRegistry.Storage.Sqlite;

/// <summary>
/// The append transaction's statements on the writer connection, prepared once per session and bound by index.
/// Microsoft.Data.Sqlite binds every parameter by name on every execution (a linear scan of the statement's
/// parameter names per value) and builds a data reader per call; a bulk import runs the same five inserts per
/// reservation, so that overhead was as large as SQLite's own work. Each statement is reset right after its step,
/// so none is left active when the transaction commits.
/// </summary>
internal sealed class SqliteWriteStatements(SqliteConnection connection) : RelationalRegistryStore.IFastStatements
{
    private readonly sqlite3 _db = connection.Handle ?? throw new InvalidOperationException("The writer connection is not open.");
    private readonly Dictionary<string, (sqlite3_stmt Statement, int[] Indexes)> _statements = new(ReferenceEqualityComparer.Instance);

    public int Execute(string sql, object?[] values)
    {
        var statement = Bind(sql, values);
        try
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    public bool Exists(string sql, object?[] values)
    {
        var statement = Bind(sql, values);
        try
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return rc == raw.SQLITE_ROW;
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    private const string InsertEventSql = "INSERT INTO events (seq, time_us, actor, type, payload, leaf_hash) VALUES (@p0, @p1, @p2, @p3, @p4, @p5)";
    private const string InsertNodeSql = "INSERT INTO merkle_nodes (node_id, hash) VALUES (@p0, @p1)";

    // UTF-8 text is encoded here and bound with SQLITE_TRANSIENT (SQLite copies it), so one buffer serves every bind.
    // Binding UTF-8 rather than UTF-16 spares SQLite a conversion (and an allocation) per text value: the database
    // encoding is UTF-8 (sqlite.org/c3ref/bind_blob.html).
    private byte[] _text = new byte[1024];

    public int InsertReservation(PutReservation change, long timeUs, long sequence)
    {
        var (statement, map) = Prepare(SqliteSchema.InsertReservation, 15);
        var work = change.Work ?? WorkMetadata.Empty;
        // Same values as RelationalRegistryStore.ReservationParameters for a new row: registered, state changed and
        // (unless given) valid-from are the event's time, created_seq and last_seq its sequence.
        BindText(statement, map[0], change.ReservationId);
        BindText(statement, map[1], change.HolderId);
        BindInt64(statement, map[2], (long)change.State);
        BindInt64(statement, map[3], timeUs);
        BindInt64(statement, map[4], timeUs);
        BindInt64(statement, map[5], change.ValidFrom is { } from ? StoreTime.ToMicroseconds(from) : timeUs);
        if (change.ValidUntil is { } until)
        {
            BindInt64(statement, map[6], StoreTime.ToMicroseconds(until));
        }
        else
        {
            Check(raw.sqlite3_bind_null(statement, map[6]));
        }

        BindText(statement, map[7], work.Title);
        BindList(statement, map[8], work.Creators);
        BindList(statement, map[9], work.Identifiers);
        BindText(statement, map[10], work.Language);
        BindText(statement, map[11], change.HolderDisplayName);
        Check(raw.sqlite3_bind_blob(statement, map[12], change.Payload));
        BindInt64(statement, map[13], sequence);
        BindInt64(statement, map[14], sequence);
        return Step(statement);
    }

    public void InsertEvent(long sequence, long timeUs, EventDraft draft, byte[] leafHash)
    {
        var (statement, map) = Prepare(InsertEventSql, 6);
        BindInt64(statement, map[0], sequence);
        BindInt64(statement, map[1], timeUs);
        BindText(statement, map[2], draft.Actor);
        BindText(statement, map[3], draft.Type);
        Check(raw.sqlite3_bind_blob(statement, map[4], draft.Payload));
        Check(raw.sqlite3_bind_blob(statement, map[5], leafHash));
        Step(statement);
    }

    public void InsertNode(long key, byte[] hash)
    {
        var (statement, map) = Prepare(InsertNodeSql, 2);
        BindInt64(statement, map[0], key);
        Check(raw.sqlite3_bind_blob(statement, map[1], hash));
        Step(statement);
    }

    private int Step(sqlite3_stmt statement)
    {
        try
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    private void BindInt64(sqlite3_stmt statement, int index, long value) => Check(raw.sqlite3_bind_int64(statement, index, value));

    private void BindText(sqlite3_stmt statement, int index, string? value)
    {
        if (value is null)
        {
            Check(raw.sqlite3_bind_null(statement, index));
            return;
        }

        var length = Encode(value, 0);
        BindEncoded(statement, index, length);
    }

    // A list column: items joined with RelationalRegistryStore.ListSeparator, encoded straight into the buffer.
    private void BindList(sqlite3_stmt statement, int index, IReadOnlyList<string> items)
    {
        var length = 0;
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                length = Encode(SeparatorText, length);
            }

            length = Encode(items[i], length);
        }

        BindEncoded(statement, index, length);
    }

    private static readonly string SeparatorText = RelationalRegistryStore.ListSeparator.ToString();

    private void BindEncoded(sqlite3_stmt statement, int index, int length)
    {
        // An empty span would be bound through a null pointer, which SQLite reads as NULL, not ''.
        Check(length == 0 ? raw.sqlite3_bind_text(statement, index, string.Empty) : raw.sqlite3_bind_text(statement, index, _text.AsSpan(0, length)));
    }

    // Appends value's UTF-8 at offset of the text buffer (grown as needed); returns the new end.
    private int Encode(string value, int offset)
    {
        var needed = offset + System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
        if (needed > _text.Length)
        {
            Array.Resize(ref _text, Math.Max(needed, _text.Length * 2));
        }

        return offset + System.Text.Encoding.UTF8.GetBytes(value, _text.AsSpan(offset));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }

    private (sqlite3_stmt Statement, int[] Indexes) Prepare(string sql, int parameterCount)
    {
        if (!_statements.TryGetValue(sql, out var prepared))
        {
            var rc = raw.sqlite3_prepare_v2(_db, sql, out var created);
            if (rc != raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            // Values are @p0..@pN by position in the values array; SQLite numbers parameters by first appearance.
            var indexes = new int[parameterCount];
            for (var i = 0; i < parameterCount; i++)
            {
                indexes[i] = raw.sqlite3_bind_parameter_index(created, "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            prepared = (created, indexes);
            _statements.Add(sql, prepared);
        }

        return prepared;
    }

    private sqlite3_stmt Bind(string sql, object?[] values)
    {
        var (statement, map) = Prepare(sql, values.Length);
        for (var i = 0; i < values.Length && i < map.Length; i++)
        {
            var index = map[i];
            if (index == 0)
            {
                continue;
            }

            var rc = values[i] switch
            {
                null => raw.sqlite3_bind_null(statement, index),
                long l => raw.sqlite3_bind_int64(statement, index, l),
                int n => raw.sqlite3_bind_int64(statement, index, n),
                string s => raw.sqlite3_bind_text16(statement, index, s),
                byte[] b => raw.sqlite3_bind_blob(statement, index, b),
                var other => throw new InvalidOperationException($"parameter @p{i}: no SQLite binding for {other.GetType().Name}"),
            };
            if (rc != raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }
        }

        return statement;
    }

    public void Dispose()
    {
        foreach (var (statement, _) in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
    }
}
