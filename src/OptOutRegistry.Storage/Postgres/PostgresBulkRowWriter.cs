using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace OptOutRegistry.Storage.Postgres;

/// <summary>
/// Writes a batch's buffered rows with binary <c>COPY … FROM STDIN</c> inside the append transaction: one round trip
/// stream per table instead of a 32-row INSERT (and its hundreds of bound parameters) per round trip. Events, history
/// rows and Merkle nodes are copied into their tables directly: their keys are log sequences, which the append holds
/// the <c>log_head</c> row lock for, so they cannot collide. Reservations need the server to build their
/// <c>tsvector</c> (the same <c>to_tsvector('simple', …)</c> as a single insert, so search ranks identically) and must
/// skip an id registered meanwhile: they are copied into a temporary staging table, then moved with one
/// <c>INSERT … SELECT … ON CONFLICT (id) DO NOTHING</c>, whose row count the caller checks.
/// </summary>
internal sealed class PostgresBulkRowWriter(NpgsqlConnection connection) : RelationalRegistryStore.IBulkRowWriter
{
    private const string StageTable = "optout_reservation_stage";

    // The staging table lives for the append transaction only (ON COMMIT DROP): nothing is left in a pooled session.
    private const string CreateStage =
        "CREATE TEMP TABLE " + StageTable + " (id text, holder_id text, state bigint, state_changed_us bigint, registered_us bigint, "
        + "valid_from_us bigint, valid_until_us bigint, title text, creators text, identifiers text, language text, holder_name text, "
        + "payload bytea, created_seq bigint, last_seq bigint, search_a text, search_b text, search_c text, search_d text) ON COMMIT DROP";

    // Weights as in PostgresSchema's single-row insert: A title, B creators, C identifiers, D holder display name.
    private const string MoveStage =
        "INSERT INTO reservations (" + PostgresSchema.ReservationInsertColumns + ") SELECT id, holder_id, state, state_changed_us, registered_us, "
        + "valid_from_us, valid_until_us, title, creators, identifiers, language, holder_name, payload, created_seq, last_seq, "
        + "setweight(to_tsvector('simple', search_a), 'A') || setweight(to_tsvector('simple', search_b), 'B') || "
        + "setweight(to_tsvector('simple', search_c), 'C') || setweight(to_tsvector('simple', search_d), 'D') FROM " + StageTable
        + " ON CONFLICT (id) DO NOTHING";

    private const int ReservationWidth = 19;
    private bool _stageCreated;

    /// <inheritdoc/>
    public int MinimumRows => 64;

    /// <inheritdoc/>
    public async Task<int> WriteAsync(string table, string columns, int width, List<object?> values, CancellationToken ct)
    {
        if (!string.Equals(table, "reservations", StringComparison.Ordinal))
        {
            return await CopyAsync($"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)", width, values, ct).ConfigureAwait(false);
        }

        if (width != ReservationWidth)
        {
            throw new InvalidOperationException($"reservation rows have {width} values; the staging table takes {ReservationWidth}");
        }

        await using (var command = new NpgsqlCommand(_stageCreated ? "TRUNCATE " + StageTable : CreateStage, connection))
        {
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }

        _stageCreated = true;
        await CopyAsync($"COPY {StageTable} FROM STDIN (FORMAT BINARY)", width, values, ct).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(MoveStage, connection))
        {
            return await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task<int> CopyAsync(string copy, int width, List<object?> values, CancellationToken ct)
    {
        var rows = values.Count / width;
        await using var importer = await connection.BeginBinaryImportAsync(copy, ct).ConfigureAwait(false);
        for (var row = 0; row < rows; row++)
        {
            await importer.StartRowAsync(ct).ConfigureAwait(false);
            var first = row * width;
            for (var column = 0; column < width; column++)
            {
                // The value types the append path produces: bigint, text and bytea columns only.
                switch (values[first + column])
                {
                    case null:
                        await importer.WriteNullAsync(ct).ConfigureAwait(false);
                        break;
                    case long number:
                        await importer.WriteAsync(number, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
                        break;
                    case string text:
                        await importer.WriteAsync(text, NpgsqlDbType.Text, ct).ConfigureAwait(false);
                        break;
                    case byte[] bytes:
                        await importer.WriteAsync(bytes, NpgsqlDbType.Bytea, ct).ConfigureAwait(false);
                        break;
                    case var other:
                        throw new InvalidOperationException(
                            new StringBuilder("column ").Append(column).Append(" of a bulk row is a ").Append(other.GetType().Name)
                                .Append("; only long, string and byte[] are copied").ToString());
                }
            }
        }

        return (int)await importer.CompleteAsync(ct).ConfigureAwait(false);
    }
}
