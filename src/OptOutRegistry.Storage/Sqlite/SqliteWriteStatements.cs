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

    private sqlite3_stmt Bind(string sql, object?[] values)
    {
        if (!_statements.TryGetValue(sql, out var prepared))
        {
            var rc = raw.sqlite3_prepare_v2(_db, sql, out var created);
            if (rc != raw.SQLITE_OK)
            {
                SqliteException.ThrowExceptionForRC(rc, _db);
            }

            // Values are @p0..@pN by position in the values array; SQLite numbers parameters by first appearance.
            var indexes = new int[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                indexes[i] = raw.sqlite3_bind_parameter_index(created, "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            prepared = (created, indexes);
            _statements.Add(sql, prepared);
        }

        var (statement, map) = prepared;
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
