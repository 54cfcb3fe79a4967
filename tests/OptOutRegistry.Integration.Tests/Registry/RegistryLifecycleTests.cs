using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>A rights holder's whole life cycle through the real server and our SDK, every receipt verified offline.</summary>
public sealed class RegistryLifecycleTests
{
    [Fact]
    public async Task Lifecycle_CreateVerifyRegisterAmendRevoke_EveryReceiptVerifiesAndHistoryIsKept()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var pem = PublicKeyPem(server);
        var (holder, created) = await NewHolderAsync(anonymous, "Qazaq Books");
        var admin = anonymous.WithKey(server.AdminKey);

        // An unverified url selector is accepted and marked unverified.
        var url = await holder.CreateReservationAsync(Spec(Url("https://Example.KZ:443/books/abai.pdf#p1"), title: "Абай жолы"));
        Assert.Equal(Pb.ReservationState.Active, url.Reservation.State);
        Assert.False(url.Reservation.SelectorVerified[0]);
        Assert.Equal(url.Reservation.Id, url.Receipt.ReservationId);
        Assert.Equal(created.Holder.Id, url.Reservation.HolderId);
        Assert.Equal(url.Reservation.RegisteredAt, url.Reservation.ValidFrom);
        AssertValid(url.Receipt, pem);
        var hits = await anonymous.SearchWorksAsync("АБАЙ");
        Assert.Contains(hits.Hits, h => h.ReservationId == url.Reservation.Id && h.HolderName == "Qazaq Books" && h.Title == "Абай жолы");

