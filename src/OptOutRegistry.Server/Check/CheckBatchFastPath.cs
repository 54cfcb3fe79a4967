using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Check;

/// <summary>
/// The fast path of <c>Check.CheckBatch</c> for its common shape — URL subjects, verdicts only — over the request's
/// bytes: a hand-written reader of the <c>CheckBatchRequest</c> wire format hands each URL straight from the received
/// buffer to the matcher's batch check (no <c>Subject</c> objects), and the answer is written straight into the output
/// from four cached encodings of a result (one per verdict) instead of a <c>CheckBatchResponse</c> with 1,000 entries.
/// Anything else (content subjects, <c>include_matches</c>, unknown fields, an odd encoding, more than
/// <see cref="CheckEngine.MaxSubjects"/> subjects) is declined and goes through the generated parser and
/// <see cref="CheckEngine.CheckBatch"/>, so both paths give byte-for-byte the same answer (tests compare them).
/// Why: the generated parser cost about as much as matching (benchmarks/OptOutRegistry.Benchmarks.Check/RESULTS.md,
/// round two: ~0.2 µs and 204 bytes per URL subject).
/// </summary>
internal sealed class CheckBatchFastPath(CheckEngine engine, CheckAccess access)
{
    /// <summary>The <see cref="RawUnaryServerMethod"/> of <c>CheckBatch</c>.</summary>
    public bool TryCheckBatch(in ReadOnlySequence<byte> request, ServerCallContext context, out ValueTask<IRawMessage> response)
    {
        var answer = new CheckBatchAnswer();
        if (!CheckBatchWire.TryRead(request, answer))
        {
            answer.Dispose();
            response = default;
            return false;
        }

        try
        {
            // The same order as the typed path: admission (rate limits) first, then the request's own validation.
            var admitted = access.AdmitAsync(context.HttpContext, answer.Count);
            if (admitted.IsCompletedSuccessfully)
            {
                Answer(engine, answer);
                response = new ValueTask<IRawMessage>(answer);
                return true;
            }

            response = AnswerAfterAsync(admitted, answer);
            return true;
        }
        catch
        {
            answer.Dispose();
            throw;
        }
    }

    private async ValueTask<IRawMessage> AnswerAfterAsync(ValueTask admitted, CheckBatchAnswer answer)
    {
        try
        {
            await admitted.ConfigureAwait(false);
            Answer(engine, answer);
            return answer;
        }
        catch
        {
            answer.Dispose();
            throw;
        }
    }

    /// <summary>What <see cref="CheckEngine.CheckBatch"/> does for a verdict-only batch of URLs, into the answer's arrays.</summary>
    internal static void Answer(CheckEngine engine, CheckBatchAnswer answer)
    {
        var purpose = CheckEngine.Purpose((Pb.UsageCategory)answer.Purpose);
        var mirror = engine.Mirror;
        var matcher = mirror.Matcher;
        var asOf = (answer.HasAsOf ? CheckEngine.AsOf(new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = answer.AsOfSeconds, Nanos = answer.AsOfNanos }) : null)
            ?? matcher.TimeProvider.GetUtcNow();
        answer.AsOfSequence = mirror.AppliedSequence;
        matcher.CheckUrls(answer.Urls.AsSpan(0, answer.Count), purpose, asOf, answer.Verdicts, answer.Errors);
        answer.ReleaseUrls();
    }
}

/// <summary>
/// One verdict-only <c>CheckBatch</c>: the request's URLs and settings as read by <see cref="CheckBatchWire"/>, then the
/// matcher's answers, written as a <c>CheckBatchResponse</c> (check.proto). Arrays are pooled and returned on dispose.
/// </summary>
internal sealed class CheckBatchAnswer : IRawMessage
{
    // check.proto CheckBatchResponse: results = 1 (LEN), as_of_sequence = 2 (VARINT), request_id = 3 (LEN).
    private const byte ResultsTag = 0x0A;
    private const byte AsOfSequenceTag = 0x10;
    private const byte RequestIdTag = 0x1A;

    // An error result: CheckResult { verdict = UNKNOWN (field 1), error = "url: ..." (field 3) }, with its results tag
    // and length, as the generated serializer writes it; built once per UrlError value.
    private static readonly byte[]?[] s_errorResults = new byte[256][];

    private string?[] _urls = ArrayPool<string?>.Shared.Rent(1024);
    private Verdict[]? _verdicts;
    private UrlError[]? _errors;

    /// <summary>The URL subjects; entries past <see cref="Count"/> are unused.</summary>
    public string?[] Urls => _urls;

    public int Count { get; private set; }

    public int Purpose { get; set; }

    public bool HasAsOf { get; set; }

    public long AsOfSeconds { get; set; }

    public int AsOfNanos { get; set; }

    public bool IncludeMatches { get; set; }

    public string RequestId { get; set; } = string.Empty;

    public long AsOfSequence { get; set; }

