using System.Text;

namespace OptOutRegistry.Filtering;

/// <summary>One WARC record as read: its exact bytes and the fields the filter needs.</summary>
internal readonly record struct WarcRecord(
    ReadOnlyMemory<byte> Raw,
    long LineNumber,
    string? Type,
    string? TargetUri,
    int PayloadOffset,
    int PayloadLength,
    bool PayloadIsText,
    string? Error);

/// <summary>
/// Reads WARC 1.0/1.1 records (ISO 28500 §4–6: version line, named fields, CRLF, a block of Content-Length bytes,
/// CRLF CRLF) from an already decompressed stream. A malformed record is returned with <see cref="WarcRecord.Error"/>
/// set, its bytes running up to the next line that starts a record, so nothing is lost and the count adds up.
/// </summary>
internal sealed class WarcReader
{
    private readonly Stream _input;
    private readonly int _maxRecordBytes;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _pos;
    private int _len;
    private byte[] _record = new byte[64 * 1024];
    private int _recordLength;
    private long _line = 1;
    private bool _pendingVersionLine;

    public WarcReader(Stream input, int maxRecordBytes)
    {
        _input = input;
        _maxRecordBytes = maxRecordBytes;
    }

    /// <summary>Reads the next record; the bytes stay valid until the next call.</summary>
    public bool TryRead(out WarcRecord record)
    {
        _recordLength = 0;
        var startLine = _pendingVersionLine ? _line - 1 : _line;
        record = default;

        // Version line (it may already be in _record from resynchronising after a bad record).
        var first = _pendingVersionLine ? _recordLength = _pendingLength : ReadLine();
        _pendingVersionLine = false;
        if (first <= 0)
        {
            return false;
        }

        var version = _record.AsSpan(0, first);
        if (!version.StartsWith("WARC/"u8))
        {
            return Resync(startLine, "expected a 'WARC/1.x' version line", out record);
        }

        string? type = null, target = null, contentType = null;
        long contentLength = -1;
        while (true)
        {
            var lineStart = _recordLength;
            var n = ReadLine();
            if (n <= 0)
            {
                record = new WarcRecord(_record.AsMemory(0, _recordLength), startLine, type, target, 0, 0, false, "truncated: end of input inside the header");
                return true;
            }

            var line = TrimEol(_record.AsSpan(lineStart, n));
            if (line.IsEmpty)
            {
                break;
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return Resync(startLine, $"header line {_line - 1}: not a 'Name: value' field", out record);
            }

            var name = line[..colon];
            var value = Encoding.UTF8.GetString(line[(colon + 1)..]).Trim();
            if (name.SequenceEqual("WARC-Type"u8)) { type = value; }
            else if (name.SequenceEqual("WARC-Target-URI"u8)) { target = value.Trim('<', '>'); }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Type"u8)) { contentType = value; }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out contentLength))
                {
                    return Resync(startLine, $"Content-Length '{value}' is not a number", out record);
                }
            }
        }

        if (contentLength < 0)
        {
            return Resync(startLine, "no Content-Length field", out record);
        }

        if (_recordLength + contentLength + 4 > _maxRecordBytes)
        {
            // Too big to hold: skip the block and trailer, report it (bounded memory regardless of input).
            Skip(contentLength + 4);
            record = new WarcRecord(ReadOnlyMemory<byte>.Empty, startLine, type, target, 0, 0, false, $"record of {contentLength} bytes is larger than the {_maxRecordBytes}-byte limit");
            return true;
        }

        var blockStart = _recordLength;
        if (!ReadExact((int)contentLength) || !ReadExact(4))
        {
            record = new WarcRecord(_record.AsMemory(0, _recordLength), startLine, type, target, 0, 0, false, "truncated: end of input inside the block");
            return true;
        }

        if (!_record.AsSpan(_recordLength - 4, 4).SequenceEqual("\r\n\r\n"u8))
        {
            return Resync(startLine, "the block is not followed by CRLF CRLF (wrong Content-Length?)", out record);
        }

