namespace OptOutRegistry.Filtering;

/// <summary>
/// Splits a byte stream into records ending at LF (the LF and any CR before it belong to the record, so writing the
/// record's bytes back reproduces the input exactly). With <c>quoteAware</c> an LF inside double quotes does not end the
/// record (RFC 4180 §2.6). Memory is bounded: a record longer than <see cref="MaxRecordBytes"/> is reported as too long
/// and skipped up to its end.
/// </summary>
internal sealed class RecordSplitter
{
    private readonly Stream _input;
    private readonly bool _quoteAware;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private int _scanned;
    private bool _inQuotes;
    private bool _eof;

    public RecordSplitter(Stream input, bool quoteAware, int maxRecordBytes)
    {
        _input = input;
        _quoteAware = quoteAware;
        MaxRecordBytes = maxRecordBytes;
    }

    /// <summary>Largest record kept in memory.</summary>
    public int MaxRecordBytes { get; }

    /// <summary>1-based line number of the record returned last.</summary>
    public long LineNumber { get; private set; }

    private long _nextLine = 1;

    /// <summary>
    /// Reads the next record. <paramref name="tooLong"/> is set (and <paramref name="record"/> empty) when the record
    /// exceeded the bound; it has been skipped. The memory is valid until the next call.
    /// </summary>
    public bool TryRead(out ReadOnlyMemory<byte> record, out bool tooLong)
    {
        tooLong = false;
        while (true)
        {
            var end = FindEnd();
            if (end >= 0)
            {
                record = _buffer.AsMemory(_start, end + 1 - _start);
                Finish(record.Span, end + 1);
                return true;
            }

            if (_eof)
            {
                if (_start < _end)
                {
                    record = _buffer.AsMemory(_start, _end - _start);
                    Finish(record.Span, _end);
                    return true;
                }

                record = default;
                return false;
            }

            if (_end - _start >= MaxRecordBytes)
            {
                SkipRest();
                tooLong = true;
                record = default;
                return true;
            }

            Fill();
        }
    }

    private void Finish(ReadOnlySpan<byte> record, int newStart)
    {
        LineNumber = _nextLine;
        _nextLine += System.MemoryExtensions.Count(record, (byte)'\n');
        if (record.Length > 0 && record[^1] != (byte)'\n')
        {
            _nextLine++;
        }

        _start = newStart;
        _scanned = newStart;
        _inQuotes = false;
    }

    // Index of the LF ending the record that starts at _start, or -1 (scanning resumes where it stopped).
    private int FindEnd()
    {
        var span = _buffer.AsSpan(_scanned, _end - _scanned);
        if (!_quoteAware)
        {
            var i = span.IndexOf((byte)'\n');
            if (i >= 0) { return _scanned + i; }
            _scanned = _end;
            return -1;
        }

        var offset = 0;
        while (true)
        {
            var i = span[offset..].IndexOfAny((byte)'\n', (byte)'"');
            if (i < 0) { _scanned = _end; return -1; }
            offset += i;
            if (span[offset] == (byte)'"')
            {
                _inQuotes = !_inQuotes;
            }
            else if (!_inQuotes)
            {
                return _scanned + offset;
            }

            offset++;
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _scanned -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, MaxRecordBytes + 1));
        }

        var n = _input.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0) { _eof = true; } else { _end += n; }
    }

    private void SkipRest()
    {
        // Count the lines the skipped record spans so later line numbers stay right.
        LineNumber = _nextLine;
        while (true)
        {
            var end = FindEnd();
            if (end >= 0)
            {
                _nextLine += System.MemoryExtensions.Count(_buffer.AsSpan(_start, end + 1 - _start), (byte)'\n');
                _start = end + 1;
                _scanned = _start;
                _inQuotes = false;
                return;
            }

            _nextLine += System.MemoryExtensions.Count(_buffer.AsSpan(_start, _end - _start), (byte)'\n');
            _start = _end = _scanned = 0;
            if (_eof) { return; }
            var n = _input.Read(_buffer, 0, _buffer.Length);
            if (n == 0) { _eof = true; return; }
            _end = n;
        }
    }
}
