using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>The registry's verdict for a URL, with a short provenance (reservation ids, matched selector).</summary>
/// <param name="Verdict">The verdict.</param>
/// <param name="Provenance">Why, in words (empty when nothing matched).</param>
public readonly record struct RegistryVerdict(Verdict Verdict, string Provenance);

/// <summary>
/// Where the resolver gets the registry's verdict from. Signals does not know how (gRPC, a snapshot file, an
/// in-process matcher); the host wires an implementation in.
/// </summary>
public interface IRegistryVerdictSource
{
    /// <summary>Checks one URL for one purpose.</summary>
    ValueTask<RegistryVerdict> CheckAsync(string url, UsageCategory purpose, CancellationToken cancellationToken);
}
