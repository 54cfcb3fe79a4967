using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Security.Tests.TestHelpers;
using Pb = OptOutRegistry.Api.V1;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// Two real servers (an open registry, and one with <c>--check-require-key</c>) on loopback with holders A and B, and a
/// loopback web site that serves A's host-verification token, so every RPC can be called by each kind of caller.
/// </summary>
public sealed class MatrixFixture : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, string> _wellKnown = new(StringComparer.OrdinalIgnoreCase);
    private WebApplication _site = null!;
    private int _hostCounter;

    public SecurityServer Open { get; private set; } = null!;
    public SecurityServer KeyRequired { get; private set; } = null!;
    public GrpcChannel OpenChannel { get; private set; } = null!;
    public GrpcChannel KeyRequiredChannel { get; private set; } = null!;
    public RegistryClient A { get; private set; } = null!;
    public string AHolderId { get; private set; } = null!;
    public string AReservationId { get; private set; } = null!;
    public Dictionary<string, string?> OpenKeys { get; } = [];
    public Dictionary<string, string?> KeyRequiredKeys { get; } = [];

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _site = builder.Build();
        _site.MapGet("/.well-known/optout-registry.txt", (HttpContext http) =>
            _wellKnown.TryGetValue(http.Request.Host.Host, out var token) ? Results.Text(token) : Results.NotFound());
        await _site.StartAsync();
        var sitePort = new Uri(_site.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        string[] verification = ["--verification:scheme", "http", "--verification:port", sitePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--verification:connect-address", "127.0.0.1", "--verification:timeout-seconds", "5"];

        Open = await SecurityServer.StartAsync(verification);
        KeyRequired = await SecurityServer.StartAsync(["--check-require-key", "true", .. verification]);
        OpenChannel = GrpcChannel.ForAddress(Open.GrpcAddress);
        KeyRequiredChannel = GrpcChannel.ForAddress(KeyRequired.GrpcAddress);
        foreach (var (server, channel, keys) in new[] { (Open, OpenChannel, OpenKeys), (KeyRequired, KeyRequiredChannel, KeyRequiredKeys) })
        {
            var anonymous = new RegistryClient(channel);
            var (a, createdA) = await NewHolderAsync(anonymous, "Holder A");
            var (_, createdB) = await NewHolderAsync(anonymous, "Holder B");
            keys["anonymous"] = null;
            keys["holder-a"] = createdA.ApiKey;
            keys["holder-b"] = createdB.ApiKey;
            keys["admin"] = server.AdminKey;
            keys["unknown-key"] = "oor_made-up-key-that-this-registry-never-issued";
            if (server == Open)
            {
                A = a;
                AHolderId = createdA.Holder.Id;
                AReservationId = (await a.CreateReservationAsync(Spec("https://a.example/work.jpg", "A's work"))).Reservation.Id;
            }
        }
    }

    /// <summary>A host name not used before, under example.org.</summary>
    public string NewHost() => $"h{Interlocked.Increment(ref _hostCounter)}.a-verify.example.org";

    /// <summary>Starts a verification of a new host by A and publishes A's token on the test site.</summary>
    public async Task<string> StartVerificationByAAsync()
    {
        var host = NewHost();
        var started = await A.StartHostVerificationAsync(host);
        _wellKnown[host] = started.Token;
        return host;
    }

    public async Task DisposeAsync()
    {
        OpenChannel.Dispose();
        KeyRequiredChannel.Dispose();
        A.Dispose();
        await Open.DisposeAsync();
        await KeyRequired.DisposeAsync();
        await _site.DisposeAsync();
    }
}

/// <summary>
/// Issue 9 item 4: the authorisation matrix. Every RPC of Registry, Check and Feed, enumerated from the service
/// descriptors (a new RPC without a row fails <see cref="EveryRpc_HasARow"/>), called through the real server by
/// anonymous, holder A (the owner of the objects acted on), holder B (acting on A's objects), the admin key and a key
/// the registry never issued, with the status each must get. Mutating rows act on objects made fresh for the call.
/// </summary>
public sealed class AuthorizationMatrixTests(MatrixFixture fixture) : IClassFixture<MatrixFixture>
{
    private const StatusCode Ok = StatusCode.OK;
    private const StatusCode Unauth = StatusCode.Unauthenticated;
    private const StatusCode Denied = StatusCode.PermissionDenied;

    private static readonly string[] Callers = ["anonymous", "holder-a", "holder-b", "admin", "unknown-key"];

    private static readonly ServiceDescriptor[] Services =
    [
        Pb.RegistryReflection.Descriptor.Services[0],
        Pb.CheckReflection.Descriptor.Services[0],
        Pb.FeedReflection.Descriptor.Services[0],
    ];

