using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Filtering;

/// <summary>Options of one filter run.</summary>
public sealed record FilterOptions
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

    /// <summary>Resolves a holder's display name for the report when the checker's answers carry none.</summary>
    public Func<string, string?>? HolderName { get; init; }

    /// <summary>Batches parsed and checked at once; 0 for the checker's <see cref="IFilterChecker.Concurrency"/>.</summary>
    public int Workers { get; init; }

    /// <summary>
    /// Most records per pipeline batch for CSV, TSV and WARC (the unit handed between stages and sent to a server in one
    /// request). JSON Lines and URL lists are read as blocks of <see cref="BatchBytes"/> and split by the workers.
    /// </summary>
    public int BatchRecords { get; init; } = 4096;

    /// <summary>
    /// Bytes per pipeline batch: a batch closes before exceeding it unless one record is larger. For JSON Lines and URL
    /// lists, the size of the blocks the reader cuts after their last LF.
    /// </summary>
    public int BatchBytes { get; init; } = 1 << 20;
}


/// <summary>A malformed record under <see cref="FilterOptions.Strict"/>, or an unusable input (no URL column).</summary>
public sealed class FilterException(string message) : Exception(message);

/// <summary>
/// <c>optout filter</c>: reads records, checks each URL (and content fingerprints) against the registry, and writes
/// every record either to the kept or to the removed output, byte for byte as read, or rejects it as malformed.
/// kept + removed + rejected = records read is asserted at the end of every run.
/// </summary>
/// <remarks>
/// Three stages joined by channels (docs/filtering.md "Pipeline and memory"): one reader (for JSON Lines and URL lists
/// only blocks of bytes cut after their last LF; for CSV, TSV and WARC records gathered into batches),
/// <see cref="FilterOptions.Workers"/> workers (splitting blocks, parsing, fingerprinting, canonicalising and checking a
/// whole batch at a time) and one writer (outputs in input order, counts). Batches come from a fixed pool, so memory is
/// bounded by pool size × batch size whatever the input size.
/// </remarks>
public static class DatasetFilter
{
    /// <summary>Runs the filter. Outputs are flushed but not closed.</summary>
    /// <exception cref="FilterException">Strict mode met a malformed record, or the input cannot be filtered.</exception>
    public static FilterReport Run(Stream input, Stream kept, Stream removed, IFilterChecker checker, FilterOptions options, CancellationToken cancellationToken = default) =>
        RunAsync(input, kept, removed, checker, options, cancellationToken).GetAwaiter().GetResult();

    /// <summary>Runs the filter. Outputs are flushed but not closed.</summary>
    /// <exception cref="FilterException">Strict mode met a malformed record, or the input cannot be filtered.</exception>
    public static async Task<FilterReport> RunAsync(Stream input, Stream kept, Stream removed, IFilterChecker checker, FilterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(kept);
        ArgumentNullException.ThrowIfNull(removed);
        ArgumentNullException.ThrowIfNull(checker);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchRecords, 1);
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
        GzipMemberTracker? members = null;
        if (gzip)
        {
            members = new GzipMemberTracker(source, options.MaxRecordBytes);
            var decompressed = new GZipStream(members, CompressionMode.Decompress);
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
        var plan = new Plan(format, options, gzip);
        RecordSplitter? splitter = null;
        WarcReader? warc = null;
        if (format == RecordFormat.Warc)
        {
            warc = new WarcReader(source, options.MaxRecordBytes);
        }
        else if (!plan.Blocks)
        {
            splitter = new RecordSplitter(source, quoteAware: format == RecordFormat.Csv, options.MaxRecordBytes);
            if (format is RecordFormat.Csv or RecordFormat.Tsv && !ReadHeader(splitter, plan, kept, removed))
            {
                return Finish(report, checker, counting, options, new Tally(options), kept, removed);
            }
        }

        var workers = options.Workers > 0 ? options.Workers : Math.Max(1, checker.Concurrency);
        var poolSize = (2 * workers) + 2;
        var pool = Channel.CreateBounded<RecordBatch>(poolSize);
        for (var i = 0; i < poolSize; i++)
        {
            pool.Writer.TryWrite(new RecordBatch(options.BatchRecords, options.BatchBytes, format == RecordFormat.Warc));
        }

        var work = Channel.CreateUnbounded<RecordBatch>(new UnboundedChannelOptions { SingleWriter = true });
        var order = Channel.CreateUnbounded<RecordBatch>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stop.Token;
        var readerTask = plan.Blocks
            ? Task.Run(() => ReadBlocksAsync(source, plan, pool.Reader, work.Writer, order.Writer, token), CancellationToken.None)
            : Task.Run(() => ReadAsync(splitter, warc, members, plan, pool.Reader, work.Writer, order.Writer, token), CancellationToken.None);
        var workerTasks = new Task[workers];
        for (var i = 0; i < workers; i++)
        {
            workerTasks[i] = Task.Run(() => WorkAsync(plan, checker, work.Reader, token), CancellationToken.None);
        }

        var tally = new Tally(options);
        try
        {
            await WriteAsync(order.Reader, pool.Writer, plan, tally, report, counting, kept, removed, token).ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll([readerTask, .. workerTasks]).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The writer saw (and rethrows) the failure that ended the run; the others only stopped.
            }
        }

