using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints;

namespace OptOutRegistry.Filtering;

/// <summary>Options of one filter run.</summary>
public sealed class FilterOptions
{
    /// <summary>Input format; null to detect it from <see cref="InputName"/> and the first bytes.</summary>
    public RecordFormat? Format { get; init; }

    /// <summary>Input file name for detection and the report; null or "-" for stdin.</summary>
    public string? InputName { get; init; }

    /// <summary>Where the URL is: a dotted JSON path, or a CSV/TSV column name. Ignored for WARC and URL lists.</summary>
    public FieldPath UrlField { get; init; } = new("url");

    /// <summary>Optional content field (JSON path or column) fingerprinted as UTF-8 text.</summary>
    public FieldPath? TextField { get; init; }

    /// <summary>The intended use checked.</summary>
    public UsageCategory Purpose { get; init; } = UsageCategory.TrainAi;

    /// <summary>The instant to answer for; null for now.</summary>
    public DateTimeOffset? AsOf { get; init; }

    /// <summary>Fail on the first malformed record instead of skipping it.</summary>
    public bool Strict { get; init; }

    /// <summary>Records larger than this are rejected (memory stays bounded whatever the input).</summary>
    public int MaxRecordBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>Called about every 250 ms with (records read, input bytes read).</summary>
    public Action<long, long>? Progress { get; init; }

    /// <summary>Resolves a holder's display name for the report.</summary>
    public Func<string, string?>? HolderName { get; init; }
}

/// <summary>A malformed record under <see cref="FilterOptions.Strict"/>, or an unusable input (no URL column).</summary>
public sealed class FilterException(string message) : Exception(message);

/// <summary>
/// <c>optout filter</c>: reads records, checks each URL (and content fingerprints) against the registry, and writes
/// every record either to the kept or to the removed output, byte for byte as read, or rejects it as malformed.
/// kept + removed + rejected = records read is asserted at the end of every run.
/// </summary>
public static class DatasetFilter
{
    /// <summary>Runs the filter. Outputs are flushed but not closed.</summary>
    /// <exception cref="FilterException">Strict mode met a malformed record, or the input cannot be filtered.</exception>
    public static FilterReport Run(Stream input, Stream kept, Stream removed, IFilterChecker checker, FilterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(kept);
        ArgumentNullException.ThrowIfNull(removed);
        ArgumentNullException.ThrowIfNull(checker);
        ArgumentNullException.ThrowIfNull(options);
        var counting = new CountingStream(input);
        var report = new FilterReport
        {
            Input = options.InputName ?? "-",
            Purpose = options.Purpose.ToWireName(),
            AsOf = options.AsOf,
            StartedAt = DateTimeOffset.UtcNow,
            Registry = checker.State,
        };

        // Sniff: gzip magic (RFC 1952 §2.3.1) means decompress; .NET's GZipStream reads every member of a multi-member file.
        var head = new byte[4096];
        var headLength = ReadAtLeast(counting, head);
        Stream source = new PrefixStream(head.AsMemory(0, headLength), counting);
        var gzip = headLength >= 2 && head[0] == 0x1F && head[1] == 0x8B;
        if (gzip)
        {
            var decompressed = new GZipStream(source, CompressionMode.Decompress);
            var innerHead = new byte[4096];
            var innerLength = ReadAtLeast(decompressed, innerHead);
            source = new PrefixStream(innerHead.AsMemory(0, innerLength), decompressed);
            head = innerHead;
            headLength = innerLength;
        }

        var format = options.Format ?? RecordFormats.Detect(options.InputName is null or "-" ? null : options.InputName, head.AsSpan(0, headLength));
        if (gzip && format != RecordFormat.Warc)
        {
            throw new FilterException($"input: gzip is read for WARC only; decompress {format.ToName()} input first (gzip -dc FILE | optout filter --input - ...)");
        }

        report.Format = format.ToName() + (gzip ? "+gzip" : string.Empty);
        var state = new RunState(checker, options, report, counting, kept, removed, gzip, cancellationToken);
        switch (format)
        {
            case RecordFormat.Warc:
                RunWarc(source, state);
                break;
            case RecordFormat.Csv or RecordFormat.Tsv:
                RunDelimited(source, state, format == RecordFormat.Csv ? (byte)',' : (byte)'\t', format == RecordFormat.Csv);
                break;
            default:
                RunLines(source, state, format == RecordFormat.JsonLines);
                break;
        }

        kept.Flush();
        removed.Flush();
        report.FinishedAt = DateTimeOffset.UtcNow;
        state.FinishHolders();
        if (report.Kept + report.Removed + report.Rejected != report.InputRecords)
        {
            throw new UnreachableException($"filter: kept {report.Kept} + removed {report.Removed} + rejected {report.Rejected} != {report.InputRecords} records read");
        }

        options.Progress?.Invoke(report.InputRecords, counting.BytesRead);
        return report;
    }