    /// <summary>One row per RPC: the request (built per call) and the expected status for each caller, in <see cref="Callers"/> order.</summary>
    private static readonly Dictionary<string, (Func<MatrixFixture, Task<IMessage>> Request, StatusCode[] Expected)> Rows = new()
    {
        // Holder accounts: open signup (the default) lets anyone create one; a made-up key is refused, not ignored.
        ["optout.v1.Registry/CreateHolder"] = (_ => Msg(new Pb.CreateHolderRequest { DisplayName = "New", ContactEmail = "new@example.org" }), [Ok, Ok, Ok, Ok, Unauth]),
        ["optout.v1.Registry/GetHolder"] = (f => Msg(new Pb.GetHolderRequest { HolderId = f.AHolderId }), [Unauth, Ok, Denied, Ok, Unauth]),
        // Keys belong to the calling holder; the admin key has no holder account of its own.
        ["optout.v1.Registry/CreateApiKey"] = (_ => Msg(new Pb.CreateApiKeyRequest { Label = "matrix" }), [Unauth, Ok, Ok, Denied, Unauth]),
        // Listing and revoking name the holder: its own for a holder key, any for the admin key (a leaked key is revoked
        // by the operator); B naming A is refused.
        ["optout.v1.Registry/ListApiKeys"] = (f => Msg(new Pb.ListApiKeysRequest { HolderId = f.AHolderId }), [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/RevokeApiKey"] = (async f => new Pb.RevokeApiKeyRequest { KeyId = (await f.A.CreateApiKeyAsync("to revoke")).Info.Id, HolderId = f.AHolderId },
            [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/StartHostVerification"] = (f => Msg(new Pb.StartHostVerificationRequest { Host = f.NewHost() }), [Unauth, Ok, Ok, Denied, Unauth]),
        // A's token is live on the site: only A completes A's challenge; B has none of its own for that host.
        ["optout.v1.Registry/CompleteHostVerification"] = (async f => new Pb.CompleteHostVerificationRequest { Host = await f.StartVerificationByAAsync(), Method = Pb.VerificationMethod.WellKnown },
            [Unauth, Ok, StatusCode.FailedPrecondition, Denied, Unauth]),
        ["optout.v1.Registry/RecordVerifiedHost"] = (f => Msg(new Pb.RecordVerifiedHostRequest { HolderId = f.AHolderId, Host = f.NewHost() }), [Unauth, Denied, Denied, Ok, Unauth]),
        ["optout.v1.Registry/ListVerifiedHosts"] = (f => Msg(new Pb.ListVerifiedHostsRequest { HolderId = f.AHolderId }), [Unauth, Ok, Denied, Ok, Unauth]),
        // Reservations: created by holders only (an operator's reservation would have no holder to answer for it).
        ["optout.v1.Registry/CreateReservation"] = (_ => Msg(new Pb.CreateReservationRequest { Spec = Spec("https://a.example/new.jpg") }), [Unauth, Ok, Ok, Denied, Unauth]),
        ["optout.v1.Registry/AmendReservation"] = (async f => new Pb.AmendReservationRequest { ReservationId = await NewReservationOfAAsync(f), Spec = Spec("https://a.example/amended.jpg") },
            [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/RevokeReservation"] = (async f => new Pb.RevokeReservationRequest { ReservationId = await NewReservationOfAAsync(f) }, [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/GetReservation"] = (f => Msg(new Pb.GetReservationRequest { ReservationId = f.AReservationId }), [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/ListReservations"] = (f => Msg(new Pb.ListReservationsRequest { HolderId = f.AHolderId }), [Unauth, Ok, Denied, Ok, Unauth]),
        ["optout.v1.Registry/GetReservationHistory"] = (f => Msg(new Pb.GetReservationHistoryRequest { ReservationId = f.AReservationId }), [Unauth, Ok, Denied, Ok, Unauth]),
        // Public reads: search hits and receipts carry public fields only; a made-up key is still refused (never ignored).
        ["optout.v1.Registry/SearchWorks"] = (_ => Msg(new Pb.SearchWorksRequest { Query = "work" }), [Ok, Ok, Ok, Ok, Unauth]),
        ["optout.v1.Registry/GetReceipt"] = (_ => Msg(new Pb.GetReceiptRequest { Sequence = 0 }), [Ok, Ok, Ok, Ok, Unauth]),
        ["optout.v1.Registry/ImportReservations"] = (_ => Msg(new Pb.ImportReservationsRequest { Spec = Spec("https://a.example/imported.jpg") }), [Unauth, Ok, Ok, Denied, Unauth]),
        // Checks on an open registry: anyone; an unknown key is answered too, charged to the address (RateLimitTests).
        ["optout.v1.Check/CheckBatch"] = (_ => Msg(Batch(3, "a.example")), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Check/CheckStream"] = (_ => Msg(Batch(3, "a.example")), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Check/Explain"] = (_ => Msg(new Pb.ExplainRequest { Subject = new Pb.Subject { Url = "https://a.example/work.jpg" } }), [Ok, Ok, Ok, Ok, Ok]),
        // The feed is public by design: the transparency log must be readable by anyone (SECURITY.md).
        ["optout.v1.Feed/WatchEvents"] = (_ => Msg(new Pb.WatchEventsRequest { FromSequence = 0, StopAtEnd = true }), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Feed/GetTreeHead"] = (_ => Msg(new Pb.GetTreeHeadRequest()), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Feed/GetInclusionProof"] = (_ => Msg(new Pb.GetInclusionProofRequest { LeafIndex = 0 }), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Feed/GetConsistencyProof"] = (_ => Msg(new Pb.GetConsistencyProofRequest { FirstSize = 1 }), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Feed/GetPublicKey"] = (_ => Msg(new Pb.GetPublicKeyRequest()), [Ok, Ok, Ok, Ok, Ok]),
        ["optout.v1.Feed/GetSnapshot"] = (_ => Msg(new Pb.GetSnapshotRequest()), [Ok, Ok, Ok, Ok, Ok]),
    };

    /// <summary>The Check rows again on a registry started with <c>--check-require-key true</c>.</summary>
    private static readonly Dictionary<string, StatusCode[]> KeyRequiredCheckRows = new()
    {
        ["optout.v1.Check/CheckBatch"] = [Unauth, Ok, Ok, Ok, Unauth],
        ["optout.v1.Check/CheckStream"] = [Unauth, Ok, Ok, Ok, Unauth],
        ["optout.v1.Check/Explain"] = [Unauth, Ok, Ok, Ok, Unauth],
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var service in Services)
        {
            foreach (var method in service.Methods)
            {
                foreach (var caller in Callers)
                {
                    data.Add(service.FullName + "/" + method.Name, caller);
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string> KeyRequiredCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var rpc in KeyRequiredCheckRows.Keys)
        {
            foreach (var caller in Callers)
            {
                data.Add(rpc, caller);
            }
        }

        return data;
    }

    [Fact]
    public void EveryRpc_HasARow()
    {
        var rpcs = Services.SelectMany(s => s.Methods.Select(m => s.FullName + "/" + m.Name)).Order().ToList();
        Assert.Equal(rpcs, Rows.Keys.Order().ToList());
        Assert.Equal(Pb.CheckReflection.Descriptor.Services[0].Methods.Select(m => "optout.v1.Check/" + m.Name).Order(), KeyRequiredCheckRows.Keys.Order());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task OpenRegistry_Rpc_Caller_GetsExpectedStatus(string rpc, string caller)
    {
        Assert.True(Rows.TryGetValue(rpc, out var row), $"no matrix row for {rpc}");
        var expected = row.Expected[Array.IndexOf(Callers, caller)];
        var actual = await InvokeAsync(fixture.OpenChannel, rpc, await row.Request(fixture), fixture.OpenKeys[caller]);
        Assert.True(expected == actual.Code, $"{caller} → {rpc}: expected {expected}, got {actual.Code}: {actual.Detail}");
    }

    [Theory]
    [MemberData(nameof(KeyRequiredCases))]
    public async Task KeyRequiredRegistry_Check_Caller_GetsExpectedStatus(string rpc, string caller)
    {
        var expected = KeyRequiredCheckRows[rpc][Array.IndexOf(Callers, caller)];
        var actual = await InvokeAsync(fixture.KeyRequiredChannel, rpc, await Rows[rpc].Request(fixture), fixture.KeyRequiredKeys[caller]);
        Assert.True(expected == actual.Code, $"{caller} → {rpc}: expected {expected}, got {actual.Code}: {actual.Detail}");
    }

    /// <summary>The HTTP/1.1 gateways: same rules as the RPCs they front. GET /v1/reservations/{id} is public (the feed already publishes every reservation).</summary>
    [Theory]
    [InlineData("open", "anonymous", "check", 200)]
    [InlineData("open", "holder-b", "check", 200)]
    [InlineData("open", "admin", "check", 200)]
    [InlineData("open", "unknown-key", "check", 200)]
    [InlineData("open", "anonymous", "spawning", 200)]
    [InlineData("open", "unknown-key", "spawning", 200)]
    [InlineData("open", "anonymous", "reservation", 200)]
    [InlineData("open", "holder-b", "reservation", 200)]
    [InlineData("open", "anonymous", "reservation-missing", 404)]
    [InlineData("key-required", "anonymous", "check", 401)]
    [InlineData("key-required", "unknown-key", "check", 401)]
    [InlineData("key-required", "holder-a", "check", 200)]
    [InlineData("key-required", "admin", "check", 200)]
    [InlineData("key-required", "anonymous", "spawning", 401)]
    [InlineData("key-required", "unknown-key", "spawning", 401)]
    [InlineData("key-required", "holder-b", "spawning", 200)]
    public async Task Gateway_Caller_GetsExpectedHttpStatus(string registry, string caller, string route, int expected)
    {
        var server = registry == "open" ? fixture.Open : fixture.KeyRequired;
        var key = (registry == "open" ? fixture.OpenKeys : fixture.KeyRequiredKeys)[caller];
        using var http = new HttpClient();
        using var request = route switch
        {
            "check" => new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/v1/check") { Content = new StringContent("{\"subjects\":[{\"url\":\"https://a.example/work.jpg\"}]}") },
            "spawning" => new HttpRequestMessage(HttpMethod.Post, server.HttpAddress + "/api/v2/query/urls") { Content = new StringContent("https://a.example/work.jpg\n") },
            "reservation" => new HttpRequestMessage(HttpMethod.Get, server.HttpAddress + "/v1/reservations/" + fixture.AReservationId),
            _ => new HttpRequestMessage(HttpMethod.Get, server.HttpAddress + "/v1/reservations/rsv_DOESNOTEXIST"),
        };
        if (key is not null)
        {
            request.Headers.Authorization = route == "spawning" ? new AuthenticationHeaderValue("API", key) : new AuthenticationHeaderValue("Bearer", key);
        }

        using var response = await http.SendAsync(request);
        Assert.True((HttpStatusCode)expected == response.StatusCode, $"{caller} → {route}: expected {expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static Task<IMessage> Msg(IMessage message) => Task.FromResult(message);

    private static async Task<string> NewReservationOfAAsync(MatrixFixture f) =>
        (await f.A.CreateReservationAsync(Spec($"https://a.example/{Guid.NewGuid():N}.jpg"))).Reservation.Id;

    private static Task<(StatusCode Code, string Detail)> InvokeAsync(GrpcChannel channel, string rpc, IMessage request, string? key)
    {
        var slash = rpc.IndexOf('/', StringComparison.Ordinal);
        var service = Services.Single(s => s.FullName == rpc[..slash]);
        var method = service.FindMethodByName(rpc[(slash + 1)..]);
        var typed = typeof(AuthorizationMatrixTests).GetMethod(nameof(InvokeTypedAsync), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(method.InputType.ClrType, method.OutputType.ClrType);
        return (Task<(StatusCode, string)>)typed.Invoke(null, [channel, method, request, key])!;
    }

    private static async Task<(StatusCode Code, string Detail)> InvokeTypedAsync<TRequest, TResponse>(GrpcChannel channel, MethodDescriptor descriptor, IMessage request, string? key)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = Method<TRequest, TResponse>.Create(descriptor.Service, descriptor.Name);
        var headers = new Metadata();
        if (key is not null)
        {
            headers.Add("authorization", "Bearer " + key);
        }

        var options = new CallOptions(headers, DateTime.UtcNow.AddSeconds(60));
        try
        {
            switch (method.Type)
            {
                case MethodType.Unary:
                    await channel.UnaryAsync(method, (TRequest)request, options);
                    break;
                case MethodType.ServerStreaming:
                {
                    using var call = channel.ServerStreaming(method, (TRequest)request, options);
                    while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    {
                    }

                    break;
                }

                case MethodType.ClientStreaming:
                {
                    using var call = channel.ClientStreaming(method, options);
                    await call.RequestStream.WriteAsync((TRequest)request);
                    await call.RequestStream.CompleteAsync();
                    await call.ResponseAsync;
                    break;
                }

                default:
                {
                    using var call = channel.DuplexStreaming(method, options);
                    await call.RequestStream.WriteAsync((TRequest)request);
                    await call.RequestStream.CompleteAsync();
                    while (await call.ResponseStream.MoveNext(CancellationToken.None))
                    {
                    }

                    break;
                }
            }

            return (StatusCode.OK, string.Empty);
        }
        catch (RpcException ex)
        {
            return (ex.StatusCode, ex.Status.Detail);
        }
    }
}
