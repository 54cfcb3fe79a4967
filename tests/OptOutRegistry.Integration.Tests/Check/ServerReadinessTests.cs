using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Integration.Tests.Registry;
using OptOutRegistry.Server;
using OptOutRegistry.Server.Hosting;
using OptOutRegistry.Storage;
using Health = Grpc.Health.V1;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// What "ready" means (docs/limits.md "Readiness"): the matcher has caught up with the registry as of the start — also
/// when the bulk rebuild failed and the event log had to be replayed — and the server has warmed itself up
/// (<c>--warm-up</c>). Until then health says NOT_SERVING and checks wait, then answer UNAVAILABLE.
/// </summary>
public sealed class ServerReadinessTests
{
    private const string Reserved = "https://ready.example/reserved/work.jpg";

    private static readonly Method<Health.HealthCheckRequest, Health.HealthCheckResponse> HealthCheck =
        Method<Health.HealthCheckRequest, Health.HealthCheckResponse>.Create(Health.HealthReflection.Descriptor.Services[0], "Check");

    [Fact]
    public async Task After_a_failed_rebuild_the_server_is_not_ready_until_the_log_replay_has_caught_up()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            await ReserveAsync(dataDirectory, Reserved);

            // The restarted server's store cannot read its reservation rows (the bulk rebuild fails), and its event log
            // tail is held back until the test lets it go: the window a long replay would leave open.
            var tail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var app = await StartWithStoreAsync(dataDirectory, store => FailingRebuildStore.Wrap(store, tail.Task), "--check-wait-for-matcher", "0.3");
            var address = GrpcAddress(app);
            using var channel = GrpcChannel.ForAddress(address);
            await using var client = CheckClient.Create(address);
            var request = new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = Reserved } } };

            // Loading: NOT_SERVING, and a check waits its 0.3 s, then UNAVAILABLE — never an answer from the empty matcher.
            await Task.Delay(300);
            Assert.Equal(Health.HealthCheckResponse.Types.ServingStatus.NotServing, (await channel.UnaryAsync(HealthCheck, new Health.HealthCheckRequest())).Status);
            var clock = Stopwatch.StartNew();
            var ex = await RegistryTestHelpers.AssertStatusAsync(StatusCode.Unavailable, () => client.CheckBatchAsync(request));
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(250), $"answered after {clock.ElapsedMilliseconds} ms, before the configured wait");
            Assert.Contains("still being loaded into the matcher", ex.Status.Detail, StringComparison.Ordinal);

            // The replay runs: SERVING once it has reached the store's head, and the reserved work is DISALLOWED.
            tail.SetResult();
            await WaitServingAsync(channel);
            var response = await client.CheckBatchAsync(request);
            Assert.Equal(Pb.Verdict.Disallowed, response.Results[0].Verdict);
        }
        finally
        {
            TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task A_check_sent_while_the_replay_runs_is_answered_from_the_caught_up_matcher()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            await ReserveAsync(dataDirectory, Reserved);
            var tail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var app = await StartWithStoreAsync(dataDirectory, store => FailingRebuildStore.Wrap(store, tail.Task));
            await using var client = CheckClient.Create(GrpcAddress(app));

            // Sent before the replay may start (default wait 10 s): it waits, and is answered from the registry.
            var pending = client.CheckBatchAsync(new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = Reserved } } });
            await Task.Delay(200);
            Assert.False(pending.IsCompleted, "a check was answered while the matcher was still replaying the log");
            tail.SetResult();
            Assert.Equal(Pb.Verdict.Disallowed, (await pending).Results[0].Verdict);
        }
        finally
        {
            TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task A_replica_that_cannot_keep_a_snapshot_replays_the_feed_and_is_ready_once_it_reached_the_primarys_head()
    {
        await using var primary = await ServerFixture.StartAsync();
        using (var anonymous = RegistryClient.Create(primary.GrpcAddress))
        {
            var (holder, _) = await RegistryTestHelpers.NewHolderAsync(anonymous, "Ready Press");
            using (holder)
            {
                await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url(Reserved)));
            }
        }

        // The replica cannot write the snapshot it downloads (a directory is in the way): it follows the feed from
        // sequence 0 instead, and must not say SERVING before that replay has reached the primary's head.
        var dataDirectory = Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dataDirectory, "replica", "snapshot.snap.download"));
        var logs = new CapturingLogs();
        try
        {
            await using var replica = await TemporaryServer.StartAsync(
                ["--follow", primary.GrpcAddress, "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:OptOutRegistry.Server.Replication", "Information"],
                dataDirectory, logs);
            await using var client = CheckClient.Create(replica.GrpcAddress);
            var response = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = Reserved } } });
            Assert.Equal(Pb.Verdict.Disallowed, response.Results[0].Verdict);
            using var channel = GrpcChannel.ForAddress(replica.GrpcAddress);
            await WaitServingAsync(channel);
            Assert.Contains(logs.Lines, l => l.Contains("replaying the feed from sequence 0 to the primary's head", StringComparison.Ordinal));
            Assert.Contains(logs.Lines, l => l.Contains("caught up with the primary", StringComparison.Ordinal));
        }
        finally
        {
            TryDelete(dataDirectory);
        }
    }

    [Fact]
    public async Task With_warm_up_on_the_server_checks_itself_before_it_is_ready_without_spending_the_callers_rate_limit()
    {
        var logs = new CapturingLogs();
        // 20 subjects per second per address, a full second's worth in the bucket: the warm-up's own checks (two dozen
        // subjects from loopback) would empty it if they were charged.
        await using var server = await TemporaryServer.StartAsync(
            ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", "--check-rate-limit-per-address", "20",
             "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:OptOutRegistry.Server.Warmup", "Information"],
            logging: logs);
        var activity = server.App.Services.GetRequiredService<CheckActivity>();
        await using var client = CheckClient.Create(server.GrpcAddress);
        var request = new Pb.CheckBatchRequest();
        for (var i = 0; i < 20; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = $"https://ready.example/{i}.jpg" });
        }

        // The first user check after start waits for readiness and is admitted with the whole bucket.
        var response = await client.CheckBatchAsync(request);
        Assert.Equal(20, response.Results.Count);

        var done = logs.Lines.SingleOrDefault(l => l.StartsWith("Warm-up: ", StringComparison.Ordinal));
        Assert.True(done is not null, "no warm-up log line: " + string.Join(" | ", logs.Lines));
        // 5 gRPC requests (CheckBatch ×3, Explain, CheckStream) and 2 gateway requests per round, two rounds.
        Assert.Contains("14 requests", done, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("Warm-up failed", StringComparison.Ordinal) || l.Contains("no check entry point", StringComparison.Ordinal));
        // The warm-up's checks went through the check path's gate (the CheckStream's two messages each), and are not
        // counted as user checks: CheckActivity (which wakes --keep-cpus-awake) saw only the user's one.
        Assert.Equal(16, server.App.Services.GetRequiredService<Server.Warmup.WarmUpGate>().Admitted);
        Assert.Equal(1, activity.Checks);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task The_warm_up_goes_through_tls_and_required_keys(bool tls, bool requireKey)
    {
        // Over TLS one address serves gRPC (h2) and the gateways (HTTP/1.1) through ALPN: both are warmed there, with a
        // self-signed certificate the warm-up does not validate. With keys required the warm-up needs none.
        var directory = Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            List<string> args = tls
                ? ["--urls", "https://127.0.0.1:0", "--http-urls", "none", .. SelfSignedCertificate(directory)]
                : ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0"];
            args.AddRange(["--check-require-key", requireKey ? "true" : "false",
                "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:OptOutRegistry.Server.Warmup", "Information"]);
            var logs = new CapturingLogs();
            await using var server = await TemporaryServer.StartAsync(args, logging: logs);
            var deadline = Stopwatch.StartNew();
            while (!logs.Lines.Any(l => l.StartsWith("Warm-up", StringComparison.Ordinal)) && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(20);
            }

            // Two rounds of 5 gRPC and 2 gateway requests, all on one address over TLS, on two in cleartext.
            Assert.Contains(logs.Lines, l => l.StartsWith("Warm-up: 14 requests", StringComparison.Ordinal));
        }
        finally
        {
            TryDelete(directory);
        }
    }

    [Fact]
    public async Task With_warm_up_off_the_server_sends_itself_nothing()
    {
        var logs = new CapturingLogs();
        await using var server = await TemporaryServer.StartAsync(
            ["--urls", "http://127.0.0.1:0", "--warm-up", "off", "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:OptOutRegistry.Server.Warmup", "Information"],
            logging: logs);
        using var channel = GrpcChannel.ForAddress(server.GrpcAddress);
        await WaitServingAsync(channel);
        await Task.Delay(200);
        Assert.Equal(0, server.App.Services.GetRequiredService<Server.Warmup.WarmUpGate>().Admitted);
        Assert.Equal(0, server.App.Services.GetRequiredService<CheckActivity>().Checks);
        Assert.DoesNotContain(logs.Lines, l => l.Contains("Warm-up", StringComparison.Ordinal));

        await using var client = CheckClient.Create(server.GrpcAddress);
        var response = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://ready.example/a.jpg" } } });
        Assert.Equal(Pb.Verdict.Unknown, response.Results[0].Verdict);
    }

    [Fact]
    public async Task The_warm_up_token_of_another_process_opens_nothing()
    {
        // A check that claims to be a warm-up (a made-up token) while the server is loading waits like any other.
        await using var replica = await ServerFixture.StartAsync("--follow", "http://127.0.0.1:9", "--check-wait-for-matcher", "0.3");
        await using var client = CheckClient.Create(replica.GrpcAddress);
        using var channel = GrpcChannel.ForAddress(replica.GrpcAddress);
        var check = Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckBatch");
        var headers = new Metadata { { Server.Warmup.WarmUpGate.Header, new string('A', 64) } };
        await RegistryTestHelpers.AssertStatusAsync(StatusCode.Unavailable, () => channel.UnaryAsync(check,
            new Pb.CheckBatchRequest { Subjects = { new Pb.Subject { Url = "https://ready.example/a.jpg" } } }, new CallOptions(headers)));
    }

    [Theory]
    [InlineData("maybe")]
    [InlineData("1")]
    [InlineData("yes")]
    public async Task Bad_warm_up_values_stop_the_start_naming_the_option(string value)
    {
        var error = await Assert.ThrowsAsync<FormatException>(() => ServerFixture.StartAsync("--warm-up", value));
        Assert.Equal($"--warm-up: '{value}' is not on or off", error.Message);
    }

    [Fact]
    public async Task A_bad_warm_up_value_is_exit_code_2()
    {
        var result = await Cli.RunAsync(null, null, "serve", "--warm-up", "sometimes", "--data-dir", Path.Combine(Path.GetTempPath(), "optout-test-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--warm-up: 'sometimes' is not on or off", result.StdErr, StringComparison.Ordinal);
    }

    private static async Task ReserveAsync(string dataDirectory, string url)
    {
        await using var first = await TemporaryServer.StartAsync(["--warm-up", "off"], dataDirectory);
        using var anonymous = RegistryClient.Create(first.GrpcAddress);
        var (holder, _) = await RegistryTestHelpers.NewHolderAsync(anonymous, "Ready Press");
        using (holder)
        {
            await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url(url)));
        }
    }

    private static async Task<WebApplication> StartWithStoreAsync(string dataDirectory, Func<IRegistryStore, IRegistryStore> decorate, params string[] extraArgs)
    {
        var app = ServerHost.Build(
            ["--data-dir", dataDirectory, "--urls", "http://127.0.0.1:0", "--http-urls", "none", "--Logging:LogLevel:Default", "Critical", .. extraArgs],
            services =>
            {
                var original = services.Last(d => d.ServiceType == typeof(IRegistryStore));
                services.Remove(original);
                services.AddSingleton(sp => decorate((IRegistryStore)original.ImplementationFactory!(sp)));
            });
        await app.StartAsync();
        return app;
    }

    private static string[] SelfSignedCertificate(string directory)
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(
            "CN=optout-registry warm-up test", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        var san = new System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var cert = Path.Combine(directory, "cert.pem");
        var keyPath = Path.Combine(directory, "key.pem");
        File.WriteAllText(cert, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return ["--tls-cert", cert, "--tls-key", keyPath];
    }

    private static string GrpcAddress(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    private static async Task WaitServingAsync(GrpcChannel channel)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var status = (await channel.UnaryAsync(HealthCheck, new Health.HealthCheckRequest())).Status;
            if (status == Health.HealthCheckResponse.Types.ServingStatus.Serving)
            {
                return;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"health still {status} after {deadline.Elapsed.TotalSeconds:F0} s");
            await Task.Delay(20);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// The real store, except that its reservation rows cannot be read (the bulk rebuild fails, as with a damaged table
    /// or a database that drops the long read) and its event tail starts only when <c>tail</c> completes.
    /// </summary>
    public class FailingRebuildStore : DispatchProxy
    {
        private IRegistryStore _inner = null!;
        private Task _tail = Task.CompletedTask;

        /// <summary>Wraps <paramref name="inner"/>.</summary>
        public static IRegistryStore Wrap(IRegistryStore inner, Task tail)
        {
            var proxy = Create<IRegistryStore, FailingRebuildStore>();
            var self = (FailingRebuildStore)(object)proxy;
            self._inner = inner;
            self._tail = tail;
            return proxy;
        }

        /// <inheritdoc />
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            switch (targetMethod.Name)
            {
                case nameof(IRegistryStore.ReadReservationPayloadsAsync):
                case nameof(IRegistryStore.ReadReservationPayloadSpansAsync):
                    return Task.FromException<long>(new IOException("injected: the reservation rows cannot be read"));
                case nameof(IRegistryStore.TailEventsAsync):
                    return TailAfter(_inner, (long)args![0]!, _tail, (CancellationToken)args[1]!);
                default:
                    try
                    {
                        return targetMethod.Invoke(_inner, args);
                    }
                    catch (TargetInvocationException ex) when (ex.InnerException is not null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
                        throw;
                    }
            }
        }

        private static async IAsyncEnumerable<CommittedEvent> TailAfter(IRegistryStore inner, long from, Task tail, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await tail.WaitAsync(cancellationToken);
            await foreach (var committed in inner.TailEventsAsync(from, cancellationToken))
            {
                yield return committed;
            }
        }
    }
}
