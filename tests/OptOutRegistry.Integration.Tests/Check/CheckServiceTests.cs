using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Integration.Tests.Registry;
using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>One registry with a few reservations, shared by the Check tests (read-only tests use it as it is).</summary>
public sealed class CheckRegistryFixture : IAsyncLifetime
{
    public ServerFixture Server { get; private set; } = null!;

    public RegistryClient Holder { get; private set; } = null!;

    public string HolderEmail => "check.press@example.org";

    /// <summary>Disallows train-ai for https://example.kz/books/abai.pdf.</summary>
    public string BookReservation { get; private set; } = null!;

    /// <summary>Disallows only train-genai for https://example.kz/books/genai.pdf.</summary>
    public string GenAiReservation { get; private set; } = null!;

    /// <summary>Instant just before the first reservation was registered.</summary>
    public DateTimeOffset BeforeRegistration { get; private set; }

    public async Task InitializeAsync()
    {
        Server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(Server.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Check Press", ContactEmail = HolderEmail });
        Holder = RegistryClient.Create(Server.GrpcAddress, created.ApiKey);
        BeforeRegistration = DateTimeOffset.UtcNow.AddMilliseconds(-1);
        var spec = RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://example.kz/books/abai.pdf"));
        spec.PolicyUrl = "https://example.kz/terms";
        BookReservation = (await Holder.CreateReservationAsync(spec)).Reservation.Id;
        await WaitForVerdictAsync(Server.GrpcAddress, "https://example.kz/books/abai.pdf", Pb.Verdict.Disallowed);
        GenAiReservation = (await Holder.CreateReservationAsync(
            RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://example.kz/books/genai.pdf"), Pb.UsageCategory.TrainGenai))).Reservation.Id;
        await WaitForVerdictAsync(Server.GrpcAddress, "https://example.kz/books/genai.pdf", Pb.Verdict.Disallowed, Pb.UsageCategory.TrainGenai);
    }

    public async Task DisposeAsync()
    {
        Holder.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>Polls CheckBatch until the URL has the verdict; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitForVerdictAsync(string address, string url, Pb.Verdict verdict, Pb.UsageCategory purpose = Pb.UsageCategory.TrainAi, TimeSpan? timeout = null)
    {
        await using var client = CheckClient.Create(address);
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var limit = timeout ?? TimeSpan.FromSeconds(10);
            Pb.Verdict? seen = null;
            try
            {
                var response = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Purpose = purpose, Subjects = { new Pb.Subject { Url = url } } });
                seen = response.Results[0].Verdict;
                if (seen == verdict)
                {
                    return started.Elapsed;
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && started.Elapsed < limit)
            {
                // A server process still starting.
            }

            Assert.True(started.Elapsed < limit, $"{url} did not become {verdict} within {limit} (still {seen})");
            await Task.Delay(5);
        }
    }
}

public sealed class CheckServiceTests(CheckRegistryFixture fixture) : IClassFixture<CheckRegistryFixture>
{
    private static Pb.CheckBatchRequest Request(Pb.UsageCategory purpose, params string[] urls)
    {
        var request = new Pb.CheckBatchRequest { Purpose = purpose, IncludeMatches = true };
        foreach (var url in urls)
        {
            request.Subjects.Add(new Pb.Subject { Url = url });
        }

        return request;
    }

    [Fact]
    public async Task CheckBatch_AnswersEverySubjectInInputOrder_WithPublicProvenanceOnly()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var request = Request(Pb.UsageCategory.TrainAi,
            "https://example.kz/books/other.pdf", "https://example.kz/books/abai.pdf", "not a url", "http://EXAMPLE.KZ:80/books/abai.pdf#page=2");
        request.Subjects.Add(new Pb.Subject { Sha256 = new string('a', 64) });
        request.Subjects.Add(new Pb.Subject());
        var response = await client.CheckBatchAsync(request);

        Assert.Equal(
            [Pb.Verdict.Unknown, Pb.Verdict.Disallowed, Pb.Verdict.Unknown, Pb.Verdict.Disallowed, Pb.Verdict.Unknown, Pb.Verdict.Unknown],
            response.Results.Select(r => r.Verdict));
        Assert.StartsWith("url:", response.Results[2].Error);
        Assert.Contains("no subject value", response.Results[5].Error);
        var match = Assert.Single(response.Results[1].Matches);
        Assert.Equal(fixture.BookReservation, match.ReservationId);
        Assert.Equal("Check Press", match.HolderName);
        Assert.Equal(Pb.SelectorKind.Url, match.SelectorKind);
        Assert.Equal("example.kz/books/abai.pdf", match.Selector);
        Assert.Equal("https://example.kz/terms", match.PolicyUrl);
        Assert.False(match.Verified);
        Assert.Equal(Pb.UsageCategory.TrainAi, match.DecidedBy);
        Assert.True(response.AsOfSequence >= 1);
        Assert.DoesNotContain(fixture.HolderEmail, JsonFormatter.Default.Format(response));
    }

    [Theory]
    [InlineData(Pb.UsageCategory.TrainAi, Pb.Verdict.Disallowed)]
    [InlineData(Pb.UsageCategory.TrainGenai, Pb.Verdict.Disallowed)] // inherits train-ai's statement
    [InlineData(Pb.UsageCategory.Search, Pb.Verdict.Unknown)]
    [InlineData(Pb.UsageCategory.AiUse, Pb.Verdict.Unknown)]
    [InlineData(Pb.UsageCategory.Unspecified, Pb.Verdict.Disallowed)] // ALL: a use for every purpose includes training (narrower disallow)
    public async Task CheckBatch_AppliesThePurposeWithCategoryInheritance(Pb.UsageCategory purpose, Pb.Verdict expected)
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var response = await client.CheckBatchAsync(Request(purpose, "https://example.kz/books/abai.pdf"));
        Assert.Equal(expected, response.Results[0].Verdict);
    }