        return Finish(report, checker, counting, options, tally, kept, removed);
    }

    private static FilterReport Finish(FilterReport report, IFilterChecker checker, CountingStream counting, FilterOptions options, Tally tally, Stream kept, Stream removed)
    {
        kept.Flush();
        removed.Flush();
        report.FinishedAt = DateTimeOffset.UtcNow;
        report.Registry = checker.State;
        tally.CopyTo(report);
        if (report.Kept + report.Removed + report.Rejected != report.InputRecords)
        {
            throw new UnreachableException($"filter: kept {report.Kept} + removed {report.Removed} + rejected {report.Rejected} != {report.InputRecords} records read");
        }

        options.Progress?.Invoke(report.InputRecords, counting.BytesRead);
        return report;
    }

    private static bool ReadHeader(RecordSplitter splitter, Plan plan, Stream kept, Stream removed)
    {
        if (!splitter.TryRead(out var header, out var headerTooLong))
        {
            return false;
        }

        if (headerTooLong)
        {
            throw new FilterException("input: the header row is too long");
        }

        var headerLine = TrimEol(header.Span);
        plan.UrlColumn = DelimitedFields.IndexOf(headerLine, plan.Separator, plan.Quoted, plan.Options.UrlField.Text);
        if (plan.UrlColumn < 0)
        {
            throw new FilterException($"input: the header row has no '{plan.Options.UrlField.Text}' column (use --url-field)");
        }

        if (plan.Options.TextField is { } tf)
        {
            plan.TextColumn = DelimitedFields.IndexOf(headerLine, plan.Separator, plan.Quoted, tf.Text);
            if (plan.TextColumn < 0)
            {
                throw new FilterException($"input: the header row has no '{tf.Text}' column (--text-field)");
            }
        }

        // Both outputs get the header, so each is a valid file of the same format on its own.
        kept.Write(header.Span);
        removed.Write(header.Span);
        return true;
    }

    // Stage 1: records into batches, in input order; the order channel gets each batch before the workers do.
    private static async Task ReadAsync(RecordSplitter? splitter, WarcReader? warc, GzipMemberTracker? members, Plan plan,
        ChannelReader<RecordBatch> pool, ChannelWriter<RecordBatch> work, ChannelWriter<RecordBatch> order, CancellationToken token)
    {
        Exception? failure = null;
        try
        {
            var batch = await pool.ReadAsync(token).ConfigureAwait(false);
            var tooLong = $"record longer than {plan.Options.MaxRecordBytes} bytes";
            while (true)
            {
                int length;
                if (splitter is not null)
                {
                    if (!splitter.TryRead(out var record, out var isTooLong))
                    {
                        break;
                    }

                    length = record.Length;
                    if (batch.IsFull(length))
                    {
                        await DispatchAsync(batch, work, order, token).ConfigureAwait(false);
                        batch = await pool.ReadAsync(token).ConfigureAwait(false);
                    }

                    batch.Add(record.Span, splitter.LineNumber, isTooLong ? tooLong : null);
                }
                else
                {
                    if (!warc!.TryRead(out var record))
                    {
                        break;
                    }

                    length = record.Raw.Length;
                    if (batch.IsFull(length))
                    {
                        await DispatchAsync(batch, work, order, token).ConfigureAwait(false);
                        batch = await pool.ReadAsync(token).ConfigureAwait(false);
                    }

                    var index = batch.Add(record.Raw.Span, record.LineNumber, record.Error);
                    batch.Warc![index] = new WarcMeta(record.Type, record.TargetUri, record.PayloadOffset, record.PayloadLength, record.PayloadIsText);
                    if (members is not null)
                    {
                        // A record too large to hold has no bytes here, so its member cannot be matched: tracking stops.
                        if (record.Raw.IsEmpty && record.Error is not null)
                        {
                            members.TryTakeMember(-1, out _);
                        }
                        else if (members.TryTakeMember(record.Raw.Length, out var member))
                        {
                            batch.SetMember(index, member);
                        }
                    }
                }
            }

            if (batch.Count > 0)
            {
                await DispatchAsync(batch, work, order, token).ConfigureAwait(false);
            }
        }
        catch (InvalidDataException ex)
        {
            failure = new FilterException($"input: not valid gzip: {ex.Message}");
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            work.TryComplete(failure);
            order.TryComplete(failure);
        }
    }

    // Stage 1 for line formats (JSON Lines, URL lists): big blocks straight from the input, cut after their last LF (the
    // partial line after it starts the next block). No per-record work here: the workers split their own blocks, so
    // splitting, parsing and checking all scale with the workers and the reader only moves bytes.
    private static async Task ReadBlocksAsync(Stream source, Plan plan, ChannelReader<RecordBatch> pool, ChannelWriter<RecordBatch> work,
        ChannelWriter<RecordBatch> order, CancellationToken token)
    {
        Exception? failure = null;
        try
        {
            var max = plan.Options.MaxRecordBytes;
            var blockBytes = plan.Options.BatchBytes;
            var carry = new byte[64 * 1024];
            var carryLength = 0;
            var eof = false;
            while (!eof || carryLength > 0)
            {
                var batch = await pool.ReadAsync(token).ConfigureAwait(false);
                batch.BeginBlock(carry.AsSpan(0, carryLength), blockBytes);
                carryLength = 0;
                while (!eof && batch.DataLength < blockBytes)
                {
                    eof = !batch.ReadFrom(source, blockBytes - batch.DataLength);
                }

                var lastLf = batch.Data.AsSpan(0, batch.DataLength).LastIndexOf((byte)'\n');
                while (lastLf < 0 && !eof && batch.DataLength <= max)
                {
                    // One record longer than the block: read on (the buffer grows) until its LF, the end, or the bound.
                    var before = batch.DataLength;
                    eof = !batch.ReadFrom(source, Math.Max(blockBytes, before), growUpTo: max + 1);
                    var lf = batch.Data.AsSpan(before, batch.DataLength - before).LastIndexOf((byte)'\n');
                    lastLf = lf < 0 ? -1 : before + lf;
                }

                if (lastLf < 0 && !eof)
                {
                    // Longer than --max-record-bytes: skip to its end without holding it; the rest of that read is carried.
                    carryLength = SkipToLineEnd(source, batch.Data, ref eof, ref carry);
                    batch.ResetData();
                    batch.Add([], 1, $"record longer than {max} bytes");
                }
                else if (!eof)
                {
                    var tail = batch.Data.AsSpan(lastLf + 1, batch.DataLength - lastLf - 1);
                    if (carry.Length < tail.Length)
                    {
                        carry = new byte[Math.Max(carry.Length * 2, tail.Length)];
                    }

                    tail.CopyTo(carry);
                    carryLength = tail.Length;
                    batch.EndBlock(lastLf + 1);
                }
                else
                {
                    batch.EndBlock(batch.DataLength);
                }

                if (batch.DataLength == 0 && batch.Count == 0)
                {
                    break;
                }

                await DispatchAsync(batch, work, order, token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            work.TryComplete(failure);
            order.TryComplete(failure);
        }
    }

    // Reads (into buffer) up to and including the next LF; returns how many bytes after it were read, copied to carry.
    private static int SkipToLineEnd(Stream source, byte[] buffer, ref bool eof, ref byte[] carry)
    {
        while (true)
        {
            var n = source.Read(buffer, 0, buffer.Length);
            if (n == 0)
            {
                eof = true;
                return 0;
            }

            var lf = buffer.AsSpan(0, n).IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var rest = buffer.AsSpan(lf + 1, n - lf - 1);
                if (carry.Length < rest.Length)
                {
                    carry = new byte[rest.Length];
                }

                rest.CopyTo(carry);
                return rest.Length;
            }
        }
    }

    private static async ValueTask DispatchAsync(RecordBatch batch, ChannelWriter<RecordBatch> work, ChannelWriter<RecordBatch> order, CancellationToken token)
    {
        await order.WriteAsync(batch, token).ConfigureAwait(false);
        await work.WriteAsync(batch, token).ConfigureAwait(false);
    }

    // Stage 2: parse, fingerprint and check whole batches; several run at once.
    private static async Task WorkAsync(Plan plan, IFilterChecker checker, ChannelReader<RecordBatch> work, CancellationToken token)
    {
        var worker = new Worker(plan);
        try
        {
            await foreach (var batch in work.ReadAllAsync(token).ConfigureAwait(false))
            {
                try
                {
                    worker.Parse(batch);
                    await checker.CheckAsync(batch.Checks, token).ConfigureAwait(false);
                    worker.Decide(batch);
                    batch.Done.TrySetResult();
                }
                catch (Exception ex)
                {
                    batch.Done.TrySetException(ex);
                }
            }
        }
        finally
        {
            worker.Dispose();
        }
    }

    // Stage 3: outputs in input order, counts, progress; batches go back to the pool.
    private static async Task WriteAsync(ChannelReader<RecordBatch> order, ChannelWriter<RecordBatch> pool, Plan plan, Tally tally, FilterReport report,
        CountingStream counting, Stream kept, Stream removed, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        var nextProgress = 250L;
        var lines = 0L;
        await foreach (var batch in order.ReadAllAsync(token).ConfigureAwait(false))
        {
            await batch.Done.Task.ConfigureAwait(false);
            if (plan.Blocks)
            {
                // Block batches number their lines from 1; each record is one line.
                batch.LineBase = lines;
                lines += batch.Count;
            }

            tally.Write(batch, plan, report, kept, removed);
            batch.Reset();
            pool.TryWrite(batch);
            if (plan.Options.Progress is not null && clock.ElapsedMilliseconds >= nextProgress)
            {
                nextProgress = clock.ElapsedMilliseconds + 250;
                plan.Options.Progress(report.InputRecords, counting.BytesRead);
            }
        }
    }

    internal static ReadOnlySpan<byte> TrimEol(ReadOnlySpan<byte> line)
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
}