        // Payload: for HTTP responses the body after the HTTP header (ISO 28500 §6.3.2), else the whole block.
        var payloadOffset = blockStart;
        var payloadLength = (int)contentLength;
        var mediaType = contentType;
        if (contentType is not null && contentType.StartsWith("application/http", StringComparison.OrdinalIgnoreCase))
        {
            var block = _record.AsSpan(blockStart, (int)contentLength);
            var headerEnd = block.IndexOf("\r\n\r\n"u8);
            if (headerEnd >= 0)
            {
                mediaType = HttpContentType(block[..headerEnd]);
                payloadOffset = blockStart + headerEnd + 4;
                payloadLength = (int)contentLength - headerEnd - 4;
            }
        }

        var isText = mediaType is not null && (mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase)
            || mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) || mediaType.Contains("xml", StringComparison.OrdinalIgnoreCase));
        record = new WarcRecord(_record.AsMemory(0, _recordLength), startLine, type, target, payloadOffset, payloadLength, isText, null);
        return true;
    }

    private int _pendingLength;

    // Consumes lines up to (not including) the next one starting with "WARC/"; the bad record is everything before.
    private bool Resync(long startLine, string error, out WarcRecord record)
    {
        while (true)
        {
            var lineStart = _recordLength;
            var n = ReadLine();
            if (n <= 0)
            {
                record = new WarcRecord(_record.AsMemory(0, _recordLength), startLine, null, null, 0, 0, false, error);
                return true;
            }

            if (_record.AsSpan(lineStart, n).StartsWith("WARC/"u8))
            {
                // Hand the version line to the next call: copy the bad record out first.
                var bad = _record.AsSpan(0, lineStart).ToArray();
                var version = _record.AsSpan(lineStart, n).ToArray();
                version.CopyTo(_record, 0);
                _pendingLength = n;
                _pendingVersionLine = true;
                record = new WarcRecord(bad, startLine, null, null, 0, 0, false, error);
                return true;
            }
        }
    }

    private static ReadOnlySpan<byte> TrimEol(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == (byte)'\n') { line = line[..^1]; }
        if (line.Length > 0 && line[^1] == (byte)'\r') { line = line[..^1]; }
        return line;
    }

    private static string? HttpContentType(ReadOnlySpan<byte> httpHeader)
    {
        foreach (var range in httpHeader.Split("\r\n"u8))
        {
            var line = httpHeader[range];
            var colon = line.IndexOf((byte)':');
            if (colon > 0 && Ascii.EqualsIgnoreCase(line[..colon].Trim((byte)' '), "Content-Type"u8))
            {
                return Encoding.ASCII.GetString(line[(colon + 1)..]).Trim();
            }
        }

        return null;
    }

    // Appends one line (with its LF) to the record buffer; returns its length, 0 at end of input.
    private int ReadLine()
    {
        var start = _recordLength;
        while (true)
        {
            if (_pos == _len && !Fill())
            {
                return _recordLength - start;
            }

            var span = _buffer.AsSpan(_pos, _len - _pos);
            var nl = span.IndexOf((byte)'\n');
            var take = nl < 0 ? span.Length : nl + 1;
            if (_recordLength + take > _maxRecordBytes)
            {
                take = Math.Max(0, _maxRecordBytes - _recordLength);
                if (take == 0) { return _recordLength - start; }
            }

            Append(span[..take]);
            _pos += take;
            if (nl >= 0 && take == nl + 1)
            {
                _line++;
                return _recordLength - start;
            }
        }
    }

    private bool ReadExact(int count)
    {
        while (count > 0)
        {
            if (_pos == _len && !Fill()) { return false; }
            var take = Math.Min(count, _len - _pos);
            var span = _buffer.AsSpan(_pos, take);
            _line += System.MemoryExtensions.Count(span, (byte)'\n');
            Append(span);
            _pos += take;
            count -= take;
        }

        return true;
    }

    private void Skip(long count)
    {
        while (count > 0)
        {
            if (_pos == _len && !Fill()) { return; }
            var take = (int)Math.Min(count, _len - _pos);
            _line += System.MemoryExtensions.Count(_buffer.AsSpan(_pos, take), (byte)'\n');
            _pos += take;
            count -= take;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_recordLength + bytes.Length > _record.Length)
        {
            Array.Resize(ref _record, Math.Max(_record.Length * 2, _recordLength + bytes.Length));
        }

        bytes.CopyTo(_record.AsSpan(_recordLength));
        _recordLength += bytes.Length;
    }

    private bool Fill()
    {
        _pos = 0;
        _len = _input.Read(_buffer, 0, _buffer.Length);
        return _len > 0;
    }
}
