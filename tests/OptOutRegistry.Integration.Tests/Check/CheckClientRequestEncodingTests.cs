using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// CheckClient writes CheckBatch requests with its own encoder (CheckBatchRequestWriter): the bytes on the wire must be
/// exactly Google.Protobuf's encoding of the same request, whatever the subjects hold. A handler without a network
/// captures the request and answers with crafted responses, so hostile answers can be produced too.
/// </summary>
public sealed class CheckClientRequestEncodingTests
{
    public static TheoryData<string> Shapes() =>
    [
        "empty", "ascii-1000", "non-ascii", "every-subject-kind", "long-urls", "request-fields", "unknown-fields", "ten-thousand",
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task Request_OnTheWire_IsGoogleProtobufsEncodingOfTheSameRequest(string shape)
    {
        var request = Build(shape);
        var handler = new CannedHandler(_ => Ok(Answer(request.Subjects.Count)));
        await using var client = Client(handler);

        var response = await client.CheckBatchAsync(request);

        Assert.Equal(request.Subjects.Count, response.Results.Count);
        var sent = handler.Requests.Single();
        Assert.Equal(0, sent[0]); // not compressed
        Assert.Equal(sent.Length - 5, (int)BinaryPrimitives.ReadUInt32BigEndian(sent.AsSpan(1)));
        var expected = request.ToByteArray();
        Assert.Equal(expected.Length, sent.Length - 5);
        Assert.True(expected.AsSpan().SequenceEqual(sent.AsSpan(5)), $"{shape}: bytes differ from Google.Protobuf's");
        // What the server reads is what Google.Protobuf's own bytes say (a lone surrogate is U+FFFD in both).
        Assert.Equal(Pb.CheckBatchRequest.Parser.ParseFrom(expected), Pb.CheckBatchRequest.Parser.ParseFrom(sent.AsSpan(5)));
    }

    [Fact]
    public async Task SameRequestSentTwice_AfterAChange_CarriesTheChange()
    {
        // The encoder keeps per-subject sizes between measuring and writing; a request changed between calls is measured again.
        var request = Build("ascii-1000");
        var handler = new CannedHandler(r => Ok(Answer(CountSubjects(r))));
        await using var client = Client(handler);
        await client.CheckBatchAsync(request);
        request.Subjects[3].Url = "https://example.kz/кітап/" + new string('x', 300);
        request.Subjects.RemoveAt(7);
        await client.CheckBatchAsync(request);

        Assert.Equal(2, handler.Requests.Count);
        Assert.True(request.ToByteArray().AsSpan().SequenceEqual(handler.Requests[1].AsSpan(5)));
    }

    [Fact]
    public async Task SingleChecks_TravelWithTheSameEncoding()
    {
        var handler = new CannedHandler(r => Ok(Answer(CountSubjects(r))));
        await using var client = Client(handler);

        var result = await client.CheckUrlAsync("https://пример.kz/страница?q=ü", Pb.UsageCategory.TrainGenai);

        Assert.Equal(Pb.Verdict.Allowed, result.Verdict);
        var expected = new Pb.CheckBatchRequest
        {
            Purpose = Pb.UsageCategory.TrainGenai,
            IncludeMatches = true,
            Subjects = { new Pb.Subject { Url = "https://пример.kz/страница?q=ü" } },
        };
        Assert.True(expected.ToByteArray().AsSpan().SequenceEqual(handler.Requests.Single().AsSpan(5)));
    }

    public static TheoryData<string> ResponseShapes() =>
    [
        "verdicts", "provenance-and-errors", "sequence-and-request-id", "unknown-fields", "fields-out-of-order", "end-group-tag",
        "result-with-unknown-wire-type",
    ];

    [Theory]
    [MemberData(nameof(ResponseShapes))]
    public async Task Response_IsReadAsGoogleProtobufReadsIt(string shape)
    {
        // CheckClient reads responses with its own reader (CheckBatchResponseReader): whatever the bytes, the caller gets
        // what the generated parser makes of them (or INTERNAL where that parser fails).
        var (message, subjects) = ResponseBytes(shape);
        Pb.CheckBatchResponse? expected = null;
        try
        {
            expected = Pb.CheckBatchResponse.Parser.ParseFrom(message);
        }
        catch (InvalidProtocolBufferException)
        {
            // The generated parser rejects these bytes: the call must fail with INTERNAL, below.
        }

        var handler = new CannedHandler(_ => Frame(message));
        await using var client = Client(handler);
        var request = new Pb.CheckBatchRequest();
        for (var i = 0; i < subjects; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = $"https://example.kz/{i}" });
        }

