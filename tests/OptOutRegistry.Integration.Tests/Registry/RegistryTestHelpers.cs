using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using OptOutRegistry.Grpc;
using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>What the Registry tests share: holders, specs, and receipt checks against the server's real key.</summary>
internal static class RegistryTestHelpers
{
    public static async Task<(RegistryClient Client, Pb.CreateHolderResponse Holder)> NewHolderAsync(RegistryClient anonymous, string name)
    {
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = name, ContactEmail = name.Replace(' ', '.') + "@example.org" });
        return (anonymous.WithKey(created.ApiKey), created);
    }

    public static Pb.ReservationSpec Spec(Pb.Selector selector, Pb.UsageCategory category = Pb.UsageCategory.TrainAi, string? title = null)
    {
        var spec = new Pb.ReservationSpec();
        spec.Selectors.Add(selector);
        spec.Statements.Add(new Pb.UsageStatement { Category = category, Permission = Pb.Permission.Disallow });
        if (title is not null)
        {
            spec.Work = new Pb.WorkMetadata { Title = title };
        }

        return spec;
    }

    public static Pb.Selector Url(string url) => new() { Url = url };

    /// <summary>The registry's public key as the server itself keeps it (the signer's SPKI).</summary>
    public static string PublicKeyPem(ServerFixture server)
    {
        using var signer = TreeHeadSigner.LoadOrCreate(server.DataDirectory);
        return signer.ExportPublicKeyPem();
    }

    public static void AssertValid(Pb.Receipt receipt, string publicKeyPem)
    {
        var result = ReceiptVerifier.Verify(receipt, publicKeyPem);
        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        var json = ReceiptVerifier.VerifyJson(ReceiptVerifier.ToJson(receipt), publicKeyPem);
        Assert.True(json.IsValid, string.Join("; ", json.Errors));
    }

    public static async Task<RpcException> AssertStatusAsync(StatusCode expected, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(expected == ex.StatusCode, $"expected {expected}, got {ex.StatusCode}: {ex.Status.Detail}");
        return ex;
    }
}
