namespace OptOutRegistry.Filtering;

/// <summary>Input formats <c>optout filter</c> reads; kept and removed records are written in the same format.</summary>
public enum RecordFormat
{
    /// <summary>JSON Lines: one JSON object per line; the URL (and text) taken from a dotted field path.</summary>
    JsonLines,

    /// <summary>RFC 4180 CSV with a header row; quoted fields may contain commas, quotes and newlines.</summary>
    Csv,

    /// <summary>IANA text/tab-separated-values with a header row (no quoting: fields contain no tab or newline).</summary>
    Tsv,

    /// <summary>WARC 1.0/1.1 records, plain or gzip (one member per record, as Common Crawl ships it).</summary>
    Warc,

    /// <summary>One URL per line.</summary>
    Urls,
}

/// <summary>Names and detection of <see cref="RecordFormat"/>.</summary>
public static class RecordFormats
{
    /// <summary>Parses a <c>--format</c> value (jsonl, csv, tsv, warc, urls).</summary>
    public static bool TryParse(string? name, out RecordFormat format)
    {
        switch (name?.ToLowerInvariant())
        {
            case "jsonl" or "json" or "ndjson": format = RecordFormat.JsonLines; return true;
            case "csv": format = RecordFormat.Csv; return true;
            case "tsv": format = RecordFormat.Tsv; return true;
            case "warc": format = RecordFormat.Warc; return true;
            case "urls" or "txt": format = RecordFormat.Urls; return true;
            default: format = default; return false;
        }
    }

    /// <summary>The <c>--format</c> name of a format.</summary>
    public static string ToName(this RecordFormat format) => format switch
    {
        RecordFormat.JsonLines => "jsonl",
        RecordFormat.Csv => "csv",
        RecordFormat.Tsv => "tsv",
        RecordFormat.Warc => "warc",
        _ => "urls",
    };

    /// <summary>
    /// Guesses the format from the file name (may be null for stdin) and the first bytes of the (decompressed) content:
    /// the extension wins when it names a format; otherwise <c>WARC/</c> means WARC, <c>{</c> JSON Lines, a first line
    /// starting with a URL scheme a URL list, a tab TSV and a comma CSV.
    /// </summary>
    public static RecordFormat Detect(string? fileName, ReadOnlySpan<byte> head)
    {
        if (fileName is not null)
        {
            var name = fileName.ToLowerInvariant();
            if (name.EndsWith(".gz", StringComparison.Ordinal))
            {
                name = name[..^3];
            }

            if (name.EndsWith(".warc", StringComparison.Ordinal) || name.EndsWith(".arc", StringComparison.Ordinal)) { return RecordFormat.Warc; }
            if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".ndjson", StringComparison.Ordinal)) { return RecordFormat.JsonLines; }
            if (name.EndsWith(".csv", StringComparison.Ordinal)) { return RecordFormat.Csv; }
            if (name.EndsWith(".tsv", StringComparison.Ordinal)) { return RecordFormat.Tsv; }
        }

        var trimmed = head;
        if (trimmed.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            trimmed = trimmed[3..];
        }

        if (trimmed.StartsWith("WARC/"u8)) { return RecordFormat.Warc; }
        var start = 0;
        while (start < trimmed.Length && (trimmed[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) { start++; }
        if (start < trimmed.Length && trimmed[start] == (byte)'{') { return RecordFormat.JsonLines; }
        var nl = trimmed.IndexOf((byte)'\n');
        var firstLine = nl < 0 ? trimmed : trimmed[..nl];
        if (firstLine.StartsWith("http://"u8) || firstLine.StartsWith("https://"u8)) { return RecordFormat.Urls; }
        if (firstLine.IndexOf((byte)'\t') >= 0) { return RecordFormat.Tsv; }
        if (firstLine.IndexOf((byte)',') >= 0) { return RecordFormat.Csv; }
        return RecordFormat.Urls;
    }
}
