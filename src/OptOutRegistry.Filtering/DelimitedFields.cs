using System.Text;

namespace OptOutRegistry.Filtering;

/// <summary>Field splitting for CSV (RFC 4180: quoted fields, doubled quotes) and TSV (no quoting).</summary>
internal static class DelimitedFields
{
    /// <summary>
    /// Returns field <paramref name="index"/> of one record (line terminator already removed), or sets
    /// <paramref name="error"/> for a malformed quoted field or a record with too few fields.
    /// </summary>
    public static string? Get(ReadOnlySpan<byte> record, byte separator, bool quoted, int index, out string? error)
    {
        error = null;
        var field = 0;
        var pos = 0;
        while (true)
        {
            if (quoted && pos < record.Length && record[pos] == (byte)'"')
            {
                // Quoted field: "" is an escaped quote; the closing quote must be followed by the separator or the end.
                var builder = field == index ? new StringBuilder() : null;
                var i = pos + 1;
                var chunkStart = i;
                var bytes = new List<byte>();
                while (true)
                {
                    var q = record[i..].IndexOf((byte)'"');
                    if (q < 0)
                    {
                        error = $"field {field + 1}: unterminated quoted field";
                        return null;
                    }

                    i += q;
                    if (builder is not null) { bytes.AddRange(record[chunkStart..i]); }
                    if (i + 1 < record.Length && record[i + 1] == (byte)'"')
                    {
                        if (builder is not null) { bytes.Add((byte)'"'); }
                        i += 2;
                        chunkStart = i;
                        continue;
                    }

                    break;
                }

                var after = i + 1;
                if (after < record.Length && record[after] != separator)
                {
                    error = $"field {field + 1}: text after the closing quote";
                    return null;
                }

                if (field == index)
                {
                    return Encoding.UTF8.GetString(bytes.ToArray());
                }

                if (after >= record.Length) { break; }
                pos = after + 1;
                field++;
                continue;
            }

            var next = record[pos..].IndexOf(separator);
            var end = next < 0 ? record.Length : pos + next;
            if (field == index)
            {
                var value = record[pos..end];
                if (quoted && value.IndexOf((byte)'"') >= 0)
                {
                    error = $"field {field + 1}: a quote inside an unquoted field";
                    return null;
                }

                return Encoding.UTF8.GetString(value);
            }

            if (next < 0) { break; }
            pos = end + 1;
            field++;
        }

        error = $"has {field + 1} fields, the column is number {index + 1}";
        return null;
    }

    /// <summary>Index of a column in a header record, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<byte> header, byte separator, bool quoted, string name)
    {
        for (var i = 0; ; i++)
        {
            var value = Get(header, separator, quoted, i, out var error);
            if (value is null || error is not null) { return -1; }
            if (i == 0 && value.Length > 0 && value[0] == '\uFEFF') { value = value[1..]; }
            if (value == name) { return i; }
        }
    }
}
