using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>Raw HTTP/2 requests for protocol-level assertions that our client would hide.</summary>
public static class RawGrpc
{
    public static byte[] Frame(IMessage message, byte flag = 0)
    {
        var body = message.ToByteArray();
        return Frame(body, flag);
    }

    public static byte[] Frame(byte[] body, byte flag = 0)
    {
        var framed = new byte[5 + body.Length];
        framed[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        return framed;
    }

    public static HttpClient CreateClient() => new(new SocketsHttpHandler(), disposeHandler: true)
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static HttpRequestMessage Request(string address, string path, HttpContent content, string? contentType = "application/grpc", Version? version = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, address.TrimEnd('/') + path)
        {
            Version = version ?? HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (contentType is not null)
        {
            content.Headers.ContentType = null;
            content.Headers.TryAddWithoutValidation("content-type", contentType);
        }
        return request;
    }

    public static string? Header(HttpHeaders headers, string name)
        => headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}

/// <summary>Sends the given chunks, flushing after each, so each goes out in its own DATA frame(s).</summary>
public sealed class ChunkedContent(IReadOnlyList<byte[]> chunks) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        foreach (var chunk in chunks)
        {
            await stream.WriteAsync(chunk);
            await stream.FlushAsync();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
