using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Security.Tests.TestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// A leaked holder key must not stay usable until its holder notices: the operator lists and revokes any holder's keys
/// with the admin key (RevokeApiKey/ListApiKeys with <c>holder_id</c>), the key stops working at once, and the event log
/// records the operator, not the holder, as the actor.
/// </summary>
public sealed class AdminKeyRevocationTests
{
    [Fact]
    public async Task Admin_RevokesAHoldersLeakedKey_KeyIsRefusedAtOnce_AndTheLogNamesTheAdmin()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (holder, created) = await NewHolderAsync(anonymous, "Leaky Holder");
        using var _ = holder;
        var leaked = await holder.CreateApiKeyAsync("laptop");
        using var thief = anonymous.WithKey(leaked.ApiKey);
        await thief.CreateReservationAsync(Spec("https://leak.example/1.jpg"));
        using var admin = anonymous.WithKey(server.AdminKey);

        var listed = await admin.ListApiKeysAsync(created.Holder.Id);
        Assert.Contains(listed.Keys, k => k.Id == leaked.Info.Id && k.RevokedAt is null);

        var revoked = await admin.RevokeApiKeyAsync(leaked.Info.Id, created.Holder.Id);
        Assert.Equal(leaked.Info.Id, revoked.Info.Id);
        Assert.NotNull(revoked.Info.RevokedAt);

        await AssertStatusAsync(StatusCode.Unauthenticated, () => thief.CreateReservationAsync(Spec("https://leak.example/2.jpg")));
        // The holder's other key is untouched.
        await holder.CreateReservationAsync(Spec("https://leak.example/3.jpg"));

        using var feed = FeedClient.Create(server.GrpcAddress);
        Pb.Event? revocation = null;
        await foreach (var e in feed.WatchEventsAsync(0, stopAtEnd: true))
        {
            if (e.ChangeCase == Pb.Event.ChangeOneofCase.ApiKeyRevoked)
            {
                revocation = e;
            }
        }

        Assert.NotNull(revocation);
        Assert.Equal("admin", revocation!.Actor);
        Assert.Equal(created.Holder.Id, revocation.ApiKeyRevoked.HolderId);
        Assert.Equal(leaked.Info.Id, revocation.ApiKeyRevoked.KeyId);
    }

    [Fact]
    public async Task Admin_WithoutHolderId_IsInvalidArgument_NamingTheField()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        using var admin = anonymous.WithKey(server.AdminKey);
        var ex = await AssertStatusAsync(StatusCode.InvalidArgument, () => admin.RevokeApiKeyAsync("key_whatever"));
        Assert.Contains("holder_id", ex.Status.Detail, StringComparison.Ordinal);
        ex = await AssertStatusAsync(StatusCode.InvalidArgument, () => admin.ListApiKeysAsync());
        Assert.Contains("holder_id", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_KeyOfAnotherHolder_IsNotFound_AndNothingIsRevoked()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (a, createdA) = await NewHolderAsync(anonymous, "Holder A");
        var (b, createdB) = await NewHolderAsync(anonymous, "Holder B");
        using var _a = a;
        using var _b = b;
        var keyOfB = await b.CreateApiKeyAsync("b's");
        using var admin = anonymous.WithKey(server.AdminKey);

        // The key exists, but not under the holder named: a typo in holder_id must not revoke somebody else's key.
        var ex = await AssertStatusAsync(StatusCode.NotFound, () => admin.RevokeApiKeyAsync(keyOfB.Info.Id, createdA.Holder.Id));
        Assert.Contains("key_id", ex.Status.Detail, StringComparison.Ordinal);
        using var stillValid = anonymous.WithKey(keyOfB.ApiKey);
        await stillValid.CreateReservationAsync(Spec("https://b.example/still-mine.jpg"));
        Assert.Null((await admin.ListApiKeysAsync(createdB.Holder.Id)).Keys.Single(k => k.Id == keyOfB.Info.Id).RevokedAt);
    }

    [Fact]
    public async Task Holder_NamingAnotherHolder_IsPermissionDenied()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (a, _) = await NewHolderAsync(anonymous, "Holder A");
        var (b, createdB) = await NewHolderAsync(anonymous, "Holder B");
        using var _a = a;
        using var _b = b;
        var keyOfB = await b.CreateApiKeyAsync("b's");
        await AssertStatusAsync(StatusCode.PermissionDenied, () => a.RevokeApiKeyAsync(keyOfB.Info.Id, createdB.Holder.Id));
        await AssertStatusAsync(StatusCode.PermissionDenied, () => a.ListApiKeysAsync(createdB.Holder.Id));
        using var stillValid = anonymous.WithKey(keyOfB.ApiKey);
        await stillValid.CreateReservationAsync(Spec("https://b.example/mine.jpg"));
    }
}