    private static void RunLines(Stream source, RunState state, bool json)
    {
        var splitter = new RecordSplitter(source, quoteAware: false, state.Options.MaxRecordBytes);
        while (splitter.TryRead(out var record, out var tooLong))
        {
            state.Tick();
            if (tooLong)
            {
                state.Reject(splitter.LineNumber, $"record longer than {splitter.MaxRecordBytes} bytes");
                continue;
            }

            var line = TrimEol(record.Span);
            string? url, text = null;
            if (json)
            {
                var error = FieldPath.Extract(line, state.Options.UrlField, state.Options.TextField, out url, out text);
                if (error is not null)
                {
                    state.Reject(splitter.LineNumber, error);
                    continue;
                }

                if (string.IsNullOrEmpty(url))
                {
                    state.Reject(splitter.LineNumber, $"no '{state.Options.UrlField.Text}' string field");
                    continue;
                }
            }
            else
            {
                var trimmed = line.Trim((byte)' ').Trim((byte)'\t');
                if (trimmed.IsEmpty)
                {
                    state.Reject(splitter.LineNumber, "empty line");
                    continue;
                }

                url = Encoding.UTF8.GetString(trimmed);
            }

            state.Decide(record.Span, url, text);
        }
    }

    private static void RunDelimited(Stream source, RunState state, byte separator, bool quoted)
    {
        var splitter = new RecordSplitter(source, quoteAware: quoted, state.Options.MaxRecordBytes);
        if (!splitter.TryRead(out var header, out var headerTooLong) || headerTooLong)
        {
            if (headerTooLong) { throw new FilterException("input: the header row is too long"); }
            return;
        }

        var headerLine = TrimEol(header.Span);
        var urlColumn = DelimitedFields.IndexOf(headerLine, separator, quoted, state.Options.UrlField.Text);
        if (urlColumn < 0)
        {
            throw new FilterException($"input: the header row has no '{state.Options.UrlField.Text}' column (use --url-field)");
        }

        var textColumn = -1;
        if (state.Options.TextField is { } tf)
        {
            textColumn = DelimitedFields.IndexOf(headerLine, separator, quoted, tf.Text);
            if (textColumn < 0)
            {
                throw new FilterException($"input: the header row has no '{tf.Text}' column (--text-field)");
            }
        }

        // Both outputs get the header, so each is a valid file of the same format on its own.
        state.Kept.Write(header.Span);
        state.Removed.Write(header.Span);
        while (splitter.TryRead(out var record, out var tooLong))
        {
            state.Tick();
            if (tooLong)
            {
                state.Reject(splitter.LineNumber, $"record longer than {splitter.MaxRecordBytes} bytes");
                continue;
            }

            var line = TrimEol(record.Span);
            if (line.IsEmpty)
            {
                state.Reject(splitter.LineNumber, "empty line");
                continue;
            }

            var url = DelimitedFields.Get(line, separator, quoted, urlColumn, out var error);
            if (error is not null || string.IsNullOrWhiteSpace(url))
            {
                state.Reject(splitter.LineNumber, error ?? $"column '{state.Options.UrlField.Text}' is empty");
                continue;
            }

            string? text = null;
            if (textColumn >= 0)
            {
                text = DelimitedFields.Get(line, separator, quoted, textColumn, out error);
                if (error is not null)
                {
                    state.Reject(splitter.LineNumber, error);
                    continue;
                }
            }

            state.Decide(record.Span, url.Trim(), text);
        }
    }

