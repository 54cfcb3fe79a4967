using System.Net;
using Google.Protobuf;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>What goes over the wire, checked with a raw HTTP/2 client (PROTOCOL-HTTP2.md).</summary>
[Collection(ServerCollection.Name)]
public sealed class ProtocolTests(ServerFixture server) : IDisposable
{
    private const string Echo = "/optout.interop.v1.InteropTest/UnaryEcho";
    private readonly HttpClient _http = RawGrpc.CreateClient();

    public void Dispose() => _http.Dispose();

    private async Task<(HttpResponseMessage Response, byte[] Body)> SendAsync(string path, HttpContent content, string? contentType = "application/grpc", Action<HttpRequestMessage>? configure = null)
    {
        var request = RawGrpc.Request(server.Address, path, content, contentType);
        configure?.Invoke(request);
        var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        return (response, body);
    }

    [Fact]
    public async Task Ok_SendsHeadersMessageThenGrpcStatusZeroInTrailers()
    {
        var (response, body) = await SendAsync(Echo, new ByteArrayContent(RawGrpc.Frame(new EchoRequest { Message = "hi" })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        Assert.Equal("hi", EchoResponse.Parser.ParseFrom(body.AsSpan(5)).Message);
    }

    [Fact]
    public async Task ErrorBeforeAnyMessage_IsTrailersOnly()
    {
        var (response, body) = await SendAsync("/optout.interop.v1.InteropTest/Fail", new ByteArrayContent(RawGrpc.Frame(new FailRequest { Code = 5, Message = "100% ünknown" })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(body);
        Assert.Equal("5", RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("100%25 %C3%BCnknown", RawGrpc.Header(response.Headers, "grpc-message"));
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(response.TrailingHeaders);
    }

    [Fact]
    public async Task ErrorAfterMessages_IsInTrailers()
    {
        var (response, body) = await SendAsync("/optout.interop.v1.InteropTest/ServerStream",
            new ByteArrayContent(RawGrpc.Frame(new StreamRequest { Count = 2, FailAfter = 2, FailCode = 10, Message = "x" })));
        Assert.Null(RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("10", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        Assert.True(body.Length > 10);
    }

    [Theory]
    [InlineData(null, "Content-Type is missing from the request.")]
    [InlineData("application/json", "Content-Type 'application/json' is not supported.")]
    [InlineData("application/grpcx", "Content-Type 'application/grpcx' is not supported.")]
    public async Task WrongContentType_Is415WithGrpcStatus13(string? contentType, string message)
    {
        var content = new ByteArrayContent(RawGrpc.Frame(new EchoRequest()));
        var (response, _) = await SendAsync(Echo, content, contentType);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("13", RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal(message, Uri.UnescapeDataString(RawGrpc.Header(response.Headers, "grpc-message")!));
    }

    [Theory]
    [InlineData("application/grpc+proto")]
    [InlineData("application/grpc; charset=utf-8")]
    [InlineData("APPLICATION/GRPC")]
    public async Task ContentTypeVariants_AreAccepted(string contentType)
    {
        var (response, _) = await SendAsync(Echo, new ByteArrayContent(RawGrpc.Frame(new EchoRequest { Message = "v" })), contentType);
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task Http1Request_Is426UpgradeRequired()
    {
        using var http1 = new HttpClient();
        var request = RawGrpc.Request(server.Http1Address, Echo, new ByteArrayContent(RawGrpc.Frame(new EchoRequest())), version: HttpVersion.Version11);
        var response = await http1.SendAsync(request);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Equal("13", RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("Request protocol 'HTTP/1.1' is not supported.", Uri.UnescapeDataString(RawGrpc.Header(response.Headers, "grpc-message")!));
    }

    [Fact]
    public async Task UnknownPath_WithoutGrpcContentType_IsPlain404()
    {
        var (response, _) = await SendAsync("/no.Such/Thing", new ByteArrayContent([]), "text/plain");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(RawGrpc.Header(response.Headers, "grpc-status"));
    }

    [Fact]
    public async Task UnknownPath_WithGrpcContentType_IsTrailersOnly12()
    {
        var (response, _) = await SendAsync("/no.Such/Thing", new ByteArrayContent(RawGrpc.Frame(new EchoRequest())));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("12", RawGrpc.Header(response.Headers, "grpc-status"));
    }

    [Fact]
    public async Task MessageSplitIntoOneByteDataFrames_IsReassembled()
    {
        var framed = RawGrpc.Frame(new EchoRequest { Message = "split across many frames" });
        var chunks = framed.Select(b => new[] { b }).ToList();
        var (response, body) = await SendAsync(Echo, new ChunkedContent(chunks));
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        Assert.Equal("split across many frames", EchoResponse.Parser.ParseFrom(body.AsSpan(5)).Message);
    }

    [Fact]
    public async Task SeveralMessagesInOneDataFrame_AreAllRead()
    {
        var packed = Enumerable.Range(0, 10).SelectMany(i => RawGrpc.Frame(new EchoRequest { Message = i.ToString() })).ToArray();
        var (response, body) = await SendAsync("/optout.interop.v1.InteropTest/ClientStream", new ChunkedContent([packed]));
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        Assert.Equal("0,1,2,3,4,5,6,7,8,9", Summary.Parser.ParseFrom(body.AsSpan(5)).Joined);
    }

    [Fact]
    public async Task PrefixSplitAcrossFrames_InStream_IsReassembled()
    {
        var a = RawGrpc.Frame(new EchoRequest { Message = "a" });
        var b = RawGrpc.Frame(new EchoRequest { Message = "b" });
        var all = a.Concat(b).ToArray();
        // Cut inside the second prefix.
        var (response, body) = await SendAsync("/optout.interop.v1.InteropTest/ClientStream", new ChunkedContent([all[..(a.Length + 2)], all[(a.Length + 2)..]]));
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        Assert.Equal("a,b", Summary.Parser.ParseFrom(body.AsSpan(5)).Joined);
    }

    public static TheoryData<string, byte[], string, string> BadBodies() => new()
    {
        { Echo, RawGrpc.Frame([1, 2], flag: 2), "13", "Unexpected compressed flag value 2" },
        { Echo, [0, 0xFF, 0xFF, 0xFF, 0xFF], "8", "Received message exceeds the maximum configured message size." },
        { Echo, [0, 0x00, 0x50, 0x00, 0x01], "8", "Received message exceeds the maximum configured message size." },
        { Echo, [0, 0, 0, 0, 10, 1, 2], "13", "Incomplete message." },
        { Echo, [], "13", "Incomplete message." },
        { Echo, [.. RawGrpc.Frame(new EchoRequest { Message = "a" }), 0, 0], "13", "Additional data after the message received." },
        { Echo, [.. RawGrpc.Frame(new EchoRequest()), .. RawGrpc.Frame(new EchoRequest())], "13", "Additional data after the message received." },
        { Echo, RawGrpc.Frame([0x0A, 0x05, 0x41], flag: 0), "13", "Failed to deserialize request message." },
        { "/optout.interop.v1.InteropTest/ClientStream", [0, 0, 0, 0, 3, 10], "13", "Incomplete message." },
        { Echo, RawGrpc.Frame([1, 2, 3], flag: 1), "13", "Message is compressed (flag 1) but grpc-encoding is missing or identity." },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task MalformedRequestBody_GivesClearStatus(string path, byte[] body, string status, string messageStart)
    {
        var (response, _) = await SendAsync(path, new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var headers = RawGrpc.Header(response.Headers, "grpc-status") is null ? response.TrailingHeaders : (System.Net.Http.Headers.HttpHeaders)response.Headers;
        Assert.Equal(status, RawGrpc.Header(headers, "grpc-status"));
        Assert.StartsWith(messageStart, Uri.UnescapeDataString(RawGrpc.Header(headers, "grpc-message") ?? ""));
    }

    [Fact]
    public async Task UnsupportedEncoding_IsUnimplementedAndListsSupportedOnes()
    {
        var (response, _) = await SendAsync(Echo, new ByteArrayContent(RawGrpc.Frame([1, 2, 3], flag: 1)),
            configure: r => r.Headers.TryAddWithoutValidation("grpc-encoding", "snappy"));
        Assert.Equal("12", RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("Unsupported grpc-encoding value 'snappy'. Supported encodings: identity, gzip", Uri.UnescapeDataString(RawGrpc.Header(response.Headers, "grpc-message")!));
        var accept = RawGrpc.Header(response.Headers, "grpc-accept-encoding")!;
        Assert.DoesNotContain("snappy", accept);
        Assert.Contains("gzip", accept);
    }

    [Fact]
    public async Task GzipBomb_IsRejectedByDecompressedSizeCap()
    {
        // 64 MiB of zeros compresses to ~64 KiB: under the 4 MiB receive limit, far over it once inflated.
        using var ms = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 64; i++)
            {
                gz.Write(zeros);
            }
        }
        var (response, _) = await SendAsync(Echo, new ByteArrayContent(RawGrpc.Frame(ms.ToArray(), flag: 1)),
            configure: r => r.Headers.TryAddWithoutValidation("grpc-encoding", "gzip"));
        Assert.Equal("8", RawGrpc.Header(response.Headers, "grpc-status"));
        Assert.Equal("Decompressed message exceeds the maximum configured message size.", Uri.UnescapeDataString(RawGrpc.Header(response.Headers, "grpc-message")!));
    }

    [Fact]
    public async Task CorruptGzip_IsInternal()
    {
        var (response, _) = await SendAsync(Echo, new ByteArrayContent(RawGrpc.Frame([0x50, 0x4B, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9, 9], flag: 1)),
            configure: r => r.Headers.TryAddWithoutValidation("grpc-encoding", "gzip"));
        Assert.Equal("13", RawGrpc.Header(response.Headers, "grpc-status"));
    }

    [Fact]
    public async Task ServerDeadline_SendsStatus4AndCancelsHandler()
    {
        var id = Guid.NewGuid().ToString();
        var request = RawGrpc.Request(server.Address, "/optout.interop.v1.InteropTest/Sleep", new ByteArrayContent(RawGrpc.Frame(new SleepRequest { Ms = 10_000, Id = id })));
        request.Headers.TryAddWithoutValidation("grpc-timeout", "200m");
        var started = DateTime.UtcNow;
        var response = await _http.SendAsync(request);
        try
        {
            await response.Content.ReadAsByteArrayAsync();
        }
        catch (HttpRequestException)
        {
            // The stream may be reset (CANCEL) right after the status: PROTOCOL-HTTP2.md allows it.
        }
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(8), "the 200 ms deadline must end the 10 s handler early");
        Assert.Equal("4", RawGrpc.Header(response.Headers, "grpc-status") ?? RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
        using var channel = GrpcChannel.ForAddress(server.Address);
        var outcome = await channel.UnaryAsync(Methods.SleepOutcome, new OutcomeQuery { Id = id, WaitMs = 5000 });
        Assert.True(outcome.Cancelled);
    }

    [Theory]
    [InlineData("0S")]
    [InlineData("bogus")]
    [InlineData("-5S")]
    public async Task InvalidOrZeroTimeout_IsIgnored(string timeout)
    {
        var request = RawGrpc.Request(server.Address, "/optout.interop.v1.InteropTest/Sleep", new ByteArrayContent(RawGrpc.Frame(new SleepRequest { Ms = 50, Id = Guid.NewGuid().ToString() })));
        request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task RequestWithoutTe_IsStillServed()
    {
        var request = RawGrpc.Request(server.Address, Echo, new ByteArrayContent(RawGrpc.Frame(new EchoRequest { Message = "no te" })));
        request.Headers.Remove("te");
        var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal("0", RawGrpc.Header(response.TrailingHeaders, "grpc-status"));
    }

    [Fact]
    public async Task DuplicateBinaryHeaders_JoinedWithComma_AreSplitBeforeDecoding()
    {
        var request = RawGrpc.Request(server.Address, "/optout.interop.v1.InteropTest/EchoMetadata", new ByteArrayContent(RawGrpc.Frame(new EchoRequest())));
        request.Headers.TryAddWithoutValidation("multi-bin", "AAE,/w==");
        var response = await _http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var pairs = MetadataResponse.Parser.ParseFrom(body.AsSpan(5)).Pairs.Where(p => p.Key == "multi-bin").ToList();
        Assert.Equal(2, pairs.Count);
        Assert.Equal(new byte[] { 0, 1 }, pairs[0].ValueBytes.ToByteArray());
        Assert.Equal(new byte[] { 0xFF }, pairs[1].ValueBytes.ToByteArray());
    }
}
