using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Integration.Tests.Registry;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// A server whose matcher does not hold the registry yet (a primary rebuilding at start, a replica before its first
/// snapshot) must not answer from the empty matcher: that would say UNKNOWN for reserved works. Checks wait for the
/// matcher (<c>--check-wait-for-matcher</c>), then answer UNAVAILABLE with a retry hint (HTTP 503 + Retry-After).
/// </summary>
public sealed class MatcherReadinessTests
{
    [Fact]
    public async Task A_replica_that_cannot_load_a_snapshot_answers_unavailable_with_retry_hints_never_unknown()
    {
        // A replica of a primary that is not there: its matcher never gets the registry.
        await using var replica = await ServerFixture.StartAsync("--follow", $"http://127.0.0.1:{ClosedPort()}", "--check-wait-for-matcher", "0.3");
        await using var client = CheckClient.Create(replica.GrpcAddress);
        var request = new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://ready.example/a.jpg" } } };

        var clock = Stopwatch.StartNew();
        var ex = await RegistryTestHelpers.AssertStatusAsync(StatusCode.Unavailable, () => client.CheckBatchAsync(request));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"answered after {clock.ElapsedMilliseconds} ms, before the configured wait");
        Assert.Contains("still being loaded into the matcher", ex.Status.Detail, StringComparison.Ordinal);
        Assert.True(long.TryParse(ex.Trailers.GetValue("retry-after-ms"), out var ms) && ms > 0, $"retry-after-ms trailer: '{ex.Trailers.GetValue("retry-after-ms")}'");

        using var http = new HttpClient();
        using var spawning = await http.PostAsync(replica.HttpAddress + "/api/v2/query/urls", new StringContent("https://ready.example/a.jpg"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, spawning.StatusCode);
        Assert.NotNull(spawning.Headers.RetryAfter);
        Assert.Contains("UNAVAILABLE", await spawning.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_check_sent_the_moment_a_replica_starts_is_answered_from_the_registry()
    {
        await using var primary = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(primary.GrpcAddress);
        var (holder, _) = await RegistryTestHelpers.NewHolderAsync(anonymous, "Ready Press");
        using (holder)
        {
            await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://ready.example/reserved")));
        }

        await using var replica = await ServerFixture.StartAsync("--follow", primary.GrpcAddress);
        await using var client = CheckClient.Create(replica.GrpcAddress);
        var response = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://ready.example/reserved" } } });
        Assert.Equal(Pb.Verdict.Disallowed, response.Results[0].Verdict);
    }

    [Theory]
    [InlineData("-1", "out of range")]
    [InlineData("3601", "out of range")]
    [InlineData("soon", "is not a number of seconds")]
    [InlineData("NaN", "is not a number of seconds")]
    public async Task Bad_waits_stop_the_start_naming_the_option(string value, string reason)
    {
        var error = await Assert.ThrowsAsync<FormatException>(() => ServerFixture.StartAsync("--check-wait-for-matcher", value));
        Assert.StartsWith("--check-wait-for-matcher: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