    private static void RunWarc(Stream source, RunState state)
    {
        var reader = new WarcReader(source, state.Options.MaxRecordBytes);
        while (reader.TryRead(out var record))
        {
            state.Tick();
            if (record.Error is not null)
            {
                state.Reject(record.LineNumber, record.Error);
                continue;
            }

            var payload = record.Raw.Span.Slice(record.PayloadOffset, record.PayloadLength);
            var hasContent = record.Type is "response" or "resource" or "conversion" && payload.Length > 0;
            state.DecideWarc(record.Raw.Span, record.TargetUri, hasContent ? payload : default, record.PayloadIsText);
        }
    }

    private static ReadOnlySpan<byte> TrimEol(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\n') { line = line[..^1]; }
        if (line.Length > 0 && line[^1] == (byte)'\r') { line = line[..^1]; }
        return line;
    }

    private static int ReadAtLeast(Stream stream, byte[] buffer)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException ex)
        {
            throw new FilterException($"input: not valid gzip: {ex.Message}");
        }
    }

    private sealed class RunState(IFilterChecker checker, FilterOptions options, FilterReport report, CountingStream counting, Stream kept, Stream removed, bool gzip, CancellationToken cancellationToken)
    {
        private readonly Dictionary<string, (long Removed, SortedDictionary<string, long> Kinds)> _holders = new(StringComparer.Ordinal);
        private readonly HashSet<string> _recordHolders = new(StringComparer.Ordinal);
        private readonly HashSet<string> _recordKinds = new(StringComparer.Ordinal);
        private readonly HashSet<string> _recordSignals = new(StringComparer.Ordinal);
        private readonly HashSet<(string Holder, string Kind)> _recordHolderKinds = [];
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private ContentFingerprinter? _textFingerprinter;
        private ContentFingerprinter? _binaryFingerprinter;
        private long _nextProgress;

        public FilterOptions Options => options;

        public Stream Kept => kept;

        public Stream Removed => removed;

        public void Tick()
        {
            report.InputRecords++;
            if ((report.InputRecords & 4095) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (options.Progress is not null && _clock.ElapsedMilliseconds >= _nextProgress)
                {
                    _nextProgress = _clock.ElapsedMilliseconds + 250;
                    options.Progress(report.InputRecords, counting.BytesRead);
                }
            }
        }

        public void Reject(long line, string reason)
        {
            if (options.Strict)
            {
                throw new FilterException($"input line {line}: {reason} (--strict)");
            }

            report.Rejected++;
            Count(report.ByVerdict, "rejected");
            if (report.RejectedRecords.Count < FilterReport.MaxRejectedListed)
            {
                report.RejectedRecords.Add(new RejectedRecord(line, reason));
            }
        }

        public void Decide(ReadOnlySpan<byte> raw, string url, string? text)
        {
            BeginRecord();
            var verdict = CheckOne(CheckQuery.Url(url, options.Purpose, options.AsOf), "url");
            if (!string.IsNullOrEmpty(text))
            {
                _textFingerprinter ??= new ContentFingerprinter(text: true);
                var bytes = Encoding.UTF8.GetBytes(text);
                _textFingerprinter.Append(bytes);
                var prints = _textFingerprinter.GetResultAndReset();
                verdict = verdict.MostRestrictive(CheckOne(CheckQuery.Sha256(prints.Sha256, options.Purpose, options.AsOf), "sha256"));
                verdict = verdict.MostRestrictive(CheckOne(CheckQuery.Iscc(prints.TextCode!.Iscc, options.Purpose, options.AsOf), "iscc"));
            }

            Write(raw, verdict, asGzipMember: false);
        }

        public void DecideWarc(ReadOnlySpan<byte> raw, string? url, ReadOnlySpan<byte> payload, bool isText)
        {
            BeginRecord();
            var verdict = Verdict.Unknown;
            if (!string.IsNullOrEmpty(url))
            {
                verdict = CheckOne(CheckQuery.Url(url, options.Purpose, options.AsOf), "url");
            }

            if (!payload.IsEmpty)
            {
                var fingerprinter = isText ? (_textFingerprinter ??= new ContentFingerprinter(text: true)) : (_binaryFingerprinter ??= new ContentFingerprinter(text: false));
                fingerprinter.Append(payload);
                var prints = fingerprinter.GetResultAndReset();
                verdict = verdict.MostRestrictive(CheckOne(CheckQuery.Sha256(prints.Sha256, options.Purpose, options.AsOf), "sha256"));
                var iscc = prints.TextCode?.Iscc ?? prints.DataCode;
                verdict = verdict.MostRestrictive(CheckOne(CheckQuery.Iscc(iscc, options.Purpose, options.AsOf), "iscc"));
            }

            Write(raw, verdict, asGzipMember: gzip);
        }

        private void BeginRecord()
        {
            _recordHolders.Clear();
            _recordKinds.Clear();
            _recordSignals.Clear();
            _recordHolderKinds.Clear();
        }

        private static string KindName(SelectorKind kind) => kind switch
        {
            SelectorKind.Url => "url",
            SelectorKind.Prefix => "prefix",
            SelectorKind.Pattern => "pattern",
            SelectorKind.Host => "host",
            SelectorKind.Domain => "domain",
            SelectorKind.Sha256 => "sha256",
            SelectorKind.Iscc => "iscc",
            _ => "identifier",
        };

        private Verdict CheckOne(in CheckQuery query, string signal)
        {
            var result = checker.Check(query);
            if (result.Verdict == Verdict.Disallowed)
            {
                _recordSignals.Add(signal);
                foreach (var match in result.Matches)
                {
                    if (match.IsDeciding && match.Permission == UsagePermission.Disallow)
                    {
                        _recordHolders.Add(match.HolderId);
                        var kind = KindName(match.SelectorKind);
                        _recordKinds.Add(kind);
                        _recordHolderKinds.Add((match.HolderId, kind));
                    }
                }
            }

            return result.Verdict;
        }

        private void Write(ReadOnlySpan<byte> raw, Verdict verdict, bool asGzipMember)
        {
            var isRemoved = verdict == Verdict.Disallowed;
            var output = isRemoved ? removed : kept;
            if (asGzipMember)
            {
                // One gzip member per record, as Common Crawl writes WARC files (the decompressed bytes are identical).
                using var member = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
                member.Write(raw);
            }
            else
            {
                output.Write(raw);
            }

            Count(report.ByVerdict, verdict.ToString().ToLowerInvariant());
            if (!isRemoved)
            {
                report.Kept++;
                return;
            }

            report.Removed++;
            foreach (var kind in _recordKinds) { Count(report.BySelectorKind, kind); }
            foreach (var signal in _recordSignals) { Count(report.BySignal, signal); }
            foreach (var holder in _recordHolders)
            {
                if (!_holders.TryGetValue(holder, out var entry))
                {
                    entry = (0, new SortedDictionary<string, long>(StringComparer.Ordinal));
                }

                _holders[holder] = (entry.Removed + 1, entry.Kinds);
            }

            foreach (var (holder, kind) in _recordHolderKinds)
            {
                Count(_holders[holder].Kinds, kind);
            }
        }

        public void FinishHolders()
        {
            foreach (var (holder, (count, kinds)) in _holders.OrderByDescending(h => h.Value.Removed).ThenBy(h => h.Key, StringComparer.Ordinal))
            {
                report.ByHolder.Add(new HolderCount(holder, options.HolderName?.Invoke(holder), count, kinds));
            }
        }

        private static void Count(SortedDictionary<string, long> counts, string key)
        {
            counts[key] = counts.TryGetValue(key, out var n) ? n + 1 : 1;
        }
    }
}