        // The operator records example.kz as verified; then a domain selector is accepted and marked verified.
        var recorded = await admin.RecordVerifiedHostAsync(created.Holder.Id, "EXAMPLE.kz", "contract 2026/17");
        Assert.Equal("example.kz", recorded.Host);
        Assert.Equal(Pb.VerificationMethod.Operator, recorded.Method);
        Assert.Equal("operator", recorded.Receipt.Event.HostVerified.Method);
        AssertValid(recorded.Receipt, pem);
        var domainSpec = Spec(new Pb.Selector { Domain = "example.kz" }, Pb.UsageCategory.All);
        domainSpec.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.Search, Permission = Pb.Permission.Allow });
        var domain = await holder.CreateReservationAsync(domainSpec);
        Assert.True(domain.Reservation.SelectorVerified[0]);
        AssertValid(domain.Receipt, pem);
        // A subdomain host of a verified domain is covered by that verification.
        var sub = await holder.CreateReservationAsync(Spec(new Pb.Selector { Prefix = "photos.example.kz/gallery/" }));
        Assert.True(sub.Reservation.SelectorVerified[0]);

        // Amend: a new reservation supersedes the old one; both states are in the history.
        var amended = await holder.AmendReservationAsync(url.Reservation.Id, Spec(Url("https://example.kz/books/abai.pdf"), Pb.UsageCategory.All, "Абай жолы (2nd ed.)"));
        Assert.NotEqual(url.Reservation.Id, amended.Reservation.Id);
        Assert.Equal(url.Reservation.Id, amended.Reservation.Supersedes);
        AssertValid(amended.Receipt, pem);
        var old = await holder.GetReservationAsync(url.Reservation.Id);
        Assert.Equal(Pb.ReservationState.Superseded, old.State);
        Assert.Equal(amended.Reservation.Id, old.SupersededBy);
        var oldHistory = await holder.GetReservationHistoryAsync(url.Reservation.Id);
        Assert.Equal([Pb.ReservationState.Active, Pb.ReservationState.Superseded], oldHistory.Entries.Select(e => e.State));
        Assert.Equal(amended.Reservation.Id, oldHistory.Entries[1].RelatedReservationId);
        await AssertStatusAsync(StatusCode.FailedPrecondition, () => holder.RevokeReservationAsync(url.Reservation.Id));

        // Revoke: state and history change, the receipt verifies.
        var revoked = await holder.RevokeReservationAsync(amended.Reservation.Id, "rights transferred");
        Assert.Equal(Pb.ReservationState.Revoked, revoked.Reservation.State);
        Assert.Equal("rights transferred", revoked.Receipt.Event.ReservationRevoked.Reason);
        AssertValid(revoked.Receipt, pem);
        var history = await holder.GetReservationHistoryAsync(amended.Reservation.Id);
        Assert.Equal([Pb.ReservationState.Active, Pb.ReservationState.Revoked], history.Entries.Select(e => e.State));
        Assert.Equal(revoked.Receipt.Event.Sequence, history.Entries[1].Sequence);

        // Listing, search, a fresh receipt for an old event.
        var list = await holder.ListReservationsAsync(pageSize: 2);
        Assert.Equal(2, list.Reservations.Count);
        var rest = await holder.ListReservationsAsync(pageSize: 2, pageToken: list.NextPageToken);
        Assert.Equal(2, rest.Reservations.Count);
        Assert.Equal(4, list.Reservations.Concat(rest.Reservations).Select(r => r.Id).Distinct().Count());
        // Search finds active works only: the superseded and the revoked version are gone from it.
        Assert.DoesNotContain((await anonymous.SearchWorksAsync("абай")).Hits, h => h.ReservationId == url.Reservation.Id);
        var again = await anonymous.GetReceiptAsync(url.Receipt.Event.Sequence);
        AssertValid(again, pem);
        Assert.True(again.TreeHead.TreeSize > url.Receipt.TreeHead.TreeSize);

        // The holder's account shows the verified host; the private e-mail only to the holder and the operator.
        var me = await holder.GetHolderAsync();
        Assert.Equal(["example.kz"], me.VerifiedHosts);
        Assert.Equal("Qazaq.Books@example.org", me.ContactEmail);
        Assert.Equal(me.ContactEmail, (await admin.GetHolderAsync(created.Holder.Id)).ContactEmail);
        Assert.DoesNotContain(me.ContactEmail, url.Receipt.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateReservation_WithIdempotencyKey_RetryReturnsTheFirstResultAndCreatesNothing()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (holder, _) = await NewHolderAsync(anonymous, "Retry Holder");
        var first = await holder.CreateReservationAsync(Spec(Url("https://retry.example/a.jpg")), "order-42");
        var second = await holder.CreateReservationAsync(Spec(Url("https://retry.example/a.jpg")), "order-42");
        Assert.Equal(first.Reservation.Id, second.Reservation.Id);
        Assert.Equal(first.Receipt.Event.Sequence, second.Receipt.Event.Sequence);
        Assert.Single((await holder.ListReservationsAsync()).Reservations);
    }

    [Fact]
    public async Task ApiKeys_CreateListRevoke_RevokedKeyIsRefusedAtOnce()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (holder, _) = await NewHolderAsync(anonymous, "Key Holder");
        var extra = await holder.CreateApiKeyAsync("ci-import");
        Assert.StartsWith("oor_", extra.ApiKey, StringComparison.Ordinal);
        Assert.StartsWith(extra.Info.Prefix, extra.ApiKey, StringComparison.Ordinal);
        var second = anonymous.WithKey(extra.ApiKey);
        Assert.Equal((await holder.GetHolderAsync()).Id, (await second.GetHolderAsync()).Id);
        var keys = await holder.ListApiKeysAsync();
        Assert.Equal(["ci-import", "initial"], keys.Keys.Select(k => k.Label));
        Assert.DoesNotContain(keys.Keys, k => k.Prefix.Length > 12);

        var revoked = await holder.RevokeApiKeyAsync(extra.Info.Id);
        Assert.NotNull(revoked.Info.RevokedAt);
        await AssertStatusAsync(StatusCode.Unauthenticated, () => second.GetHolderAsync());
        await AssertStatusAsync(StatusCode.Unauthenticated, () => second.CreateReservationAsync(Spec(Url("https://k.example/x"))));
    }

    [Fact]
    public async Task AdminOnlySignup_AnonymousCannotCreateHolders_AdminCan()
    {
        await using var server = await ServerFixture.StartAsync("--signup", "admin");
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        await AssertStatusAsync(StatusCode.Unauthenticated, () => NewHolderAsync(anonymous, "Nobody"));
        var (holder, created) = await NewHolderAsync(anonymous.WithKey(server.AdminKey), "Contracted Archive");
        Assert.StartsWith("hld_", created.Holder.Id, StringComparison.Ordinal);
        await AssertStatusAsync(StatusCode.PermissionDenied, () => NewHolderAsync(holder, "Sub Account"));

        // The generated admin key is private to the server's user (written once, mode 0600).
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(server.DataDirectory, "admin-key")));
        }
    }
}
