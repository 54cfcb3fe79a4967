using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// The CheckBatch fast path (hand-written wire reader, answer written from cached encodings) must answer byte for byte
/// what the generated parser and <see cref="CheckEngine.CheckBatch"/> answer, and decline every request shape it does not
/// handle so that the typed path answers those.
/// </summary>
public sealed class CheckBatchFastPathTests
{
    private static readonly DateTimeOffset Registered = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly CheckEngine Engine = CreateEngine();

    private static CheckEngine CreateEngine()
    {
        var mirror = new RegistryMirror();
        mirror.Apply(Created(0, "rsv_urls", Pb.Permission.Disallow, Pb.UsageCategory.TrainAi,
            new Pb.Selector { Url = "https://example.kz/books/abai.pdf" },
            new Pb.Selector { Url = "https://пример.kz/книги/абай.pdf" },
            new Pb.Selector { Prefix = "example.kz/gallery/" }));
        mirror.Apply(Created(1, "rsv_allow", Pb.Permission.Allow, Pb.UsageCategory.All, new Pb.Selector { Host = "open.example.org" }));
        mirror.Apply(Created(2, "rsv_genai", Pb.Permission.Disallow, Pb.UsageCategory.TrainGenai, new Pb.Selector { Domain = "example.com" }));
        return new CheckEngine(mirror);
    }

    private static Pb.Event Created(long sequence, string id, Pb.Permission permission, Pb.UsageCategory category, params Pb.Selector[] selectors)
    {
        var reservation = new Pb.Reservation
        {
            Id = id,
            HolderId = "hld_test",
            RegisteredAt = Timestamp.FromDateTimeOffset(Registered),
            ValidFrom = Timestamp.FromDateTimeOffset(Registered),
            State = Pb.ReservationState.Active,
        };
        reservation.Statements.Add(new Pb.UsageStatement { Category = category, Permission = permission });
        reservation.Selectors.Add(selectors);
        return new Pb.Event { Sequence = sequence, ReservationCreated = reservation };
    }

    private static Pb.CheckBatchRequest Urls(Pb.UsageCategory purpose, params string[] urls)
    {
        var request = new Pb.CheckBatchRequest { Purpose = purpose };
        foreach (var url in urls)
        {
            request.Subjects.Add(new Pb.Subject { Url = url });
        }

        return request;
    }

