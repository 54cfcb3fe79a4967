using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Security.Tests;

/// <summary>What the security tests share.</summary>
internal static class TestHelpers
{
    public static async Task<RpcException> AssertStatusAsync(StatusCode expected, Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(expected == ex.StatusCode, $"expected {expected}, got {ex.StatusCode}: {ex.Status.Detail}");
        return ex;
    }

    public static Pb.CheckBatchRequest Batch(int subjects, string host = "limit.example")
    {
        var batch = new Pb.CheckBatchRequest();
        for (var i = 0; i < subjects; i++)
        {
            batch.Subjects.Add(new Pb.Subject { Url = $"https://{host}/{i}" });
        }

        return batch;
    }

    public static Pb.ReservationSpec Spec(string url, string? title = null)
    {
        var spec = new Pb.ReservationSpec();
        spec.Selectors.Add(new Pb.Selector { Url = url });
        spec.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
        if (title is not null)
        {
            spec.Work = new Pb.WorkMetadata { Title = title };
        }

        return spec;
    }

    public static async Task<(RegistryClient Client, Pb.CreateHolderResponse Created)> NewHolderAsync(RegistryClient anonymous, string name, string? email = null)
    {
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = name, ContactEmail = email ?? name.Replace(' ', '.') + "@example.org" });
        return (anonymous.WithKey(created.ApiKey), created);
    }
}