        if (expected is null)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => client.CheckBatchAsync(request));
            Assert.Equal(StatusCode.Internal, error.StatusCode);
            return;
        }

        var response = await client.CheckBatchAsync(request);

        Assert.Equal(expected, response);
        Assert.True(expected.ToByteArray().AsSpan().SequenceEqual(response.ToByteArray()), $"{shape}: re-encoded bytes differ");
    }

    private static (byte[] Message, int Subjects) ResponseBytes(string shape)
    {
        var full = new Pb.CheckBatchResponse { AsOfSequence = 1234567890123, RequestId = "req-7/ü" };
        full.Results.Add(new Pb.CheckResult { Verdict = Pb.Verdict.Disallowed, Matches = { new Pb.Match { ReservationId = "r-1", Verified = true, PolicyUrl = "https://example.kz/policy" } } });
        full.Results.Add(new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = "url: not an absolute http(s) URL" });
        full.Results.Add(new Pb.CheckResult { Verdict = Pb.Verdict.Allowed });
        return shape switch
        {
            "verdicts" => (Answer(1000).ToByteArray(), 1000),
            "provenance-and-errors" => (new Pb.CheckBatchResponse { Results = { full.Results } }.ToByteArray(), 3),
            "sequence-and-request-id" => (full.ToByteArray(), 3),
            // Fields 9 (varint) and 10 (length-delimited) are unknown to this client; they must survive a re-encode.
            "unknown-fields" => ([.. full.ToByteArray(), 0x48, 0x2A, 0x52, 0x02, 0x68, 0x69], 3),
            // request_id and as_of_sequence before the results, results split around them.
            "fields-out-of-order" => ([.. new Pb.CheckBatchResponse { RequestId = "x", AsOfSequence = 5 }.ToByteArray(), .. Answer(2).ToByteArray(), .. Answer(1).ToByteArray()], 3),
            // An end-group tag (field 7, wire type 4) stops the message; what follows is not read.
            "end-group-tag" => ([.. Answer(2).ToByteArray(), 0x3C, .. Answer(1).ToByteArray()], 2),
            // A result carrying a fixed32 field the client does not know.
            "result-with-unknown-wire-type" => ([0x0A, 0x07, 0x08, 0x01, 0x4D, 0x01, 0x02, 0x03, 0x04], 1),
            _ => throw new ArgumentOutOfRangeException(nameof(shape)),
        };
    }

    public static TheoryData<string, string> HostileAnswers() => new()
    {
        // name, text the RpcException's detail must contain (the request has 1,000 subjects)
        { "truncated-message", "Incomplete message" },
        { "result-length-past-end", "Failed to deserialize response message" },
        { "results-as-varint", "the server answered 0 results for 1000 subjects" },
        { "too-many-results", "the server answered 1001 results for 1000 subjects" },
        { "too-few-results", "the server answered 999 results for 1000 subjects" },
        { "two-messages", "more than one message" },
    };

    [Theory]
    [MemberData(nameof(HostileAnswers))]
    public async Task HostileResponse_IsAClearRpcException(string name, string detail)
    {
        var body = name switch
        {
            // Prefix says 40 bytes, 10 arrive.
            "truncated-message" => Ok(Answer(10))[..10],
            // A result claiming 100 bytes in a 4-byte message.
            "result-length-past-end" => Frame([0x0A, 0x64, 0x08, 0x01]),
            // Field 1 (results, a message) sent as a varint: an unknown field to protobuf, so no results at all.
            "results-as-varint" => Frame([0x08, 0x01]),
            "too-many-results" => Ok(Answer(1001)),
            "too-few-results" => Ok(Answer(999)),
            "two-messages" => [.. Ok(Answer(1000)), .. Ok(Answer(1000))],
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        var handler = new CannedHandler(_ => body);
        await using var client = Client(handler);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CheckBatchAsync(Build("ascii-1000")));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains(detail, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MutatedResponses_AreReadAsGoogleProtobufReadsThem_OrFailWithInternal()
    {
        // A hostile or broken server: 1,500 random mutations (byte changes, truncations, insertions) of a valid answer with
        // provenance, request id and sequence. Whatever the bytes, the caller gets exactly what the generated parser makes of
        // them when that is an answer with one result per subject, and RpcException(Internal) otherwise — never another
        // exception, never a different answer.
        const int Subjects = 3;
        var (valid, _) = ResponseBytes("sequence-and-request-id");
        var random = new Random(20261122);
        var request = new Pb.CheckBatchRequest();
        for (var i = 0; i < Subjects; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = $"https://example.kz/{i}" });
        }

        byte[] current = [];
        var handler = new CannedHandler(_ => Frame(current));
        await using var client = Client(handler);
        int answered = 0, refused = 0;
        for (var round = 0; round < 1500; round++)
        {
            var bytes = new List<byte>(valid);
            for (var edits = random.Next(1, 4); edits > 0 && bytes.Count > 0; edits--)
            {
                var at = random.Next(bytes.Count);
                switch (random.Next(4))
                {
                    case 0:
                        bytes[at] = (byte)random.Next(256);
                        break;
                    case 1:
                        bytes[at] ^= (byte)(1 << random.Next(8));
                        break;
                    case 2:
                        bytes.RemoveRange(at, bytes.Count - at);
                        break;
                    default:
                        bytes.Insert(at, (byte)random.Next(256));
                        break;
                }
            }

            current = [.. bytes];
            Pb.CheckBatchResponse? expected = null;
            try
            {
                expected = Pb.CheckBatchResponse.Parser.ParseFrom(current);
            }
            catch (InvalidProtocolBufferException)
            {
            }

            if (expected is { Results.Count: Subjects })
            {
                var response = await client.CheckBatchAsync(request);
                Assert.Equal(expected, response);
                answered++;
            }
            else
            {
                var error = await Assert.ThrowsAsync<RpcException>(() => client.CheckBatchAsync(request));
                Assert.Equal(StatusCode.Internal, error.StatusCode);
                refused++;
            }
        }

        // Both outcomes must occur, or the mutations did not exercise the reader.
        Assert.True(answered > 50 && refused > 50, $"answered {answered}, refused {refused}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task SingleCheck_AnsweredWithTheWrongNumberOfResults_FailsWithInternal(int results)
    {
        var handler = new CannedHandler(_ => Ok(Answer(results)));
        await using var client = Client(handler);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.CheckUrlAsync("https://example.kz/a", Pb.UsageCategory.TrainAi).AsTask());

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains($"the server answered {results} results for 1 subjects", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NullRequest_IsRejectedBeforeAnythingIsSent()
    {
        var handler = new CannedHandler(_ => Ok(Answer(0)));
        await using var client = Client(handler);

        Assert.Throws<ArgumentNullException>(() => { _ = client.CheckBatchAsync(null!); });
        Assert.Empty(handler.Requests);
    }

    private static Pb.CheckBatchRequest Build(string shape)
    {
        var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
        switch (shape)
        {
            case "empty":
                request.Purpose = Pb.UsageCategory.Unspecified;
                break;
            case "ascii-1000":
                for (var i = 0; i < 1000; i++)
                {
                    request.Subjects.Add(new Pb.Subject { Url = $"https://www.site{i % 97}.example/gallery/{i / 97}/image-{i}.jpg" });
                }

                break;
            case "non-ascii":
                // Two- and three-byte UTF-8, a surrogate pair (4 bytes), a lone surrogate (written as U+FFFD by both), mixed.
                request.Subjects.Add(new Pb.Subject { Url = "https://example.kz/кітаптар/абай.pdf" });
                request.Subjects.Add(new Pb.Subject { Url = "https://例子.测试/页面" });
                request.Subjects.Add(new Pb.Subject { Url = "https://emoji.example/😀/🎨" });
                request.Subjects.Add(new Pb.Subject { Url = "https://broken.example/\ud800x" });
                request.Subjects.Add(new Pb.Subject { Url = "https://plain.example/after" });
                break;
            case "every-subject-kind":
                request.Subjects.Add(new Pb.Subject { Url = "https://example.kz/a" });
                request.Subjects.Add(new Pb.Subject { Sha256 = new string('a', 64) });
                request.Subjects.Add(new Pb.Subject { Iscc = "ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY" });
                request.Subjects.Add(new Pb.Subject { Identifier = "isbn:9780306406157" });
                request.Subjects.Add(new Pb.Subject()); // no case set: an empty message
                request.Subjects.Add(new Pb.Subject { Url = "" }); // case set to an empty string: still written
                break;
            case "long-urls":
                // Lengths needing 1, 2 and 3 varint bytes, for the string and for the subject around it.
                request.Subjects.Add(new Pb.Subject { Url = "https://a.example/" + new string('p', 105) });
                request.Subjects.Add(new Pb.Subject { Url = "https://a.example/" + new string('p', 110) });
                request.Subjects.Add(new Pb.Subject { Url = "https://a.example/" + new string('q', 20_000) });
                request.Subjects.Add(new Pb.Subject { Url = "https://a.example/" + new string('ж', 8_000) });
                break;
            case "request-fields":
                request.Subjects.Add(new Pb.Subject { Url = "https://example.kz/a" });
                request.Purpose = Pb.UsageCategory.Search;
                request.AsOf = Timestamp.FromDateTime(new DateTime(2026, 11, 22, 12, 0, 0, DateTimeKind.Utc));
                request.IncludeMatches = true;
                request.RequestId = "req-42/ü";
                break;
            case "unknown-fields":
            {
                // A subject and a request carrying fields this client does not know (read from a newer peer's bytes).
                var subject = Pb.Subject.Parser.ParseFrom([.. new Pb.Subject { Url = "https://example.kz/u" }.ToByteArray(), 0x78, 0x05, 0x82, 0x01, 0x02, 0x68, 0x69]);
                request.Subjects.Add(subject);
                request.Subjects.Add(Pb.Subject.Parser.ParseFrom([0x78, 0x07])); // only an unknown field
                request.Subjects.Add(new Pb.Subject { Url = "https://example.kz/plain" });
                var withUnknown = Pb.CheckBatchRequest.Parser.ParseFrom([.. request.ToByteArray(), 0xA0, 0x06, 0x09]);
                Assert.NotEqual(request.CalculateSize(), withUnknown.CalculateSize());
                return withUnknown;
            }

            case "ten-thousand":
                for (var i = 0; i < 10_000; i++)
                {
                    request.Subjects.Add(new Pb.Subject { Url = $"https://host{i}.example/{new string('p', i % 300)}" });
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(shape));
        }

        return request;
    }

    private static int CountSubjects(byte[] framed) => Pb.CheckBatchRequest.Parser.ParseFrom(framed.AsSpan(5)).Subjects.Count;

    private static Pb.CheckBatchResponse Answer(int results)
    {
        var response = new Pb.CheckBatchResponse();
        for (var i = 0; i < results; i++)
        {
            response.Results.Add(new Pb.CheckResult { Verdict = i % 2 == 0 ? Pb.Verdict.Allowed : Pb.Verdict.Disallowed });
        }

        return response;
    }

    private static byte[] Frame(byte[] message)
    {
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    private static byte[] Ok(Pb.CheckBatchResponse response) => Frame(response.ToByteArray());

    private static CheckClient Client(CannedHandler handler) =>
        new(GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpHandler = true }));

    /// <summary>Answers every call with the body <c>respond</c> gives for the framed request, then grpc-status 0.</summary>
    private sealed class CannedHandler(Func<byte[], byte[]> respond) : HttpMessageHandler
    {
        private readonly List<byte[]> _requests = [];

        public List<byte[]> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var sent = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            lock (_requests)
            {
                _requests.Add(sent);
            }

            var content = new ByteArrayContent(respond(sent));
            content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Version = HttpVersion.Version20, Content = content, RequestMessage = request };
            response.TrailingHeaders.TryAddWithoutValidation("grpc-status", "0");
            return response;
        }
    }
}
