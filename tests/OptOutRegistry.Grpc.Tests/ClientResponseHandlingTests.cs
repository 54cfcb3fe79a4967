using System.Net;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// How our client reads crafted responses (doc/http-grpc-status-mapping.md, PROTOCOL-HTTP2.md), through a handler
/// that answers without a network so that any malformed response can be produced.
/// </summary>
public sealed class ClientResponseHandlingTests
{
    private sealed class CannedHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public HttpRequestMessage? LastRequest { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            LastRequest = request;
            var response = respond(request);
            response.RequestMessage = request;
            return Task.FromResult(response);
        }
    }

    private static HttpResponseMessage Response(HttpStatusCode code = HttpStatusCode.OK, byte[]? body = null, string? contentType = "application/grpc",
        (string, string)[]? headers = null, (string, string)[]? trailers = null, Version? version = null)
    {
        var content = new ByteArrayContent(body ?? []);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("content-type", contentType);
        }
        var response = new HttpResponseMessage(code) { Version = version ?? HttpVersion.Version20, Content = content };
        foreach (var (k, v) in headers ?? [])
        {
            response.Headers.TryAddWithoutValidation(k, v);
        }
        foreach (var (k, v) in trailers ?? [])
        {
            response.TrailingHeaders.TryAddWithoutValidation(k, v);
        }
        return response;
    }

    private static async Task<RpcException> CallExpectingError(Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = new CannedHandler(respond), DisposeHttpHandler = true });
        return await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()));
    }

    public static TheoryData<int, StatusCode> HttpStatuses() => new()
    {
        { 400, StatusCode.Internal },
        { 401, StatusCode.Unauthenticated },
        { 403, StatusCode.PermissionDenied },
        { 404, StatusCode.Unimplemented },
        { 429, StatusCode.Unavailable },
        { 502, StatusCode.Unavailable },
        { 503, StatusCode.Unavailable },
        { 504, StatusCode.Unavailable },
        { 500, StatusCode.Unknown },
    };

    [Theory]
    [MemberData(nameof(HttpStatuses))]
    public async Task NonOkHttpStatusWithoutGrpcStatus_IsMapped(int http, StatusCode expected)
    {
        var ex = await CallExpectingError(_ => Response((HttpStatusCode)http, contentType: "text/html"));
        Assert.Equal(expected, ex.StatusCode);
        Assert.Contains(http.ToString(), ex.Status.Detail);
    }

    [Fact]
    public async Task GrpcStatusInHeaders_WinsOverHttpStatus()
    {
        var ex = await CallExpectingError(_ => Response(HttpStatusCode.ServiceUnavailable, headers: [("grpc-status", "7"), ("grpc-message", "nope")]));
        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal("nope", ex.Status.Detail);
    }

    [Fact]
    public async Task MissingGrpcStatus_IsUnknown()
    {
        var ex = await CallExpectingError(_ => Response(body: RawGrpc.Frame(new EchoResponse { Message = "x" })));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.Equal("No grpc-status found on response.", ex.Status.Detail);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData(" 0")]
    public async Task NonIntegerGrpcStatus_IsUnknownNamingTheValue(string value)
    {
        var ex = await CallExpectingError(_ => Response(body: RawGrpc.Frame(new EchoResponse()), trailers: [("grpc-status", value)]));
        Assert.Equal(StatusCode.Unknown, ex.StatusCode);
        Assert.Contains("grpc-status", ex.Status.Detail);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/grpcx")]
    public async Task WrongResponseContentType_IsBadGrpcResponse(string? contentType)
    {
        var ex = await CallExpectingError(_ => Response(body: RawGrpc.Frame(new EchoResponse()), contentType: contentType, trailers: [("grpc-status", "0")]));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.StartsWith("Bad gRPC response.", ex.Status.Detail);
    }

    [Fact]
    public async Task Http11Response_IsInternal()
    {
        var ex = await CallExpectingError(_ => Response(version: HttpVersion.Version11));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("HTTP/1.1", ex.Status.Detail);
    }

    [Fact]
    public async Task TrailersOnlyOk_ForUnary_IsInternal()
    {
        var ex = await CallExpectingError(_ => Response(headers: [("grpc-status", "0")]));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
    }

    [Fact]
    public async Task OkWithoutMessage_ForUnary_IsInternal()
    {
        var ex = await CallExpectingError(_ => Response(trailers: [("grpc-status", "0")]));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Equal("Failed to deserialize response message.", ex.Status.Detail);
    }

    [Fact]
    public async Task TruncatedResponseMessage_IsInternal()
    {
        var ex = await CallExpectingError(_ => Response(body: RawGrpc.Frame(new EchoResponse { Message = "hello" })[..8], trailers: [("grpc-status", "0")]));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Equal("Incomplete message.", ex.Status.Detail);
    }

    [Fact]
    public async Task MalformedPercentEncoding_IsKeptNotDropped()
    {
        var ex = await CallExpectingError(_ => Response(headers: [("grpc-status", "9"), ("grpc-message", "50%off %zz %C3%A9")]));
        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal("50%off %zz é", ex.Status.Detail);
    }

    [Fact]
    public async Task RequestHeaders_FollowTheSpec()
    {
        var handler = new CannedHandler(_ => Response(body: RawGrpc.Frame(new EchoResponse()), trailers: [("grpc-status", "0")]));
        using var channel = GrpcChannel.ForAddress("http://localhost:1234", new GrpcChannelOptions { HttpHandler = handler, CompressionEncoding = "gzip" });
        var metadata = new Metadata { { "grpc-timeout", "1S" }, { "x-id", "7" }, { "trace-bin", new byte[] { 0xFB, 0xFF } } };
        await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest(), new CallOptions(metadata, DateTime.UtcNow.AddSeconds(30)));
        var request = handler.LastRequest!;
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("http://localhost:1234/optout.interop.v1.InteropTest/UnaryEcho", request.RequestUri!.ToString());
        Assert.Equal(HttpVersion.Version20, request.Version);
        Assert.Equal(HttpVersionPolicy.RequestVersionExact, request.VersionPolicy);
        Assert.Equal("trailers", RawGrpc.Header(request.Headers, "te"));
        Assert.Equal("application/grpc", RawGrpc.Header(request.Content!.Headers, "content-type"));
        Assert.Equal("gzip", RawGrpc.Header(request.Headers, "grpc-encoding"));
        Assert.Contains("gzip", RawGrpc.Header(request.Headers, "grpc-accept-encoding"));
        var timeout = RawGrpc.Header(request.Headers, "grpc-timeout")!;
        Assert.DoesNotContain(",", timeout);
        Assert.True(Internal.GrpcProtocolHelpers.TryDecodeTimeout(timeout, out var t) && t > TimeSpan.FromSeconds(25), $"user metadata must not override the deadline: {timeout}");
        Assert.Equal("7", RawGrpc.Header(request.Headers, "x-id"));
        Assert.Equal("+/8", RawGrpc.Header(request.Headers, "trace-bin"));
        Assert.StartsWith("grpc-", RawGrpc.Header(request.Headers, "user-agent"));
    }

    /// <summary>A response body that hands out at most <c>chunk</c> bytes per read, counting what was read.</summary>
    private sealed class TrickleStream(byte[] body, int chunk) : Stream
    {
        public int BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, chunk), body.Length - BytesRead);
            body.AsSpan(BytesRead, n).CopyTo(buffer.AsSpan(offset));
            BytesRead += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Each read completes asynchronously, as network reads do.
            await Task.Yield();
            var n = Math.Min(Math.Min(buffer.Length, chunk), body.Length - BytesRead);
            body.AsSpan(BytesRead, n).CopyTo(buffer.Span);
            BytesRead += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class TrickleContent(TrickleStream stream) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream target, System.Net.TransportContext? context) => stream.CopyToAsync(target);

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }

        protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(stream);
    }

    private static HttpResponseMessage Trickled(TrickleStream stream, string grpcStatus = "0")
    {
        var content = new TrickleContent(stream);
        content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = content };
        response.TrailingHeaders.TryAddWithoutValidation("grpc-status", grpcStatus);
        return response;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public async Task UnaryResponse_SplitAcrossReads_IsReassembled(int chunk)
    {
        // B3: reads do not line up with messages; a 40 KB payload also outgrows the 16 KiB initial read buffer.
        var payload = Google.Protobuf.ByteString.CopyFrom(Enumerable.Range(0, 40_000).Select(i => (byte)i).ToArray());
        var body = RawGrpc.Frame(new EchoResponse { Message = "hello", Payload = payload });
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new CannedHandler(_ => Trickled(new TrickleStream(body, chunk))),
            DisposeHttpHandler = true,
        });
        var response = await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest());
        Assert.Equal("hello", response.Message);
        Assert.Equal(payload, response.Payload);
    }

    [Fact]
    public async Task UnaryResponse_WithTwoMessages_IsInternal()
    {
        var one = RawGrpc.Frame(new EchoResponse { Message = "a" });
        var ex = await CallExpectingError(_ => Trickled(new TrickleStream([.. one, .. one], 3)));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Equal("Unary response had more than one message.", ex.Status.Detail);
    }

    [Fact]
    public async Task UnaryResponse_OverReceiveLimit_IsRejectedOnThePrefixBeforeThePayloadIsRead()
    {
        var body = RawGrpc.Frame(new EchoResponse { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[1000]) });
        var stream = new TrickleStream(body, 1);
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new CannedHandler(_ => Trickled(stream)),
            DisposeHttpHandler = true,
            MaxReceiveMessageSize = 100,
        });
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal("Received message exceeds the maximum configured message size.", ex.Status.Detail);
        Assert.Equal(5, stream.BytesRead);
    }

    [Fact]
    public async Task UnaryResponse_MessageThenErrorStatus_ReportsTheStatus()
    {
        var body = RawGrpc.Frame(new EchoResponse { Message = "partial" });
        var ex = await CallExpectingError(_ => Trickled(new TrickleStream(body, 2), grpcStatus: "10"));
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
    }
}
