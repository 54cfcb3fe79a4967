using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Matching;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Warmup;

/// <summary>
/// Warms the server before it says it is ready (<see cref="MatcherReadiness"/>): once Kestrel listens and the matcher has
/// caught up, the server sends itself real checks over loopback through every check entry point, twice, each time on a
/// fresh connection — gRPC <c>CheckBatch</c> (the fast path and the generated one), <c>CheckStream</c> and
/// <c>Explain</c> over HTTP/2 on each address that speaks it, and <c>POST /v1/check</c> and the Spawning
/// <c>POST /api/v2/query/urls</c> over HTTP/1.1 on each address that serves the gateways.
/// <para>Why: the first request of a started server cost 200–400 ms server-side in both the JIT and the ReadyToRun
/// build (~900 methods compiled on first use: generic instantiations ReadyToRun cannot hold, endpoint routing built on
/// first use, the HTTP/2 and gRPC paths; benchmarks/startup/RESULTS.md, round seven), 40× the p99 target — a replica
/// joining a fleet served its first callers that slowly.</para>
/// <para>The requests pass the readiness gate with a per-process token (<see cref="WarmUpGate"/>) and skip the rate
/// limits; their subjects are <c>.invalid</c> URLs (RFC 2606), which no reservation can match, so the paths of a match
/// are compiled by <see cref="MatcherRehearsal"/> on a throwaway matcher, and the admission steps the requests skip by
/// <see cref="Check.CheckAccess.PrepareAdmission"/>. Which addresses speak
/// what is found by trying: gRPC over HTTP/2 first, the gateways over HTTP/1.1 where that failed (a cleartext address
/// speaks one or the other) and on every <c>https</c> address (which serves both through ALPN). Over TLS the warm-up
/// does not validate the certificate: it connects to an address this process itself bound, and the token it sends opens
/// nothing once the server is ready. A wildcard address is reached over loopback.</para>
/// <para>A warm-up never fails the start: an error is logged at Warning and the server becomes ready anyway.
/// <c>--warm-up off</c> turns it off.</para>
/// </summary>
public sealed class ServerWarmUp(
    WarmUpOptions options, MatcherReadiness readiness, WarmUpGate gate, IServer server, IHostApplicationLifetime lifetime, ILogger<ServerWarmUp> logger)
    : BackgroundService
{
    /// <summary>The whole warm-up gives up after this long (then the server is ready cold rather than never).</summary>
    internal static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    private const int Rounds = 2;

    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> CheckBatch =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckBatch");

    private static readonly Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse> CheckStream =
        Method<Pb.CheckBatchRequest, Pb.CheckBatchResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "CheckStream");

    private static readonly Method<Pb.ExplainRequest, Pb.ExplainResponse> Explain =
        Method<Pb.ExplainRequest, Pb.ExplainResponse>.Create(Pb.CheckReflection.Descriptor.Services[0], "Explain");

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled)
        {
            return;
        }

        try
        {
            await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
            await readiness.WhenCaughtUp.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var requests = 0;
        try
        {
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            budget.CancelAfter(Budget);
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
            {
                requests += await WarmAddressAsync(Reachable(address), budget.Token).ConfigureAwait(false);
            }

            // What the requests above cannot reach: the admission steps they skip, and a matcher's paths for a match.
            Check.CheckAccess.PrepareAdmission();
            MatcherRehearsal.Run();
            if (requests == 0)
            {
                WarmUpLog.NothingWarmed(logger, string.Join(", ", addresses));
            }
            else
            {
                WarmUpLog.Done(logger, requests, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            WarmUpLog.Failed(logger, requests, Stopwatch.GetElapsedTime(started).TotalMilliseconds, ex);
        }

        readiness.MarkWarm();
    }

    private Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        if (lifetime.ApplicationStarted.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = lifetime.ApplicationStarted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), started);
        return started.Task.WaitAsync(stoppingToken).ContinueWith(
            t =>
            {
                registration.Dispose();
                return t;
            },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
    }

    // Kestrel reports wildcard bindings as 0.0.0.0 / [::]; the warm-up reaches those over loopback.
    internal static Uri Reachable(string address)
    {
        var builder = new UriBuilder(address);
        builder.Host = builder.Host switch
        {
            "0.0.0.0" or "+" or "*" => "127.0.0.1",
            "[::]" or "::" => "[::1]",
            _ => builder.Host,
        };
        return builder.Uri;
    }

    private async Task<int> WarmAddressAsync(Uri address, CancellationToken cancellationToken)
    {
        var https = address.Scheme == Uri.UriSchemeHttps;
        var requests = 0;
        var grpc = true;
        for (var round = 0; round < Rounds && grpc; round++)
        {
            try
            {
                // A fresh channel each round: a fresh connection, as a new caller's.
                requests += await WarmGrpcAsync(address, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex) when (round == 0 && ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unimplemented)
            {
                // Not an HTTP/2 address (a cleartext HTTP/1.1 gateway address): its gateways are warmed below.
                grpc = false;
            }
        }

        if (!grpc || https)
        {
            for (var round = 0; round < Rounds; round++)
            {
                requests += await WarmGatewaysAsync(address, https, cancellationToken).ConfigureAwait(false);
            }
        }

        return requests;
    }

    private async Task<int> WarmGrpcAsync(Uri address, CancellationToken cancellationToken)
    {
        var channelOptions = new GrpcChannelOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ServerCertificateValidation = address.Scheme == Uri.UriSchemeHttps ? AcceptOwnListener : null,
        };
        using var channel = GrpcChannel.ForAddress(address, channelOptions);
        var call = new CallOptions(new Metadata { { WarmUpGate.Header, gate.Token } }, DateTime.UtcNow.AddSeconds(10), cancellationToken);

        // The fast path's shape (URL subjects, verdicts only), one subject and several.
        Expect(await channel.UnaryAsync(CheckBatch, Request(1, matches: false), call).ConfigureAwait(false), 1);
        Expect(await channel.UnaryAsync(CheckBatch, Request(3, matches: false), call).ConfigureAwait(false), 3);
        // The generated path: provenance asked for, content and identifier subjects.
        var typed = Request(1, matches: true);
        typed.Subjects.Add(new Pb.Subject { Sha256 = new string('0', 64) });
        typed.Subjects.Add(new Pb.Subject { Identifier = "isbn:9780306406157" });
        Expect(await channel.UnaryAsync(CheckBatch, typed, call).ConfigureAwait(false), 3);
        await channel.UnaryAsync(Explain, new Pb.ExplainRequest { Subject = new Pb.Subject { Url = "https://warm-up.invalid/optout-registry/explain" } }, call)
            .ConfigureAwait(false);

        using (var stream = channel.DuplexStreaming(CheckStream, call))
        {
            for (var i = 0; i < 2; i++)
            {
                await stream.RequestStream.WriteAsync(Request(2, matches: false)).ConfigureAwait(false);
                if (!await stream.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    throw new InvalidOperationException("CheckStream ended before answering the warm-up");
                }

                Expect(stream.ResponseStream.Current, 2);
            }

            await stream.RequestStream.CompleteAsync().ConfigureAwait(false);
            while (await stream.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
            }
        }

        return 5;
    }

    private async Task<int> WarmGatewaysAsync(Uri address, bool https, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) };
        if (https)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = AcceptOwnListener };
        }

        // A fresh client each round: a fresh connection, as a new caller's.
        using var client = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        client.DefaultRequestHeaders.Add(WarmUpGate.Header, gate.Token);
        using (var json = await client.PostAsync(
            "/v1/check",
            new StringContent("{\"subjects\":[{\"url\":\"https://warm-up.invalid/optout-registry/json.jpg\"}],\"purpose\":\"USAGE_CATEGORY_TRAIN_AI\"}", Encoding.UTF8, "application/json"),
            cancellationToken).ConfigureAwait(false))
        {
            await ExpectOkAsync(json, "/v1/check", cancellationToken).ConfigureAwait(false);
        }

        using (var spawning = await client.PostAsync(
            "/api/v2/query/urls",
            new StringContent("https://warm-up.invalid/optout-registry/a.jpg\nhttps://warm-up.invalid/optout-registry/b.jpg", Encoding.UTF8, "text/plain"),
            cancellationToken).ConfigureAwait(false))
        {
            await ExpectOkAsync(spawning, "/api/v2/query/urls", cancellationToken).ConfigureAwait(false);
        }

        return 2;
    }

    private static Pb.CheckBatchRequest Request(int urls, bool matches)
    {
        // Purpose train-ai, as crawlers ask (the field's setter and the category paths are compiled too).
        var request = new Pb.CheckBatchRequest { IncludeMatches = matches, Purpose = Pb.UsageCategory.TrainAi };
        for (var i = 0; i < urls; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = "https://warm-up.invalid/optout-registry/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".jpg" });
        }

        return request;
    }

    private static void Expect(Pb.CheckBatchResponse response, int results)
    {
        if (response.Results.Count != results)
        {
            throw new InvalidOperationException($"a warm-up check of {results} subjects was answered with {response.Results.Count} results");
        }
    }

    private static async Task ExpectOkAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"warm-up POST {path} answered {(int)response.StatusCode}: {body}");
        }
    }

    // Only ever used for connections to this process's own listening addresses (see the class remarks).
    private static bool AcceptOwnListener(object sender, System.Security.Cryptography.X509Certificates.X509Certificate? certificate,
        System.Security.Cryptography.X509Certificates.X509Chain? chain, SslPolicyErrors errors) => true;
}
