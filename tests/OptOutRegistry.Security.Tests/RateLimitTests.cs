using System.Net;
using System.Net.Http.Headers;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Security.Tests.TestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// Issue 9 item 4, "rate limits per key and per address", and the bug it found: on an open registry an unvalidated
/// <c>authorization: Bearer anything</c> used to move the caller to a bucket of its own, so rotating made-up keys escaped
/// every limit. Buckets hold one second's quota and refill over a second, so a second full batch sent at once is refused.
/// </summary>
public sealed class RateLimitTests
{
    private const int Limit = 100;

    private static Task<SecurityServer> StartLimitedAsync(params string[] extra) => SecurityServer.StartAsync(
        ["--check-rate-limit-per-address", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
         "--check-rate-limit-per-key", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra]);

    [Fact]
    public async Task OpenRegistry_RotatingMadeUpKeys_AreChargedToTheAddressBucket()
    {
        await using var server = await StartLimitedAsync();
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        var checkBatch = Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckBatch");
        for (var i = 0; i < 5; i++)
        {
            // Empty the address bucket anonymously (a full bucket takes a second to refill), then at once try a new key.
            while (true)
            {
                try
                {
                    await channel.UnaryAsync(checkBatch, Batch(Limit));
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
                {
                    break;
                }
            }

            var headers = new Metadata { { "authorization", $"Bearer oor_made-up-key-number-{i}" } };
            var refused = await AssertStatusAsync(StatusCode.ResourceExhausted, () => channel.UnaryAsync(checkBatch, Batch(Limit), new CallOptions(headers)));
            Assert.Contains("per address", refused.Status.Detail, StringComparison.Ordinal);
            Assert.True(long.TryParse(refused.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0, $"retry-after-ms: '{refused.Trailers.GetValue("retry-after-ms")}'");
        }
    }

    [Fact]
    public async Task OpenRegistry_ValidKey_HasItsOwnBucket_AndIsLimitedPerKey()
    {
        await using var server = await StartLimitedAsync();
        using var registry = RegistryClient.Create(server.GrpcAddress);
        var (_, holder) = await NewHolderAsync(registry, "Bucket Owner");
        await using var anonymous = CheckClient.Create(server.GrpcAddress);
        await anonymous.CheckBatchAsync(Batch(Limit));
        await AssertStatusAsync(StatusCode.ResourceExhausted, () => anonymous.CheckBatchAsync(Batch(Limit)));

        // The address is exhausted; a validated key still has its own quota, once.
        await using var keyed = CheckClient.Create(server.GrpcAddress, new CheckClientOptions { ApiKey = holder.ApiKey });
        await keyed.CheckBatchAsync(Batch(Limit));
        var ex = await AssertStatusAsync(StatusCode.ResourceExhausted, () => keyed.CheckBatchAsync(Batch(Limit)));
        Assert.Contains("per key", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckStream_IsLimitedLikeBatches_EndsWithResourceExhaustedAndRetryInfo()
    {
        await using var server = await StartLimitedAsync();
        await using var client = CheckClient.Create(server.GrpcAddress);
        using var stream = client.OpenStream();
        await stream.RequestStream.WriteAsync(Batch(Limit));
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
        await stream.RequestStream.WriteAsync(Batch(Limit));
        var ex = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.True(long.TryParse(ex.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0);
    }

    [Fact]
    public async Task SpawningGateway_MadeUpKey_OnOpenRegistry_IsAnswered_ThenLimitedPerAddress()
    {
        await using var server = await StartLimitedAsync();
        using var http = new HttpClient();
        var body = string.Join('\n', Enumerable.Range(0, Limit).Select(i => $"https://spawning.example/{i}.jpg"));
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/api/v2/query/urls/") { Content = new StringContent(body) };
            // datadiligence's header form (standards.md §2.2), with a key this registry never issued.
            request.Headers.Authorization = new AuthenticationHeaderValue("API", "made-up-spawning-key-" + i);
            using var response = await http.SendAsync(request);
            if (i == 0)
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Contains("\"optOut\":false", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
            else
            {
                // A different made-up key does not open a new bucket.
                Assert.Equal((HttpStatusCode)429, response.StatusCode);
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.True(response.Headers.RetryAfter!.Delta >= TimeSpan.FromSeconds(1));
            }
        }
    }

    [Fact]
    public async Task JsonGateway_MadeUpBearerKey_OnOpenRegistry_IsAnswered()
    {
        await using var server = await SecurityServer.StartAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/v1/check")
        {
            Content = new StringContent("{\"subjects\":[{\"url\":\"https://json.example/a\"}]}"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "oor_not-issued-by-this-registry");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task RequiredKeys_MadeUpKey_IsUnauthenticated_OverGrpcAndHttp401()
    {
        await using var server = await SecurityServer.StartAsync("--check-require-key", "true");
        await using var madeUp = CheckClient.Create(server.GrpcAddress, new CheckClientOptions { ApiKey = "oor_made-up" });
        await AssertStatusAsync(StatusCode.Unauthenticated, () => madeUp.CheckBatchAsync(Batch(1)));
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/api/v2/query/urls") { Content = new StringContent("https://x.example/\n") };
        request.Headers.Authorization = new AuthenticationHeaderValue("API", "made-up");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task RegistryCalls_OverTheAddressLimit_AreResourceExhausted_WithRetryInfo_AndChecksAreNotCharged()
    {
        await using var server = await SecurityServer.StartAsync("--registry-rate-limit-per-address", "5");
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var refused = await CallUntilRefusedAsync(() => anonymous.SearchWorksAsync("anything"), max: 50);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("registry rate limit", refused.Status.Detail, StringComparison.Ordinal);
        Assert.True(long.TryParse(refused.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0, $"retry-after-ms: '{refused.Trailers.GetValue("retry-after-ms")}'");

        // Other services keep their own budgets.
        await using var checks = CheckClient.Create(server.GrpcAddress);
        await checks.CheckBatchAsync(Batch(10));
        using var feed = FeedClient.Create(server.GrpcAddress);
        await feed.GetTreeHeadAsync();

        // The bucket refills: after the advertised wait the registry answers again.
        await Task.Delay(TimeSpan.FromMilliseconds(ms + 200));
        await anonymous.SearchWorksAsync("anything");
    }

    [Fact]
    public async Task FeedCalls_OverTheAddressLimit_AreResourceExhausted_WithRetryInfo()
    {
        await using var server = await SecurityServer.StartAsync("--feed-rate-limit-per-address", "3");
        using var feed = FeedClient.Create(server.GrpcAddress);
        var refused = await CallUntilRefusedAsync(() => feed.GetTreeHeadAsync(), max: 30);
        Assert.Contains("feed rate limit", refused.Status.Detail, StringComparison.Ordinal);
        Assert.True(long.TryParse(refused.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0);
    }

    [Fact]
    public async Task RequestRateLimits_NegativeValue_StopsTheStartWithTheOptionsName()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => SecurityServer.StartAsync("--feed-rate-limit-per-address", "-1"));
        Assert.Contains("--feed-rate-limit-per-address", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Calls until the server refuses (a bucket holds one second's quota, so a limit of N is exceeded within N+1 quick calls).</summary>
    private static async Task<RpcException> CallUntilRefusedAsync(Func<Task> call, int max)
    {
        for (var i = 0; i < max; i++)
        {
            try
            {
                await call();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
            {
                return ex;
            }
        }

        throw new Xunit.Sdk.XunitException($"no RESOURCE_EXHAUSTED within {max} calls");
    }
}