    [Theory]
    // One rule everywhere: a narrower category's disallow restricts the broader purpose, and provenance names it.
    [InlineData(Pb.UsageCategory.TrainGenai, Pb.Verdict.Disallowed)]
    [InlineData(Pb.UsageCategory.TrainAi, Pb.Verdict.Disallowed)]
    [InlineData(Pb.UsageCategory.Unspecified, Pb.Verdict.Disallowed)]
    [InlineData(Pb.UsageCategory.Search, Pb.Verdict.Unknown)]
    [InlineData(Pb.UsageCategory.AiUse, Pb.Verdict.Unknown)]
    public async Task CheckBatch_ATrainGenaiReservation_RestrictsTheBroaderPurposes(Pb.UsageCategory purpose, Pb.Verdict expected)
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var response = await client.CheckBatchAsync(Request(purpose, "https://example.kz/books/genai.pdf"));
        Assert.Equal(expected, response.Results[0].Verdict);
        if (expected == Pb.Verdict.Disallowed)
        {
            var match = Assert.Single(response.Results[0].Matches);
            Assert.Equal(fixture.GenAiReservation, match.ReservationId);
            Assert.Equal(Pb.UsageCategory.TrainGenai, match.DecidedBy);
        }

        // The verdict-only form (the pipelined batch path) answers the same.
        var verdictOnly = Request(purpose, "https://example.kz/books/genai.pdf");
        verdictOnly.IncludeMatches = false;
        Assert.Equal(expected, (await client.CheckBatchAsync(verdictOnly)).Results[0].Verdict);
    }

    [Fact]
    public async Task CheckBatch_AsOfBeforeTheRegistration_IsUnknown()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var request = Request(Pb.UsageCategory.TrainAi, "https://example.kz/books/abai.pdf");
        request.AsOf = Timestamp.FromDateTimeOffset(fixture.BeforeRegistration);
        Assert.Equal(Pb.Verdict.Unknown, (await client.CheckBatchAsync(request)).Results[0].Verdict);
        request.AsOf = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        Assert.Equal(Pb.Verdict.Disallowed, (await client.CheckBatchAsync(request)).Results[0].Verdict);
    }

    [Fact]
    public async Task CheckBatch_TenThousandSubjects_IsAccepted_AndOneMoreIsInvalidArgument()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
        for (var i = 0; i < 10_000; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = i == 9_999 ? "https://example.kz/books/abai.pdf" : $"https://site{i}.example/" });
        }

        var response = await client.CheckBatchAsync(request);
        Assert.Equal(10_000, response.Results.Count);
        Assert.Equal(Pb.Verdict.Disallowed, response.Results[9_999].Verdict);

        request.Subjects.Add(new Pb.Subject { Url = "https://one-too-many.example/" });
        var ex = await RegistryTestHelpers.AssertStatusAsync(StatusCode.InvalidArgument, () => client.CheckBatchAsync(request));
        Assert.Contains("subjects", ex.Status.Detail);
        Assert.Contains("10000", ex.Status.Detail);
    }

    [Fact]
    public async Task CheckBatch_UnknownPurpose_IsInvalidArgumentNamingTheField()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var ex = await RegistryTestHelpers.AssertStatusAsync(StatusCode.InvalidArgument,
            () => client.CheckBatchAsync(Request((Pb.UsageCategory)42, "https://example.kz/")));
        Assert.StartsWith("purpose", ex.Status.Detail);
    }

    [Fact]
    public async Task CheckStream_AnswersEachRequestInOrder_EchoingRequestIds()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        using var call = client.OpenStream();
        for (var i = 0; i < 3; i++)
        {
            var request = Request(Pb.UsageCategory.TrainAi, i == 1 ? "https://example.kz/books/abai.pdf" : $"https://elsewhere{i}.example/");
            request.RequestId = "r" + i;
            await call.RequestStream.WriteAsync(request);
        }

        await call.RequestStream.CompleteAsync();
        var responses = new List<Pb.CheckBatchResponse>();
        while (await call.ResponseStream.MoveNext())
        {
            responses.Add(call.ResponseStream.Current);
        }

        Assert.Equal(["r0", "r1", "r2"], responses.Select(r => r.RequestId));
        Assert.Equal([Pb.Verdict.Unknown, Pb.Verdict.Disallowed, Pb.Verdict.Unknown], responses.Select(r => r.Results[0].Verdict));
    }

    [Fact]
    public async Task Explain_ShowsTheCanonicalSubjectAndTheDecidingReservation()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress);
        var explain = await client.ExplainAsync(new Pb.ExplainRequest
        {
            Subject = new Pb.Subject { Url = "HTTPS://Example.KZ/books/abai.pdf#x" },
            Purpose = Pb.UsageCategory.TrainGenai,
        });
        Assert.Equal(Pb.Verdict.Disallowed, explain.Verdict);
        Assert.Equal("example.kz/books/abai.pdf", explain.CanonicalSubject);
        var step = Assert.Single(explain.Steps);
        Assert.True(step.Decisive);
        Assert.Equal(fixture.BookReservation, step.Match.ReservationId);
        Assert.Contains("inherited", step.Reason);
        Assert.NotEmpty(explain.Notes);

        await RegistryTestHelpers.AssertStatusAsync(StatusCode.InvalidArgument, () => client.ExplainAsync(new Pb.ExplainRequest()));
    }

    [Fact]
    public async Task AutomaticBatching_ConcurrentSingleChecks_GetTheirOwnAnswers()
    {
        await using var client = CheckClient.Create(fixture.Server.GrpcAddress, new CheckClientOptions { MaxBatchDelay = TimeSpan.FromMilliseconds(20) });
        var tasks = new List<Task<Pb.CheckResult>>();
        for (var i = 0; i < 200; i++)
        {
            var url = i % 50 == 0 ? "https://example.kz/books/abai.pdf" : $"https://batch{i}.example/";
            tasks.Add(client.CheckAsync(new Pb.Subject { Url = url }, Pb.UsageCategory.TrainAi));
        }

        var results = await Task.WhenAll(tasks);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal(i % 50 == 0 ? Pb.Verdict.Disallowed : Pb.Verdict.Unknown, results[i].Verdict);
        }

        Assert.Equal(fixture.BookReservation, results[0].Matches[0].ReservationId);
    }

    [Fact]
    public async Task OptOutHandler_RefusesAReservedUrlBeforeSending_AndLetsOthersThrough()
    {
        await using var checker = CheckClient.Create(fixture.Server.GrpcAddress);
        using var http = new HttpClient(new OptOutHandler(checker, new HttpClientHandler(), new OptOutHandlerOptions { Purpose = Pb.UsageCategory.TrainAi }));

        var refused = await Assert.ThrowsAsync<ReservedUrlException>(() => http.GetAsync("https://example.kz/books/abai.pdf"));
        Assert.Equal(Pb.Verdict.Disallowed, refused.Result.Verdict);
        Assert.Equal(fixture.BookReservation, refused.Result.Matches[0].ReservationId);
        Assert.Contains(fixture.BookReservation, refused.Message);

        // Not reserved: the request really goes out (to the registry's own HTTP gateway, which answers 404).
        using var response = await http.GetAsync(fixture.Server.HttpAddress + "/v1/reservations/rsv_none");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task JsonGateway_PostV1Check_UsesTheProtobufJsonMapping()
    {
        using var http = new HttpClient();
        var body = """{"subjects":[{"url":"https://example.kz/books/abai.pdf"},{"url":"https://nothing.example/"}],"purpose":"USAGE_CATEGORY_TRAIN_AI","includeMatches":true}""";
        using var response = await http.PostAsync(fixture.Server.HttpAddress + "/v1/check", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var parsed = JsonParser.Default.Parse<Pb.CheckBatchResponse>(await response.Content.ReadAsStringAsync());
        Assert.Equal([Pb.Verdict.Disallowed, Pb.Verdict.Unknown], parsed.Results.Select(r => r.Verdict));
        Assert.Equal(fixture.BookReservation, parsed.Results[0].Matches[0].ReservationId);

        using var bad = await http.PostAsync(fixture.Server.HttpAddress + "/v1/check", new StringContent("""{"subjectz":[]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        using var error = JsonDocument.Parse(await bad.Content.ReadAsStringAsync());
        Assert.Equal("INVALID_ARGUMENT", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.StartsWith("body", error.RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task JsonGateway_GetReservation_ReturnsPublicFieldsOnly()
    {
        using var http = new HttpClient();
        var json = await http.GetStringAsync(fixture.Server.HttpAddress + "/v1/reservations/" + fixture.BookReservation);
        var reservation = JsonParser.Default.Parse<Pb.Reservation>(json);
        Assert.Equal(fixture.BookReservation, reservation.Id);
        Assert.Equal("https://example.kz/books/abai.pdf", reservation.Selectors[0].Url);
        Assert.DoesNotContain(fixture.HolderEmail, json);
        using var missing = await http.GetAsync(fixture.Server.HttpAddress + "/v1/reservations/rsv_missing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("/api/v2/query/urls")]
    [InlineData("/api/v2/query/urls/")]
    public async Task SpawningGateway_AnswersPositionallyWithOptOutAndOptIn(string path)
    {
        using var http = new HttpClient();
        // Hugging Face pads with an empty URL (a trailing newline); the UTF-8 URL is from datadiligence's tests.
        var body = "https://example.kz/books/abai.pdf\nhttps://spawning.ai/éxample.png\nhttp://example.kz/books/abai.pdf\n";
        using var request = new HttpRequestMessage(HttpMethod.Post, fixture.Server.HttpAddress + path)
        {
            Content = new StringContent(body, Encoding.UTF8, "text/plain"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "API some-spawning-key");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var urls = doc.RootElement.GetProperty("urls").EnumerateArray().ToList();
        Assert.Equal(3, urls.Count);
        Assert.Equal(["https://example.kz/books/abai.pdf", "https://spawning.ai/éxample.png", "http://example.kz/books/abai.pdf"],
            urls.Select(u => u.GetProperty("url").GetString()));
        Assert.Equal([true, false, true], urls.Select(u => u.GetProperty("optOut").GetBoolean()));
        Assert.All(urls, u => Assert.False(u.GetProperty("optIn").GetBoolean()));
    }

    [Fact]
    public async Task SpawningGateway_DefaultPurposeTrainAi_ReportsATrainGenaiReservationAsOptOut()
    {
        // Spawning's endpoint checks train-ai; a reservation of the narrower train-genai restricts it (docs/checking.md).
        using var http = new HttpClient();
        using var content = new StringContent("https://example.kz/books/genai.pdf\nhttps://example.kz/books/none.pdf", Encoding.UTF8, "text/plain");
        using var response = await http.PostAsync(fixture.Server.HttpAddress + "/api/v2/query/urls", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var urls = doc.RootElement.GetProperty("urls").EnumerateArray().ToList();
        Assert.Equal([true, false], urls.Select(u => u.GetProperty("optOut").GetBoolean()));

        using var search = new StringContent("https://example.kz/books/genai.pdf", Encoding.UTF8, "text/plain");
        using var searchResponse = await http.PostAsync(fixture.Server.HttpAddress + "/api/v2/query/urls?purpose=search", search);
        using var searchDoc = JsonDocument.Parse(await searchResponse.Content.ReadAsStringAsync());
        Assert.False(searchDoc.RootElement.GetProperty("urls")[0].GetProperty("optOut").GetBoolean());
    }

    [Fact]
    public async Task Feed_TreeHeadIsSigned_AndConsistencyProofsLinkHeads()
    {
        using var feed = FeedClient.Create(fixture.Server.GrpcAddress);
        var first = await feed.GetTreeHeadAsync();
        var key = await feed.GetPublicKeyAsync();
        Assert.Equal("ECDSA-P256-SHA256", key.Algorithm);
        Assert.Equal(first.KeyFingerprint, key.Fingerprint);
        Assert.True(TreeHeadSigner.Verify(ToStorage(first), key.SpkiPem));

        var events = new List<Pb.Event>();
        await foreach (var e in feed.WatchEventsAsync(0, stopAtEnd: true))
        {
            events.Add(e);
        }

        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.True(events.Count >= first.TreeSize);
        Assert.Contains(events, e => e.ReservationCreated?.Id == fixture.BookReservation);

        var spec = RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://example.kz/feed/" + Guid.NewGuid()));
        await fixture.Holder.CreateReservationAsync(spec);
        var second = await feed.GetTreeHeadAsync();
        Assert.True(second.TreeSize > first.TreeSize);
        var proof = await feed.GetConsistencyProofAsync(first.TreeSize, second.TreeSize);
        Assert.True(MerkleVerifier.VerifyConsistency(first.TreeSize, second.TreeSize, first.RootHash.Span, second.RootHash.Span,
            proof.Hashes.Select(h => h.ToByteArray()).ToList()));
        await RegistryTestHelpers.AssertStatusAsync(StatusCode.OutOfRange, () => feed.GetInclusionProofAsync(second.TreeSize + 5));
    }

    [Fact]
    public async Task Cli_Check_StreamsStdinInOrder_AndExitsZeroWhateverTheVerdicts()
    {
        var env = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = fixture.Server.GrpcAddress };
        var stdin = string.Join('\n', Enumerable.Range(0, 2500).Select(i => i == 1234 ? "https://example.kz/books/abai.pdf" : $"https://cli{i}.example/a")) + "\n";
        var result = await Cli.RunAsync(env, stdin, "check", "--purpose", "train-ai", "-");
        Assert.True(result.ExitCode == 0, result.StdErr);
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2500, lines.Length);
        Assert.StartsWith("https://cli0.example/a\tUNKNOWN", lines[0]);
        Assert.StartsWith("https://example.kz/books/abai.pdf\tDISALLOWED\t" + fixture.BookReservation, lines[1234]);
        Assert.StartsWith("https://cli2499.example/a\tUNKNOWN", lines[2499]);

        var json = await Cli.RunAsync(env, null, "check", "--json", "--purpose", "train-genai", "https://example.kz/books/abai.pdf", "isbn:9780306406157");
        Assert.True(json.ExitCode == 0, json.StdErr);
        var docs = json.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Equal("DISALLOWED", docs[0].RootElement.GetProperty("verdict").GetString());
        Assert.Equal(fixture.BookReservation, docs[0].RootElement.GetProperty("matches")[0].GetProperty("reservation_id").GetString());
        Assert.Equal("isbn:9780306406157", docs[1].RootElement.GetProperty("subject").GetString());
        Assert.Equal("UNKNOWN", docs[1].RootElement.GetProperty("verdict").GetString());

        var down = await Cli.RunAsync(new Dictionary<string, string?> { ["OPTOUT_SERVER"] = "http://127.0.0.1:1" }, null, "check", "https://example.kz/");
        Assert.NotEqual(0, down.ExitCode);
        Assert.Contains("optout:", down.StdErr);
    }

    private static SignedTreeHead ToStorage(Pb.SignedTreeHead head) =>
        new(head.TreeSize, head.RootHash.ToByteArray(), head.Timestamp.ToDateTimeOffset(), head.Signature.ToByteArray(), head.KeyFingerprint);
}