    public Verdict[] Verdicts => _verdicts ??= ArrayPool<Verdict>.Shared.Rent(Count);

    public UrlError[] Errors => _errors ??= ArrayPool<UrlError>.Shared.Rent(Count);

    public void AddUrl(string url)
    {
        if (Count == _urls.Length)
        {
            var bigger = ArrayPool<string?>.Shared.Rent(_urls.Length * 2);
            _urls.AsSpan(0, Count).CopyTo(bigger);
            ReturnUrls(_urls, Count);
            _urls = bigger;
        }

        _urls[Count++] = url;
    }

    /// <summary>Lets the request's strings go once they are matched (the pool must not keep them alive).</summary>
    public void ReleaseUrls()
    {
        if (_urls.Length != 0)
        {
            ReturnUrls(_urls, Count);
            _urls = [];
        }
    }

    public int CalculateSize()
    {
        var errors = _errors!;
        var size = 0;
        for (var i = 0; i < Count; i++)
        {
            size += errors[i] == UrlError.None ? 4 : ErrorResult(errors[i]).Length;
        }

        if (AsOfSequence != 0)
        {
            size += 1 + VarintSize((ulong)AsOfSequence);
        }

        if (RequestId.Length != 0)
        {
            var length = Encoding.UTF8.GetByteCount(RequestId);
            size += 1 + VarintSize((uint)length) + length;
        }

        return size;
    }

    public void WriteTo(IBufferWriter<byte> output)
    {
        var verdicts = _verdicts!;
        var errors = _errors!;
        var span = output.GetSpan(1024);
        var used = 0;
        for (var i = 0; i < Count; i++)
        {
            if (errors[i] == UrlError.None)
            {
                if (span.Length - used < 4)
                {
                    output.Advance(used);
                    span = output.GetSpan(1024);
                    used = 0;
                }

                // results { verdict: V } = 0A 02 08 V; the verdict-only CheckResult of CheckEngine (UNKNOWN 1, ALLOWED 2, DISALLOWED 3).
                BinaryPrimitives.WriteUInt32BigEndian(span[used..], 0x0A020800u | ProtoVerdict(verdicts[i]));
                used += 4;
            }
            else
            {
                var encoded = ErrorResult(errors[i]);
                if (span.Length - used < encoded.Length)
                {
                    output.Advance(used);
                    span = output.GetSpan(Math.Max(1024, encoded.Length));
                    used = 0;
                }

                encoded.CopyTo(span[used..]);
                used += encoded.Length;
            }
        }

        output.Advance(used);
        if (AsOfSequence != 0)
        {
            span = output.GetSpan(11);
            span[0] = AsOfSequenceTag;
            output.Advance(1 + WriteVarint(span[1..], (ulong)AsOfSequence));
        }

        if (RequestId.Length != 0)
        {
            var length = Encoding.UTF8.GetByteCount(RequestId);
            span = output.GetSpan(6 + length);
            span[0] = RequestIdTag;
            var prefix = 1 + WriteVarint(span[1..], (uint)length);
            Encoding.UTF8.GetBytes(RequestId, span[prefix..]);
            output.Advance(prefix + length);
        }
    }

    public void Dispose()
    {
        ReleaseUrls();
        if (_verdicts is not null)
        {
            ArrayPool<Verdict>.Shared.Return(_verdicts);
            _verdicts = null;
        }

        if (_errors is not null)
        {
            ArrayPool<UrlError>.Shared.Return(_errors);
            _errors = null;
        }
    }

    private static uint ProtoVerdict(Verdict verdict) => verdict switch
    {
        Verdict.Disallowed => (uint)Pb.Verdict.Disallowed,
        Verdict.Allowed => (uint)Pb.Verdict.Allowed,
        _ => (uint)Pb.Verdict.Unknown,
    };

    private static byte[] ErrorResult(UrlError error)
    {
        var cached = Volatile.Read(ref s_errorResults[(byte)error]);
        if (cached is not null)
        {
            return cached;
        }

        var text = Encoding.UTF8.GetBytes("url: " + UrlErrors.Describe(error));
        var inner = 2 + 1 + VarintSize((uint)text.Length) + text.Length;
        var bytes = new byte[1 + VarintSize((uint)inner) + inner];
        var at = 0;
        bytes[at++] = ResultsTag;
        at += WriteVarint(bytes.AsSpan(at), (uint)inner);
        bytes[at++] = 0x08; // CheckResult.verdict = 1, VARINT
        bytes[at++] = (byte)Pb.Verdict.Unknown;
        bytes[at++] = 0x1A; // CheckResult.error = 3, LEN
        at += WriteVarint(bytes.AsSpan(at), (uint)text.Length);
        text.CopyTo(bytes, at);
        Volatile.Write(ref s_errorResults[(byte)error], bytes);
        return bytes;
    }

    private static void ReturnUrls(string?[] urls, int count)
    {
        Array.Clear(urls, 0, count);
        ArrayPool<string?>.Shared.Return(urls);
    }