    public static TheoryData<string, Pb.CheckBatchRequest> Handled()
    {
        var long1500 = "https://example.kz/gallery/" + new string('a', 1500);
        var many = Urls(Pb.UsageCategory.TrainAi);
        for (var i = 0; i < 10_000; i++)
        {
            many.Subjects.Add(new Pb.Subject { Url = (i % 3) switch { 0 => $"https://example.kz/gallery/{i}.jpg", 1 => $"https://other{i}.example/x", _ => "not a url" } });
        }

        return new TheoryData<string, Pb.CheckBatchRequest>
        {
            { "no subjects", new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi } },
            { "covered, uncovered, prefix", Urls(Pb.UsageCategory.TrainAi, "https://example.kz/books/abai.pdf", "http://EXAMPLE.kz:80/books/abai.pdf#x", "https://example.kz/books/other.pdf", "https://example.kz/gallery/a/b.jpg?size=1") },
            { "IDN host and path", Urls(Pb.UsageCategory.TrainAi, "https://пример.kz/книги/абай.pdf", "https://xn--e1afmkfd.kz/%D0%BA%D0%BD%D0%B8%D0%B3%D0%B8/%D0%B0%D0%B1%D0%B0%D0%B9.pdf") },
            { "allowed host", Urls(Pb.UsageCategory.Search, "https://open.example.org/page", "https://open.example.org:8443/page") },
            { "purpose unspecified is ALL; train-genai domain", Urls(Pb.UsageCategory.Unspecified, "https://www.example.com/a", "https://example.kz/books/abai.pdf") },
            { "purpose train-genai", Urls(Pb.UsageCategory.TrainGenai, "https://sub.example.com/a", "https://example.kz/books/abai.pdf") },
            { "bad URLs answer errors in place", Urls(Pb.UsageCategory.TrainAi, "", "relative/path", "ftp://example.kz/x", "https://exa mple.kz/", "https://example.kz:99999/", "https://example.kz/books/abai.pdf") },
            { "URL whose key is over the stack buffer", Urls(Pb.UsageCategory.TrainAi, long1500, "https://example.kz/books/abai.pdf") },
            { "request id echoed", new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, RequestId = "crawl-7 ✓", Subjects = { new Pb.Subject { Url = "https://example.kz/books/abai.pdf" } } } },
            { "as_of before the registration", new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, AsOf = Timestamp.FromDateTimeOffset(Registered.AddDays(-1)), Subjects = { new Pb.Subject { Url = "https://example.kz/books/abai.pdf" } } } },
            { "as_of after the registration", new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, AsOf = Timestamp.FromDateTimeOffset(Registered.AddDays(1)), Subjects = { new Pb.Subject { Url = "https://example.kz/books/abai.pdf" } } } },
            { "10,000 subjects (the limit)", many },
        };
    }

    [Theory]
    [MemberData(nameof(Handled))]
    public void FastPath_ForHandledShapes_WritesTheSameBytesAsTheGeneratedCode(string scenario, Pb.CheckBatchRequest request)
    {
        var expected = Engine.CheckBatch(request).ToByteArray();
        var bytes = request.ToByteArray();
        foreach (var segments in new[] { 1, 3 })
        {
            using var answer = new CheckBatchAnswer();
            Assert.True(CheckBatchWire.TryRead(Split(bytes, segments), answer), scenario);
            CheckBatchFastPath.Answer(Engine, answer);
            var size = answer.CalculateSize();
            var output = new ArrayBufferWriter<byte>(16);
            answer.WriteTo(output);
            Assert.Equal(size, output.WrittenCount);
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(output.WrittenSpan));
        }
    }

    [Fact]
    public void FastPath_AnswersVerdictsInInputOrder()
    {
        var request = Urls(Pb.UsageCategory.TrainAi, "https://example.kz/books/abai.pdf", "https://example.kz/books/other.pdf", "https://example.kz/gallery/x.jpg", "nope");
        using var answer = new CheckBatchAnswer();
        Assert.True(CheckBatchWire.TryRead(new ReadOnlySequence<byte>(request.ToByteArray()), answer));
        CheckBatchFastPath.Answer(Engine, answer);
        var output = new ArrayBufferWriter<byte>();
        answer.WriteTo(output);
        var response = Pb.CheckBatchResponse.Parser.ParseFrom(output.WrittenSpan);
        Assert.Equal([Pb.Verdict.Disallowed, Pb.Verdict.Unknown, Pb.Verdict.Disallowed, Pb.Verdict.Unknown], response.Results.Select(r => r.Verdict));
        Assert.Equal(["", "", ""], response.Results.Take(3).Select(r => r.Error));
        Assert.StartsWith("url: the URL is relative", response.Results[3].Error);
        Assert.Equal(2, response.AsOfSequence);
    }

    public static TheoryData<string, byte[]> Declined()
    {
        var tooMany = Urls(Pb.UsageCategory.TrainAi);
        for (var i = 0; i < 10_001; i++)
        {
            tooMany.Subjects.Add(new Pb.Subject { Url = "https://example.kz/" + i });
        }

        var url = Urls(Pb.UsageCategory.TrainAi, "https://example.kz/books/abai.pdf").ToByteArray();
        return new TheoryData<string, byte[]>
        {
            { "include_matches (provenance)", new Pb.CheckBatchRequest { IncludeMatches = true, Subjects = { new Pb.Subject { Url = "https://example.kz/a" } } }.ToByteArray() },
            { "sha256 subject", new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://example.kz/a" }, new Pb.Subject { Sha256 = new string('a', 64) } } }.ToByteArray() },
            { "identifier subject", new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Identifier = "isbn:9780306406157" } } }.ToByteArray() },
            { "subject without a value", new Pb.CheckBatchRequest { Subjects = { new Pb.Subject() } }.ToByteArray() },
            { "more than 10,000 subjects", tooMany.ToByteArray() },
            { "subject with two url fields (last wins)", [0x0A, 0x06, 0x0A, 0x01, (byte)'a', 0x0A, 0x01, (byte)'b'] },
            { "unknown field 9", [.. url, 0x48, 0x01] },
            { "as_of twice (merged)", [.. url, 0x1A, 0x02, 0x08, 0x01, 0x1A, 0x02, 0x10, 0x01] },
            { "as_of with an unknown field", [.. url, 0x1A, 0x02, 0x18, 0x01] },
            { "purpose as a length-delimited field", [.. url, 0x12, 0x00] },
            { "truncated length", url[..^3] },
            { "truncated varint", [0x10, 0x80] },
            { "length past the end", [0x0A, 0x7F, 0x0A] },
        };
    }

    [Theory]
    [MemberData(nameof(Declined))]
    public void FastPath_ForOtherShapes_DeclinesSoTheGeneratedParserAnswers(string scenario, byte[] request)
    {
        using var answer = new CheckBatchAnswer();
        Assert.False(CheckBatchWire.TryRead(new ReadOnlySequence<byte>(request), answer), scenario);
    }

    [Theory]
    [InlineData("purpose 99", new byte[] { 0x10, 0x63 })]
    [InlineData("as_of nanos out of range", new byte[] { 0x1A, 0x06, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData("as_of year 10000", new byte[] { 0x1A, 0x07, 0x08, 0x80, 0x83, 0xD1, 0xFF, 0xAF, 0x07 })]
    public void FastPath_InvalidRequest_FailsWithTheSameStatusAsTheTypedPath(string scenario, byte[] request)
    {
        var typed = Assert.Throws<RpcException>(() => Engine.CheckBatch(Pb.CheckBatchRequest.Parser.ParseFrom(request)));
        using var answer = new CheckBatchAnswer();
        Assert.True(CheckBatchWire.TryRead(new ReadOnlySequence<byte>(request), answer), scenario);
        var fast = Assert.Throws<RpcException>(() => CheckBatchFastPath.Answer(Engine, answer));
        Assert.Equal(StatusCode.InvalidArgument, fast.StatusCode);
        Assert.Equal(typed.Status, fast.Status);
    }

    /// <summary>The bytes as a sequence of <paramref name="count"/> segments (Kestrel hands a large request over in blocks).</summary>
    private static ReadOnlySequence<byte> Split(byte[] bytes, int count)
    {
        if (count == 1 || bytes.Length < count)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var size = bytes.Length / count;
        var first = new Segment(bytes.AsMemory(0, size), 0);
        var last = first;
        for (var i = 1; i < count; i++)
        {
            var end = i == count - 1 ? bytes.Length : (i + 1) * size;
            last = last.Append(bytes.AsMemory(i * size, end - (i * size)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>The fast path through the real server: a plain request takes it, a gzip-compressed one the generated parser.</summary>
public sealed class CheckBatchFastPathServerTests(CheckRegistryFixture fixture) : IClassFixture<CheckRegistryFixture>
{
    [Fact]
    public async Task CheckBatch_PlainAndCompressedRequests_GetTheSameAnswers()
    {
        var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, RequestId = "r-1" };
        for (var i = 0; i < 1000; i++)
        {
            request.Subjects.Add(new Pb.Subject
            {
                Url = (i % 4) switch
                {
                    0 => "https://example.kz/books/abai.pdf",
                    1 => "https://example.kz/books/genai.pdf",
                    2 => $"https://example.kz/other/{i}",
                    _ => "not a url",
                },
            });
        }

        using var plainChannel = GrpcChannel.ForAddress(fixture.Server.GrpcAddress);
        using var gzipChannel = GrpcChannel.ForAddress(fixture.Server.GrpcAddress, new GrpcChannelOptions { CompressionEncoding = "gzip" });
        await using var plain = new Client.Checking.CheckClient(plainChannel);
        await using var gzip = new Client.Checking.CheckClient(gzipChannel);
        var fast = await plain.CheckBatchAsync(request);
        var typed = await gzip.CheckBatchAsync(request);

        Assert.Equal(typed, fast);
        Assert.Equal("r-1", fast.RequestId);
        Assert.Equal(1000, fast.Results.Count);
        Assert.Equal(Pb.Verdict.Disallowed, fast.Results[0].Verdict);
        // A train-genai reservation restricts train-ai too (a use for train-ai may include train-genai).
        Assert.Equal(Pb.Verdict.Disallowed, fast.Results[1].Verdict);
        Assert.Equal(Pb.Verdict.Unknown, fast.Results[2].Verdict);
        Assert.StartsWith("url: ", fast.Results[3].Error);
    }
}
