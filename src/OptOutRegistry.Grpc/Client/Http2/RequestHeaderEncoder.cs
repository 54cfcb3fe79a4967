using System.Net.Http.Headers;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>
/// Builds a request's HPACK header block: the pre-encoded pseudo-headers of its method, then the request and content
/// headers as literals (see <see cref="HpackEncoder"/>). Connection-specific headers are dropped (RFC 7540 8.1.2.2).
/// </summary>
internal static class RequestHeaderEncoder
{
    /// <summary>An encoded run of header fields and its header-list size (RFC 7540 6.5.2).</summary>
    internal sealed record Block(byte[] Bytes, int ListSize);

    /// <summary>The call-definition fields every unary call of a channel sends (PROTOCOL-HTTP2.md "Requests").</summary>
    public static Block EncodeCallDefinition(bool gzip)
    {
        var fields = new List<(string Name, string Value)>
        {
            (GrpcProtocolConstants.TeHeader, GrpcProtocolConstants.TeTrailers),
            ("content-type", GrpcProtocolConstants.GrpcContentType),
            ("user-agent", GrpcProtocolConstants.UserAgent),
            (GrpcProtocolConstants.MessageAcceptEncodingHeader, GrpcProtocolConstants.SupportedAcceptEncoding),
        };
        if (gzip)
        {
            fields.Add((GrpcProtocolConstants.MessageEncodingHeader, GrpcProtocolConstants.GzipEncoding));
        }
        var buffer = new byte[1024];
        var pos = 0;
        var listSize = 0;
        foreach (var (name, value) in fields)
        {
            var index = HpackEncoder.StaticNameIndex(name);
            pos += HpackEncoder.WriteLiteral(buffer.AsSpan(pos), index, index == 0 ? name : null, value);
            listSize += name.Length + value.Length + 32;
        }
        return new Block(buffer.AsSpan(0, pos).ToArray(), listSize);
    }

    /// <summary>
    /// A direct unary call's header block: pseudo-headers, grpc-timeout, the call definition, then custom metadata
    /// (reserved names skipped, as on the HttpClient path; -bin values base64 without padding). Per-thread buffer as
    /// <see cref="Encode"/>.
    /// </summary>
    public static ReadOnlySpan<byte> EncodeDirect(byte[] pseudoHeaders, string? timeout, Block callDefinition, Metadata? metadata, out int headerListSize)
    {
        var size = pseudoHeaders.Length + callDefinition.Bytes.Length + (timeout is null ? 0 : HpackEncoder.MaxLiteralSize(12, timeout.Length));
        if (metadata is not null)
        {
            foreach (var entry in metadata)
            {
                size += HpackEncoder.MaxLiteralSize(entry.Key.Length, entry.IsBinary ? ((entry.ValueBytes.Length + 2) / 3 * 4) : entry.Value.Length);
            }
        }
        var buffer = t_buffer;
        if (buffer is null || buffer.Length < size)
        {
            t_buffer = buffer = new byte[Math.Max(size, 1024)];
        }
        pseudoHeaders.CopyTo(buffer, 0);
        var pos = pseudoHeaders.Length;
        headerListSize = pseudoHeaders.Length + (4 * 32) + callDefinition.ListSize;
        if (timeout is not null)
        {
            pos += HpackEncoder.WriteLiteral(buffer.AsSpan(pos), 0, GrpcProtocolConstants.TimeoutHeader, timeout);
            headerListSize += 12 + timeout.Length + 32;
        }
        callDefinition.Bytes.CopyTo(buffer, pos);
        pos += callDefinition.Bytes.Length;
        if (metadata is not null)
        {
            foreach (var entry in metadata)
            {
                // User metadata must not override the deadline or the protocol headers.
                if (entry.Key is GrpcProtocolConstants.TimeoutHeader or "content-type" or GrpcProtocolConstants.TeHeader
                    or GrpcProtocolConstants.MessageEncodingHeader or GrpcProtocolConstants.MessageAcceptEncodingHeader)
                {
                    continue;
                }
                var value = entry.IsBinary ? GrpcProtocolHelpers.EncodeBase64(entry.ValueBytes) : entry.Value;
                pos += HpackEncoder.WriteLiteral(buffer.AsSpan(pos), 0, entry.Key, value);
                headerListSize += entry.Key.Length + value.Length + 32;
            }
        }
        return buffer.AsSpan(0, pos);
    }

    [ThreadStatic]
    private static byte[]? t_buffer;

    /// <summary>
    /// Encodes into a per-thread buffer; the span is valid until the thread encodes again, which the caller does not
    /// do before copying it into the connection's write buffer (no await in between).
    /// </summary>
    public static ReadOnlySpan<byte> Encode(byte[] pseudoHeaders, HttpRequestMessage request, out int headerListSize)
    {
        // RFC 7540 6.5.2 counts a field as name + value + 32; the four pseudo-headers are approximated by their encoding.
        headerListSize = pseudoHeaders.Length + (4 * 32) + ListSize(request.Headers) + (request.Content is { } c ? ListSize(c.Headers) : 0);
        var size = pseudoHeaders.Length + Measure(request.Headers);
        if (request.Content is { } content)
        {
            size += Measure(content.Headers);
        }
        var buffer = t_buffer;
        if (buffer is null || buffer.Length < size)
        {
            t_buffer = buffer = new byte[Math.Max(size, 1024)];
        }
        pseudoHeaders.CopyTo(buffer, 0);
        var pos = pseudoHeaders.Length;
        pos += Write(request.Headers, buffer.AsSpan(pos));
        if (request.Content is { } body)
        {
            pos += Write(body.Headers, buffer.AsSpan(pos));
        }
        return buffer.AsSpan(0, pos);
    }

    private static int ListSize(HttpHeaders headers)
    {
        var size = 0;
        foreach (var header in headers.NonValidated)
        {
            foreach (var value in header.Value)
            {
                size += header.Key.Length + value.Length + 32;
            }
        }
        return size;
    }

    private static int Measure(HttpHeaders headers)
    {
        var size = 0;
        foreach (var header in headers.NonValidated)
        {
            foreach (var value in header.Value)
            {
                size += HpackEncoder.MaxLiteralSize(header.Key.Length, value.Length);
            }
        }
        return size;
    }

    private static int Write(HttpHeaders headers, Span<byte> destination)
    {
        var pos = 0;
        foreach (var header in headers.NonValidated)
        {
            var name = header.Key;
            if (IsConnectionSpecific(name))
            {
                continue;
            }
            var index = HpackEncoder.StaticNameIndex(name);
            foreach (var value in header.Value)
            {
                pos += HpackEncoder.WriteLiteral(destination.Slice(pos), index, index == 0 ? name : null, value);
            }
        }
        return pos;
    }

    private static bool IsConnectionSpecific(string name) => name.Length switch
    {
        4 => string.Equals(name, "host", StringComparison.OrdinalIgnoreCase),
        7 => string.Equals(name, "upgrade", StringComparison.OrdinalIgnoreCase),
        10 => string.Equals(name, "connection", StringComparison.OrdinalIgnoreCase) || string.Equals(name, "keep-alive", StringComparison.OrdinalIgnoreCase),
        16 => string.Equals(name, "proxy-connection", StringComparison.OrdinalIgnoreCase),
        17 => string.Equals(name, "transfer-encoding", StringComparison.OrdinalIgnoreCase),
        _ => false,
    };
}
