using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>Something that answers "may this URL be used for this purpose?": the online <see cref="CheckClient"/> or an <see cref="OfflineChecker"/>.</summary>
public interface IUrlChecker
{
    /// <summary>Checks one URL now, with provenance.</summary>
    ValueTask<Pb.CheckResult> CheckUrlAsync(string url, Pb.UsageCategory purpose, CancellationToken cancellationToken = default);
}
