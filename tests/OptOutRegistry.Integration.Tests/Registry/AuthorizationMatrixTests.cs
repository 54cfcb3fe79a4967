using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>One server with holders A and B and a reservation of B, shared by the matrix.</summary>
public sealed class AuthorizationFixture : IAsyncLifetime
{
    public ServerFixture Server { get; private set; } = null!;
    public RegistryClient Anonymous { get; private set; } = null!;
    public RegistryClient A { get; private set; } = null!;
    public RegistryClient B { get; private set; } = null!;
    public RegistryClient Admin { get; private set; } = null!;
    public RegistryClient Wrong { get; private set; } = null!;
    public string BReservation { get; private set; } = null!;
    public string BHolder { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ServerFixture.StartAsync();
        Anonymous = RegistryClient.Create(Server.GrpcAddress);
        (A, _) = await NewHolderAsync(Anonymous, "Holder A");
        var (b, created) = await NewHolderAsync(Anonymous, "Holder B");
        B = b;
        BHolder = created.Holder.Id;
        Admin = Anonymous.WithKey(Server.AdminKey);
        Wrong = Anonymous.WithKey("oor_not-a-real-key-but-well-formed-0000000000000");
        BReservation = (await B.CreateReservationAsync(Spec(Url("https://b.example/work.jpg")))).Reservation.Id;
    }

    public async Task DisposeAsync()
    {
        Anonymous.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Issue 6 item 2: holder A cannot see, amend or revoke holder B's reservations; anonymous and wrong keys are
/// UNAUTHENTICATED; another holder's data and data that does not exist get the SAME answer (no hint of what exists).
/// </summary>
public sealed class AuthorizationMatrixTests(AuthorizationFixture fixture) : IClassFixture<AuthorizationFixture>
{
    private readonly RegistryClient _anonymous = fixture.Anonymous;
    private readonly RegistryClient _a = fixture.A;
    private readonly RegistryClient _b = fixture.B;
    private readonly RegistryClient _admin = fixture.Admin;
    private readonly RegistryClient _wrong = fixture.Wrong;
    private readonly string _bReservation = fixture.BReservation;
    private readonly string _bHolder = fixture.BHolder;

    public static TheoryData<string, string, StatusCode> Matrix => new()
    {
        // caller, operation, expected status (OK = succeeds)
        { "anonymous", "create", StatusCode.Unauthenticated },
        { "anonymous", "get", StatusCode.Unauthenticated },
        { "anonymous", "revoke", StatusCode.Unauthenticated },
        { "anonymous", "list", StatusCode.Unauthenticated },
        { "anonymous", "search", StatusCode.OK },
        { "wrong", "create", StatusCode.Unauthenticated },
        { "wrong", "get", StatusCode.Unauthenticated },
        { "wrong", "search", StatusCode.Unauthenticated },
        { "a", "get", StatusCode.PermissionDenied },
        { "a", "get-missing", StatusCode.PermissionDenied },
        { "a", "amend", StatusCode.PermissionDenied },
        { "a", "revoke", StatusCode.PermissionDenied },
        { "a", "history", StatusCode.PermissionDenied },
        { "a", "list-b", StatusCode.PermissionDenied },
        { "a", "holder-b", StatusCode.PermissionDenied },
        { "a", "record-host", StatusCode.PermissionDenied },
        { "a", "create", StatusCode.OK },
        { "b", "get", StatusCode.OK },
        { "b", "history", StatusCode.OK },
        { "admin", "get", StatusCode.OK },
        { "admin", "get-missing", StatusCode.NotFound },
        { "admin", "list-b", StatusCode.OK },
        { "admin", "holder-b", StatusCode.OK },
        { "admin", "create", StatusCode.PermissionDenied },
        { "admin", "record-host", StatusCode.OK },
    };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Caller_Operation_GetsExpectedStatus(string caller, string operation, StatusCode expected)
    {
        var client = caller switch
        {
            "anonymous" => _anonymous,
            "wrong" => _wrong,
            "a" => _a,
            "b" => _b,
            _ => _admin,
        };
        Func<Task> call = operation switch
        {
            "create" => () => client.CreateReservationAsync(Spec(Url("https://a.example/x.jpg"))),
            "get" => () => client.GetReservationAsync(_bReservation),
            "get-missing" => () => client.GetReservationAsync("rsv_DOESNOTEXIST"),
            "amend" => () => client.AmendReservationAsync(_bReservation, Spec(Url("https://b.example/stolen.jpg"))),
            "revoke" => () => client.RevokeReservationAsync(_bReservation),
            "history" => () => client.GetReservationHistoryAsync(_bReservation),
            "list" => () => client.ListReservationsAsync(),
            "list-b" => () => client.ListReservationsAsync(holderId: _bHolder),
            "holder-b" => () => client.GetHolderAsync(_bHolder),
            "record-host" => () => client.RecordVerifiedHostAsync(_bHolder, "b.example"),
            "search" => () => client.SearchWorksAsync("work"),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };
        if (expected == StatusCode.OK)
        {
            await call();
            return;
        }

        var ex = await AssertStatusAsync(expected, call);
        if (expected == StatusCode.PermissionDenied && operation is "get" or "get-missing")
        {
            // Another holder's reservation and a missing one read the same, apart from the id echoed back.
            Assert.Equal("reservation_id: 'ID' is not one of your reservations", ex.Status.Detail.Replace(_bReservation, "ID").Replace("rsv_DOESNOTEXIST", "ID"));
        }
    }

    [Fact]
    public async Task RejectedRequests_ChangeNothing_BReservationStillActiveAndUnchanged()
    {
        var before = await _b.GetReservationAsync(_bReservation);
        await Assert.ThrowsAsync<RpcException>(() => _a.RevokeReservationAsync(_bReservation));
        await Assert.ThrowsAsync<RpcException>(() => _a.AmendReservationAsync(_bReservation, Spec(Url("https://b.example/x"))));
        Assert.Equal(before, await _b.GetReservationAsync(_bReservation));
    }
}
