using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Resolution;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Signals;

/// <summary>Feeds the registry's Check service (or any <see cref="IUrlChecker"/>) into the site-signal resolver.</summary>
internal sealed class RegistryVerdictAdapter(IUrlChecker checker) : IRegistryVerdictSource
{
    public async ValueTask<RegistryVerdict> CheckAsync(string url, UsageCategory purpose, CancellationToken cancellationToken)
    {
        var result = await checker.CheckUrlAsync(url, ToPb(purpose), cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(result.Error))
        {
            return new RegistryVerdict(Verdict.Unknown, $"registry error: {result.Error}");
        }

        var verdict = result.Verdict switch
        {
            Pb.Verdict.Disallowed => Verdict.Disallowed,
            Pb.Verdict.Allowed => Verdict.Allowed,
            _ => Verdict.Unknown,
        };
        var provenance = string.Join("; ", result.Matches.Select(m =>
            $"reservation {m.ReservationId} by {(string.IsNullOrEmpty(m.HolderName) ? m.HolderId : m.HolderName)} " +
            $"({m.SelectorKind} {m.Selector}{(m.Verified ? ", verified" : ", unverified")}" +
            (string.IsNullOrEmpty(m.PolicyUrl) ? "" : $", policy {m.PolicyUrl}") + ")"));
        return new RegistryVerdict(verdict, provenance);
    }

    private static Pb.UsageCategory ToPb(UsageCategory c) => c switch
    {
        UsageCategory.All => Pb.UsageCategory.All,
        UsageCategory.TrainAi => Pb.UsageCategory.TrainAi,
        UsageCategory.TrainGenAi => Pb.UsageCategory.TrainGenai,
        UsageCategory.AiUse => Pb.UsageCategory.AiUse,
        UsageCategory.Search => Pb.UsageCategory.Search,
        _ => Pb.UsageCategory.All,
    };
}