    private static int VarintSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static int WriteVarint(Span<byte> into, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            into[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        into[i++] = (byte)value;
        return i;
    }
}

/// <summary>
/// A reader of the <c>CheckBatchRequest</c> wire format (protobuf encoding, check.proto) for the fast path: it accepts
/// only the shape the fast path answers and reports anything else as "not mine" (false), never as an error, so the
/// generated parser sees every unusual or damaged request and answers it exactly as before.
/// </summary>
internal static class CheckBatchWire
{
    // check.proto CheckBatchRequest: subjects = 1 (LEN), purpose = 2 (VARINT), as_of = 3 (LEN), include_matches = 4
    // (VARINT), request_id = 5 (LEN); Subject.url = 1 (LEN); Timestamp seconds = 1, nanos = 2 (VARINT).
    private const ulong SubjectsTag = 0x0A;
    private const ulong PurposeTag = 0x10;
    private const ulong AsOfTag = 0x1A;
    private const ulong IncludeMatchesTag = 0x20;
    private const ulong RequestIdTag = 0x2A;

    /// <summary>Reads <paramref name="request"/> into <paramref name="into"/>; false when the fast path should decline it.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> request, CheckBatchAnswer into)
    {
        if (request.IsSingleSegment)
        {
            return TryRead(request.FirstSpan, into);
        }

        // A 1,000-URL request spans several of Kestrel's 4 KiB blocks: one copy is cheaper than a segment-aware reader.
        var length = checked((int)request.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            request.CopyTo(rented);
            return TryRead(rented.AsSpan(0, length), into);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool TryRead(ReadOnlySpan<byte> data, CheckBatchAnswer into)
    {
        var seenAsOf = false;
        var pos = 0;
        while (pos < data.Length)
        {
            if (!TryReadVarint(data, ref pos, out var tag))
            {
                return false;
            }

            switch (tag)
            {
                case SubjectsTag:
                    if (!TryReadLength(data, ref pos, out var subject) || !TryReadUrlSubject(subject, out var url)
                        || into.Count == CheckEngine.MaxSubjects)
                    {
                        return false;
                    }

                    into.AddUrl(url);
                    break;
                case PurposeTag:
                    if (!TryReadVarint(data, ref pos, out var purpose))
                    {
                        return false;
                    }

                    // An enum is an int32 on the wire; Google.Protobuf keeps the low 32 bits (negative values are 10 bytes).
                    into.Purpose = (int)purpose;
                    break;
                case AsOfTag:
                    if (seenAsOf || !TryReadLength(data, ref pos, out var timestamp) || !TryReadTimestamp(timestamp, into))
                    {
                        return false;
                    }

                    seenAsOf = true;
                    break;
                case IncludeMatchesTag:
                    if (!TryReadVarint(data, ref pos, out var include) || include != 0)
                    {
                        // Provenance: the typed path builds the Match messages.
                        return false;
                    }

                    break;
                case RequestIdTag:
                    if (!TryReadLength(data, ref pos, out var requestId))
                    {
                        return false;
                    }

                    // The generated parser decodes strings the same way (invalid UTF-8 becomes U+FFFD).
                    into.RequestId = requestId.IsEmpty ? string.Empty : Encoding.UTF8.GetString(requestId);
                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    /// <summary>A <c>Subject</c> holding exactly one field, <c>url</c>.</summary>
    private static bool TryReadUrlSubject(ReadOnlySpan<byte> subject, out string url)
    {
        url = string.Empty;
        var pos = 0;
        if (subject.Length < 2 || subject[pos++] != 0x0A || !TryReadLength(subject, ref pos, out var bytes) || pos != subject.Length)
        {
            return false;
        }

        if (!bytes.IsEmpty)
        {
            url = Encoding.UTF8.GetString(bytes);
        }

        return true;
    }

    private static bool TryReadTimestamp(ReadOnlySpan<byte> timestamp, CheckBatchAnswer into)
    {
        long seconds = 0;
        var nanos = 0;
        var pos = 0;
        while (pos < timestamp.Length)
        {
            if (!TryReadVarint(timestamp, ref pos, out var tag))
            {
                return false;
            }

            if (!TryReadVarint(timestamp, ref pos, out var value))
            {
                return false;
            }

            switch (tag)
            {
                case 0x08:
                    seconds = (long)value;
                    break;
                case 0x10:
                    nanos = (int)value;
                    break;
                default:
                    return false;
            }
        }

        into.HasAsOf = true;
        into.AsOfSeconds = seconds;
        into.AsOfNanos = nanos;
        return true;
    }

    private static bool TryReadLength(ReadOnlySpan<byte> data, ref int pos, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!TryReadVarint(data, ref pos, out var length) || length > (ulong)(data.Length - pos))
        {
            return false;
        }

        value = data.Slice(pos, (int)length);
        pos += (int)length;
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70 && pos < data.Length; shift += 7)
        {
            var b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