/// <summary>What every stage needs to know about the run.</summary>
internal sealed class Plan(RecordFormat format, FilterOptions options, bool gzip)
{
    public RecordFormat Format => format;

    public FilterOptions Options => options;

    public bool Gzip => gzip;

    /// <summary>
    /// Line formats read as blocks split by the workers (one record per line, no quoting). CSV (quoted newlines), TSV
    /// (a header row read first) and WARC keep the record reader.
    /// </summary>
    public bool Blocks => format is RecordFormat.JsonLines or RecordFormat.Urls;

    public byte Separator => format == RecordFormat.Csv ? (byte)',' : (byte)'\t';

    public bool Quoted => format == RecordFormat.Csv;

    public int UrlColumn { get; set; } = -1;

    public int TextColumn { get; set; } = -1;
}

/// <summary>What the WARC reader found out about a record.</summary>
internal readonly record struct WarcMeta(string? Type, string? TargetUri, int PayloadOffset, int PayloadLength, bool PayloadIsText);

/// <summary>A removal's provenance: record, holder, selector kind and the signal (url, sha256, iscc) that caught it.</summary>
internal readonly record struct Attribution(int Record, string HolderId, string? HolderName, SelectorKind Kind, int Signal);

/// <summary>One unit of work: up to <see cref="FilterOptions.BatchRecords"/> records' bytes and, later, their verdicts.</summary>
internal sealed class RecordBatch
{
    private readonly int _capacity;
    private readonly int _bytes;

