using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>
/// The length-prefixed message framing of PROTOCOL-HTTP2.md: 1 byte Compressed-Flag, 4 bytes big-endian Message-Length,
/// then the message. DATA frames have no relation to messages, so readers buffer until a whole message is present and
/// check the length against the limit as soon as the 5-byte prefix is readable, before buffering the payload.
/// </summary>
internal static class MessageFraming
{
    public const int HeaderSize = GrpcProtocolConstants.HeaderSize;

    // Messages up to this size are serialized straight into one span of the output; larger ones through IBufferWriter
    // so that the pipe never has to find one contiguous block of megabytes.
    private const int ContiguousWriteLimit = 64 * 1024;

    public static readonly Status ReceivedMessageExceedsLimitStatus = new(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");
    public static readonly Status SendingMessageExceedsLimitStatus = new(StatusCode.ResourceExhausted, "Sending message exceeds the maximum configured message size.");
    public static readonly Status DecompressedMessageExceedsLimitStatus = new(StatusCode.ResourceExhausted, "Decompressed message exceeds the maximum configured message size.");
    public static readonly Status IncompleteMessageStatus = new(StatusCode.Internal, "Incomplete message.");
    public static readonly Status AdditionalDataStatus = new(StatusCode.Internal, "Additional data after the message received.");
    public static readonly Status DecompressFailedStatus = new(StatusCode.Internal, "Failed to decompress message.");

    /// <summary>Reads the 5-byte prefix if present, validating the flag. Single-segment fast path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadHeader(in ReadOnlySequence<byte> buffer, out bool compressed, out uint length)
    {
        if (buffer.Length < HeaderSize)
        {
            compressed = false;
            length = 0;
            return false;
        }
        var first = buffer.FirstSpan;
        byte flag;
        if (first.Length >= HeaderSize)
        {
            flag = first[0];
            length = BinaryPrimitives.ReadUInt32BigEndian(first.Slice(1, 4));
        }
        else
        {
            // The prefix straddles segments (e.g. split across DATA frames): copy its 5 bytes.
            Span<byte> copy = stackalloc byte[HeaderSize];
            buffer.Slice(0, HeaderSize).CopyTo(copy);
            flag = copy[0];
            length = BinaryPrimitives.ReadUInt32BigEndian(copy.Slice(1, 4));
        }
        if (flag > 1)
        {
            // PROTOCOL-HTTP2.md defines only 0 and 1; anything else is a protocol error (grpc-transport.md B3: INTERNAL).
            ThrowBadFlag(flag);
        }
        compressed = flag == 1;
        return true;
    }

    /// <summary>
    /// Takes one complete message off the front of <paramref name="buffer"/>. On success <paramref name="buffer"/> is the
    /// rest after the message. Throws <see cref="RpcException"/> (RESOURCE_EXHAUSTED) when the prefix announces more than
    /// <paramref name="maxMessageSize"/>, without waiting for the payload.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxMessageSize, out bool compressed, out ReadOnlySequence<byte> payload)
    {
        if (!TryReadHeader(buffer, out compressed, out var length))
        {
            payload = default;
            return false;
        }
        if (length > (uint)maxMessageSize)
        {
            Throw(ReceivedMessageExceedsLimitStatus);
        }
        var total = HeaderSize + (long)length;
        if (buffer.Length < total)
        {
            payload = default;
            return false;
        }
        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(total);
        return true;
    }

    /// <summary>Parses a payload, decompressing it first when the flag says so.</summary>
    public static T Deserialize<T>(MessageParser<T> parser, in ReadOnlySequence<byte> payload, bool compressed, string? encoding, int maxDecompressedSize, string what)
        where T : IMessage<T>
    {
        if (!compressed)
        {
            try
            {
                return parser.ParseFrom(payload);
            }
            catch (Exception ex) when (IsParseFailure(ex))
            {
                Throw(new Status(StatusCode.Internal, $"Failed to deserialize {what} message."));
                return default;
            }
        }
        CheckEncodingForCompressedMessage(encoding);
        var rented = Decompress(payload, maxDecompressedSize, out var length);
        try
        {
            return parser.ParseFrom(new ReadOnlySpan<byte>(rented, 0, length));
        }
        catch (Exception ex) when (IsParseFailure(ex))
        {
            Throw(new Status(StatusCode.Internal, $"Failed to deserialize {what} message."));
            return default;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Google.Protobuf 3.25 does not always report damaged input as InvalidProtocolBufferException: a truncated
    /// fixed64 or wrapper field at the end of the buffer throws IndexOutOfRangeException or InvalidOperationException
    /// ("SkipLastField cannot be called at the end of a stream"). All of them are a malformed request, INTERNAL as
    /// PROTOCOL-HTTP2.md has it, not UNKNOWN with an error log (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
    /// </summary>
    private static bool IsParseFailure(Exception ex) =>
        ex is InvalidProtocolBufferException or IndexOutOfRangeException or InvalidOperationException or ArgumentOutOfRangeException;

    /// <summary>
    /// doc/compression.md: flag 1 without grpc-encoding, or with identity, is INTERNAL; an encoding we do not support is
    /// UNIMPLEMENTED naming the supported ones.
    /// </summary>
    public static void CheckEncodingForCompressedMessage(string? encoding)
    {
        if (encoding is null || string.Equals(encoding, GrpcProtocolConstants.IdentityEncoding, StringComparison.Ordinal))
        {
            Throw(new Status(StatusCode.Internal, "Message is compressed (flag 1) but grpc-encoding is missing or identity."));
        }
        if (!string.Equals(encoding, GrpcProtocolConstants.GzipEncoding, StringComparison.Ordinal))
        {
            Throw(new Status(StatusCode.Unimplemented, $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: identity, gzip"));
        }
    }

    /// <summary>
    /// gunzips into a pooled buffer, stopping as soon as the output passes <paramref name="maxSize"/> (zip-bomb defence:
    /// grpc-dotnet checks only the compressed length). A gzip error is INTERNAL (doc/statuscodes.md).
    /// </summary>
    public static byte[] Decompress(in ReadOnlySequence<byte> payload, int maxSize, out int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(Math.Max(payload.Length * 4, 256), (long)maxSize + 1));
        length = 0;
        try
        {
            using var source = new GZipStream(new ReadOnlySequenceStream(payload), CompressionMode.Decompress);
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxSize)
                    {
                        Throw(DecompressedMessageExceedsLimitStatus);
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, (long)maxSize + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = source.Read(buffer, length, buffer.Length - length);
                if (read == 0)
                {
                    break;
                }
                length += read;
                if (length > maxSize)
                {
                    Throw(DecompressedMessageExceedsLimitStatus);
                }
            }
            return buffer;
        }
        catch (InvalidDataException)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Throw(DecompressFailedStatus);
            return null;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>Writes one framed message. <paramref name="gzip"/> compresses it (flag 1) with a fresh context (doc/compression.md).</summary>
    public static void WriteMessage<T>(IBufferWriter<byte> writer, T message, int? maxSendSize, bool gzip)
        where T : IMessage<T>
    {
        var size = message.CalculateSize();
        if (size > maxSendSize)
        {
            Throw(SendingMessageExceedsLimitStatus);
        }
        if (gzip)
        {
            WriteCompressed(writer, message, size, maxSendSize);
            return;
        }
        if (size <= ContiguousWriteLimit)
        {
            var span = writer.GetSpan(HeaderSize + size);
            span[0] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(span.Slice(1), (uint)size);
            message.WriteTo(span.Slice(HeaderSize, size));
            writer.Advance(HeaderSize + size);
        }
        else
        {
            var header = writer.GetSpan(HeaderSize);
            header[0] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(header.Slice(1), (uint)size);
            writer.Advance(HeaderSize);
            message.WriteTo(writer);
        }
    }

    private static void WriteCompressed<T>(IBufferWriter<byte> writer, T message, int size, int? maxSendSize)
        where T : IMessage<T>
    {
        var raw = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            message.WriteTo(raw.AsSpan(0, size));
            using var compressed = new MemoryStream(size / 2 + 64);
            using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                gz.Write(raw, 0, size);
            }
            var length = (int)compressed.Length;
            if (length > maxSendSize)
            {
                Throw(SendingMessageExceedsLimitStatus);
            }
            var header = writer.GetSpan(HeaderSize);
            header[0] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(header.Slice(1), (uint)length);
            writer.Advance(HeaderSize);
            writer.Write(new ReadOnlySpan<byte>(compressed.GetBuffer(), 0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    [DoesNotReturn]
    public static void Throw(Status status) => throw new RpcException(status);

    [DoesNotReturn]
    private static void ThrowBadFlag(byte flag) => throw new RpcException(new Status(StatusCode.Internal, $"Unexpected compressed flag value {flag} in the message prefix; only 0 and 1 are defined."));
}

/// <summary>A read-only stream over a <see cref="ReadOnlySequence{T}"/>, for GZipStream.</summary>
internal sealed class ReadOnlySequenceStream(ReadOnlySequence<byte> sequence) : Stream
{
    private ReadOnlySequence<byte> _remaining = sequence;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, _remaining.Length);
        _remaining.Slice(0, n).CopyTo(buffer);
        _remaining = _remaining.Slice(n);
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