    public RecordBatch(int capacity, int bytes, bool warc)
    {
        _capacity = capacity;
        _bytes = bytes;
        Data = new byte[bytes + (64 * 1024)];
        AllocateRecordArrays(capacity);
        if (warc)
        {
            Warc = new WarcMeta[capacity];
            MemberStart = new int[capacity];
            MemberLength = new int[capacity];
            Members = new byte[bytes];
        }
    }

    /// <summary>A block read whole (line formats): the worker splits it into records.</summary>
    public bool NeedsSplit { get; private set; }

    /// <summary>Lines before this batch's first record (block batches number their records 1.. relative to it).</summary>
    public long LineBase { get; set; }

    public byte[] Data { get; private set; }

    public int DataLength { get; private set; }

    public int Count { get; private set; }

    public int[] Start { get; private set; }

    public int[] Length { get; private set; }

    public long[] Line { get; private set; }

    public string?[] Reason { get; private set; }

    public Verdict[] Verdicts { get; private set; }

    public int[] SubjectStart { get; private set; }

    public int[] SubjectCount { get; private set; }

    public WarcMeta[]? Warc { get; }

    public byte[]? Members { get; private set; }

    public int MembersLength { get; private set; }

    public int[]? MemberStart { get; }

    public int[]? MemberLength { get; }

    public FilterCheckBatch Checks { get; } = new();

    public List<Attribution> Attributions { get; } = [];

    public TaskCompletionSource Done { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ReadOnlySpan<byte> Record(int index) => Data.AsSpan(Start[index], Length[index]);

    public bool IsFull(int nextLength) => Count == _capacity || (Count > 0 && DataLength + nextLength > _bytes);

    /// <summary>Starts a block with the partial line carried over from the previous one.</summary>
    public void BeginBlock(ReadOnlySpan<byte> carry, int blockBytes)
    {
        var room = Math.Max(blockBytes, carry.Length) + (64 * 1024);
        if (Data.Length < room)
        {
            Data = new byte[room];
        }

        carry.CopyTo(Data);
        DataLength = carry.Length;
    }

    /// <summary>
    /// Reads once, at most <paramref name="count"/> bytes, from <paramref name="source"/> after the data, growing the
    /// buffer up to <paramref name="growUpTo"/> bytes when full; false at the end.
    /// </summary>
    public bool ReadFrom(Stream source, int count, int growUpTo = 0)
    {
        if (DataLength == Data.Length && growUpTo > Data.Length)
        {
            var grown = new byte[(int)Math.Min((long)Data.Length * 2, growUpTo)];
            Data.AsSpan(0, DataLength).CopyTo(grown);
            Data = grown;
        }

        var n = source.Read(Data, DataLength, Math.Min(count, Data.Length - DataLength));
        DataLength += n;
        return n > 0;
    }

    /// <summary>Drops the bytes read (a record too long to hold).</summary>
    public void ResetData() => DataLength = 0;

    /// <summary>Ends a block at <paramref name="length"/> bytes (after its last LF); the worker splits it.</summary>
    public void EndBlock(int length)
    {
        DataLength = length;
        NeedsSplit = length > 0;
    }

    /// <summary>Splits a block into its lines (worker side): each record is one line, LF included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the per-record loop: fully optimised from the first block (a run is seconds; tier-0 code would run much of it)
    public void Split(int maxRecordBytes, string tooLong)
    {
        var data = Data.AsSpan(0, DataLength);
        var position = 0;
        while (position < data.Length)
        {
            var lf = data[position..].IndexOf((byte)'\n');
            var length = lf < 0 ? data.Length - position : lf + 1;
            if (Count == Start.Length)
            {
                Grow();
            }

            var i = Count++;
            Start[i] = position;
            Length[i] = length;
            Line[i] = i + 1;
            Reason[i] = length > maxRecordBytes ? tooLong : null;
            Verdicts[i] = Verdict.Unknown;
            SubjectStart[i] = 0;
            SubjectCount[i] = 0;
            position += length;
        }

        NeedsSplit = false;
    }

    private void Grow()
    {
        var n = Start.Length * 2;
        Start = Resized(Start, n);
        Length = Resized(Length, n);
        Line = Resized(Line, n);
        Reason = Resized(Reason, n);
        Verdicts = Resized(Verdicts, n);
        SubjectStart = Resized(SubjectStart, n);
        SubjectCount = Resized(SubjectCount, n);
    }

    private static T[] Resized<T>(T[] array, int length)
    {
        Array.Resize(ref array, length);
        return array;
    }

    public int Add(ReadOnlySpan<byte> record, long line, string? reason)
    {
        if (DataLength + record.Length > Data.Length)
        {
            var grown = new byte[Math.Max(Data.Length * 2, DataLength + record.Length)];
            Data.AsSpan(0, DataLength).CopyTo(grown);
            Data = grown;
        }

        record.CopyTo(Data.AsSpan(DataLength));
        var i = Count++;
        Start[i] = DataLength;
        Length[i] = record.Length;
        Line[i] = line;
        Reason[i] = reason;
        Verdicts[i] = Verdict.Unknown;
        SubjectStart[i] = 0;
        SubjectCount[i] = 0;
        if (MemberLength is not null)
        {
            MemberLength[i] = -1;
        }

        DataLength += record.Length;
        return i;
    }

    public void SetMember(int index, ReadOnlySpan<byte> member)
    {
        if (MembersLength + member.Length > Members!.Length)
        {
            var grown = new byte[Math.Max(Members.Length * 2, MembersLength + member.Length)];
            Members.AsSpan(0, MembersLength).CopyTo(grown);
            Members = grown;
        }

        member.CopyTo(Members.AsSpan(MembersLength));
        MemberStart![index] = MembersLength;
        MemberLength![index] = member.Length;
        MembersLength += member.Length;
    }

    public void Reset()
    {
        Count = 0;
        DataLength = 0;
        LineBase = 0;
        NeedsSplit = false;
        MembersLength = 0;
        Checks.Clear();
        Attributions.Clear();
        Done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // One huge record must not keep a huge buffer alive for the rest of the run.
        if (Data.Length > 4 * (_bytes + (64 * 1024)))
        {
            Data = new byte[_bytes + (64 * 1024)];
        }

        if (Members is not null && Members.Length > 4 * _bytes)
        {
            Members = new byte[_bytes];
        }

        // A block of very short lines (say 1 MiB of empty lines) grows the per-record arrays to a million entries;
        // the pool must not keep that for the rest of the run.
        if (Start.Length > 16 * _capacity)
        {
            AllocateRecordArrays(_capacity);
        }
    }

    /// <summary>Fresh per-record arrays of <paramref name="capacity"/> entries (a new batch, or one shrunk back after a block of tiny records).</summary>
    [MemberNotNull(nameof(Start), nameof(Length), nameof(Line), nameof(Reason), nameof(Verdicts), nameof(SubjectStart), nameof(SubjectCount))]
    private void AllocateRecordArrays(int capacity)
    {
        Start = new int[capacity];
        Length = new int[capacity];
        Line = new long[capacity];
        Reason = new string?[capacity];
        Verdicts = new Verdict[capacity];
        SubjectStart = new int[capacity];
        SubjectCount = new int[capacity];
    }
}

/// <summary>Stage 2 state of one worker: parsing each record's fields and fingerprinting its content.</summary>
internal sealed class Worker(Plan plan) : IDisposable
{
    private readonly FilterOptions _options = plan.Options;
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private TextCodeHasher? _textCode;
    private DataCodeHasher? _dataCode;
    private byte[] _scratch = new byte[64 * 1024];
    private int[] _subjectRecord = new int[4096];
    private readonly string _tooLong = $"record longer than {plan.Options.MaxRecordBytes} bytes";

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-record loop: optimised from the first block
    public void Parse(RecordBatch batch)
    {
        if (batch.NeedsSplit)
        {
            batch.Split(_options.MaxRecordBytes, _tooLong);
        }

        var checks = batch.Checks;
        checks.Purpose = _options.Purpose;
        checks.AsOf = _options.AsOf;
        for (var r = 0; r < batch.Count; r++)
        {
            batch.SubjectStart[r] = checks.Count;
            if (batch.Reason[r] is null)
            {
                batch.Reason[r] = plan.Format switch
                {
                    RecordFormat.JsonLines => ParseJson(batch.Record(r), checks),
                    RecordFormat.Urls => ParseUrl(batch.Record(r), checks),
                    RecordFormat.Warc => ParseWarc(batch, r, checks),
                    _ => ParseDelimited(batch.Record(r), checks),
                };
            }

            batch.SubjectCount[r] = checks.Count - batch.SubjectStart[r];
            if (_subjectRecord.Length < checks.Count)
            {
                Array.Resize(ref _subjectRecord, Math.Max(_subjectRecord.Length * 2, checks.Count));
            }

            for (var s = batch.SubjectStart[r]; s < checks.Count; s++)
            {
                _subjectRecord[s] = r;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-record loop: optimised from the first block
    public void Decide(RecordBatch batch)
    {
        var checks = batch.Checks;
        var warc = plan.Format == RecordFormat.Warc;
        for (var r = 0; r < batch.Count; r++)
        {
            if (batch.Reason[r] is not null)
            {
                continue;
            }

            var verdict = Verdict.Unknown;
            var end = batch.SubjectStart[r] + batch.SubjectCount[r];
            for (var s = batch.SubjectStart[r]; s < end; s++)
            {
                if (checks.Error(s) is { } error)
                {
                    // A record whose URL cannot be checked is malformed, except in WARC, where the payload still is
                    // (WARC target URIs include dns: and other non-http schemes).
                    if (!warc && checks.Kind(s) == SubjectKind.Url)
                    {
                        batch.Reason[r] = error;
                        break;
                    }

                    continue;
                }

                verdict = verdict.MostRestrictive(checks.Verdict(s));
            }

            batch.Verdicts[r] = verdict;
        }

        foreach (var match in checks.Matches)
        {
            var r = _subjectRecord[match.Subject];
            if (batch.Reason[r] is null && batch.Verdicts[r] == Verdict.Disallowed)
            {
                var signal = checks.Kind(match.Subject) switch
                {
                    SubjectKind.Url => 0,
                    SubjectKind.Sha256 => 1,
                    _ => 2,
                };
                batch.Attributions.Add(new Attribution(r, match.HolderId, match.HolderName, match.Kind, signal));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-record loop: optimised from the first block
    private string? ParseJson(ReadOnlySpan<byte> record, FilterCheckBatch checks)
    {
        var line = DatasetFilter.TrimEol(record);
        if (!JsonLineScanner.TryLocate(line, _options.UrlField, _options.TextField, out var url, out var text))
        {
            // Escapes, malformed or unusual lines: the validating reader decides, with its exact message.
            var error = FieldPath.Locate(line, _options.UrlField, _options.TextField, out url, out text);
            if (error is not null)
            {
                return error;
            }
        }

        if (!url.Found || url.Length == 0)
        {
            return $"no '{_options.UrlField.Text}' string field";
        }

        var chars = checks.Reserve(url.Length);
        checks.Commit(SubjectKind.Url, url.CopyChars(line, chars));
        if (text.Found && text.Length > 0)
        {
            if (_scratch.Length < text.Length)
            {
                _scratch = new byte[Math.Max(_scratch.Length * 2, text.Length)];
            }

            var n = text.CopyUtf8(line, _scratch);
            AddFingerprints(_scratch.AsSpan(0, n), isText: true, checks);
        }

        return null;
    }

    private static string? ParseUrl(ReadOnlySpan<byte> record, FilterCheckBatch checks)
    {
        var trimmed = DatasetFilter.TrimEol(record).Trim((byte)' ').Trim((byte)'\t');
        if (trimmed.IsEmpty)
        {
            return "empty line";
        }

        var chars = checks.Reserve(trimmed.Length);
        checks.Commit(SubjectKind.Url, Encoding.UTF8.GetChars(trimmed, chars));
        return null;
    }

    private string? ParseDelimited(ReadOnlySpan<byte> record, FilterCheckBatch checks)
    {
        var line = DatasetFilter.TrimEol(record);
        if (line.IsEmpty)
        {
            return "empty line";
        }

        var url = DelimitedFields.Get(line, plan.Separator, plan.Quoted, plan.UrlColumn, out var error);
        if (error is not null || string.IsNullOrWhiteSpace(url))
        {
            return error ?? $"column '{_options.UrlField.Text}' is empty";
        }

        string? text = null;
        if (plan.TextColumn >= 0)
        {
            text = DelimitedFields.Get(line, plan.Separator, plan.Quoted, plan.TextColumn, out error);
            if (error is not null)
            {
                return error;
            }
        }

        checks.Add(SubjectKind.Url, url.AsSpan().Trim());
        if (!string.IsNullOrEmpty(text))
        {
            AddFingerprints(Encoding.UTF8.GetBytes(text), isText: true, checks);
        }

        return null;
    }

    private string? ParseWarc(RecordBatch batch, int r, FilterCheckBatch checks)
    {
        var meta = batch.Warc![r];
        var raw = batch.Record(r);
        if (batch.MemberLength![r] >= 0 && !GzipMemberTracker.Verify(batch.Members!, batch.MemberStart![r], batch.MemberLength[r], raw))
        {
            // Not the member the trailer search suggested: the writer re-compresses this record instead.
            batch.MemberLength[r] = -1;
        }

        if (!string.IsNullOrEmpty(meta.TargetUri))
        {
            checks.Add(SubjectKind.Url, meta.TargetUri);
        }

        if (meta.Type is "response" or "resource" or "conversion" && meta.PayloadLength > 0)
        {
            AddFingerprints(raw.Slice(meta.PayloadOffset, meta.PayloadLength), meta.PayloadIsText, checks);
        }

        return null;
    }

    // Only what is checked: SHA-256 (exact copies) and the Text-Code, or the Data-Code for binary content. Computing
    // ContentFingerprinter's full set (Instance-Code, Data-Code of text too) would double the time per text byte.
    private void AddFingerprints(ReadOnlySpan<byte> content, bool isText, FilterCheckBatch checks)
    {
        Span<byte> digest = stackalloc byte[32];
        _sha256.AppendData(content);
        _sha256.GetHashAndReset(digest);
        var hex = checks.Reserve(64);
        Convert.TryToHexStringLower(digest, hex, out var written);
        checks.Commit(SubjectKind.Sha256, written);
        string iscc;
        if (isText)
        {
            _textCode ??= new TextCodeHasher();
            _textCode.Append(content);
            iscc = _textCode.GetCodeAndReset().Iscc;
        }
        else
        {
            _dataCode ??= new DataCodeHasher();
            _dataCode.Append(content);
            iscc = _dataCode.Code();
            _dataCode.Reset();
        }

        checks.Add(SubjectKind.Iscc, iscc);
    }

    public void Dispose() => _sha256.Dispose();
}

/// <summary>Stage 3 state: writes records in order and keeps the report's counts (arrays, not per-record dictionaries).</summary>
internal sealed class Tally(FilterOptions options)
{
    private static readonly string[] s_signals = ["url", "sha256", "iscc"];
    private readonly long[] _byVerdict = new long[3];
    private readonly long[] _bySignal = new long[3];
    private readonly long[] _byKind = new long[16];
    private readonly Dictionary<string, Holder> _holders = new(StringComparer.Ordinal);
    private readonly List<Holder> _recordHolders = [];
    private long _rejected;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-record loop: optimised from the first block
    public void Write(RecordBatch batch, Plan plan, FilterReport report, Stream kept, Stream removed)
    {
        var a = 0;
        var attributions = batch.Attributions;
        // Consecutive records bound for the same output go out in one write (records are contiguous in the batch).
        Stream? runOutput = null;
        int runStart = 0, runEnd = 0;
        for (var r = 0; r < batch.Count; r++)
        {
            report.InputRecords++;
            if (batch.Reason[r] is { } reason)
            {
                if (options.Strict)
                {
                    Flush(batch, runOutput, runStart, runEnd);
                    throw new FilterException($"input line {batch.LineBase + batch.Line[r]}: {reason} (--strict)");
                }

                _rejected++;
                report.Rejected++;
                if (report.RejectedRecords.Count < FilterReport.MaxRejectedListed)
                {
                    report.RejectedRecords.Add(new RejectedRecord(batch.LineBase + batch.Line[r], reason));
                }

                continue;
            }

            var verdict = batch.Verdicts[r];
            _byVerdict[(int)verdict]++;
            var isRemoved = verdict == Verdict.Disallowed;
            var output = isRemoved ? removed : kept;
            if (plan.Gzip)
            {
                Flush(batch, runOutput, runStart, runEnd);
                runOutput = null;
                WriteGzip(batch, r, output);
            }
            else if (output == runOutput && batch.Start[r] == runEnd)
            {
                runEnd += batch.Length[r];
            }
            else
            {
                Flush(batch, runOutput, runStart, runEnd);
                runOutput = output;
                runStart = batch.Start[r];
                runEnd = runStart + batch.Length[r];
            }

            if (!isRemoved)
            {
                report.Kept++;
                continue;
            }

            report.Removed++;
            while (a < attributions.Count && attributions[a].Record < r)
            {
                a++;
            }

            // Each kind, signal and holder counts once per removed record.
            var kinds = 0u;
            var signals = 0u;
            _recordHolders.Clear();
            for (; a < attributions.Count && attributions[a].Record == r; a++)
            {
                var at = attributions[a];
                kinds |= 1u << (int)at.Kind;
                signals |= 1u << at.Signal;
                if (!_holders.TryGetValue(at.HolderId, out var holder))
                {
                    holder = new Holder(at.HolderId);
                    _holders.Add(at.HolderId, holder);
                }

                holder.Name ??= at.HolderName;
                if (holder.LastRecord != report.InputRecords)
                {
                    holder.LastRecord = report.InputRecords;
                    holder.RecordKinds = 0;
                    holder.Removed++;
                    _recordHolders.Add(holder);
                }

                holder.RecordKinds |= 1u << (int)at.Kind;
            }

            for (var k = 0; k < _byKind.Length; k++)
            {
                if ((kinds & (1u << k)) != 0) { _byKind[k]++; }
            }

            for (var g = 0; g < _bySignal.Length; g++)
            {
                if ((signals & (1u << g)) != 0) { _bySignal[g]++; }
            }

            foreach (var holder in _recordHolders)
            {
                for (var k = 0; k < holder.Kinds.Length; k++)
                {
                    if ((holder.RecordKinds & (1u << k)) != 0) { holder.Kinds[k]++; }
                }
            }
        }

        Flush(batch, runOutput, runStart, runEnd);
    }

    public void CopyTo(FilterReport report)
    {
        foreach (var verdict in (ReadOnlySpan<Verdict>)[Verdict.Unknown, Verdict.Allowed, Verdict.Disallowed])
        {
            if (_byVerdict[(int)verdict] > 0)
            {
                report.ByVerdict[verdict.ToString().ToLowerInvariant()] = _byVerdict[(int)verdict];
            }
        }

        if (_rejected > 0) { report.ByVerdict["rejected"] = _rejected; }
        for (var k = 0; k < _byKind.Length; k++)
        {
            if (_byKind[k] > 0) { report.BySelectorKind[((SelectorKind)k).ToWireName()] = _byKind[k]; }
        }

        for (var g = 0; g < _bySignal.Length; g++)
        {
            if (_bySignal[g] > 0) { report.BySignal[s_signals[g]] = _bySignal[g]; }
        }

        foreach (var h in _holders.Values.OrderByDescending(h => h.Removed).ThenBy(h => h.Id, StringComparer.Ordinal))
        {
            var kinds = new SortedDictionary<string, long>(StringComparer.Ordinal);
            for (var k = 0; k < h.Kinds.Length; k++)
            {
                if (h.Kinds[k] > 0) { kinds[((SelectorKind)k).ToWireName()] = h.Kinds[k]; }
            }

            report.ByHolder.Add(new HolderCount(h.Id, h.Name ?? options.HolderName?.Invoke(h.Id), h.Removed, kinds));
        }
    }

    private static void Flush(RecordBatch batch, Stream? output, int start, int end)
    {
        if (output is not null && end > start)
        {
            output.Write(batch.Data, start, end - start);
        }
    }

    private static void WriteGzip(RecordBatch batch, int r, Stream output)
    {
        if (batch.MemberLength![r] >= 0)
        {
            // The record's own gzip member, as read: byte-identical and no compression work.
            output.Write(batch.Members!, batch.MemberStart![r], batch.MemberLength[r]);
            return;
        }

        // No member to copy (records and members did not line up): one new member per record, as Common Crawl writes.
        using var member = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
        member.Write(batch.Record(r));
    }

    private sealed class Holder(string id)
    {
        public string Id => id;

        public string? Name { get; set; }

        public long Removed { get; set; }

        public long[] Kinds { get; } = new long[16];

        public long LastRecord { get; set; } = -1;

        public uint RecordKinds { get; set; }
    }
}
