using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching;

/// <summary>
/// One selector of one reservation that covered the subject at the as-of instant and spoke to the purpose.
/// Public data only: never the holder's private contact data.
/// </summary>
/// <param name="ReservationId">The reservation.</param>
/// <param name="HolderId">Its holder.</param>
/// <param name="SelectorKind">Kind of the selector that matched.</param>
/// <param name="SelectorText">The selector's canonical text (see <see cref="Selector.Text"/>).</param>
/// <param name="HostVerified">Whether the holder's control of the host was verified.</param>
/// <param name="PolicyUrl">The reservation's policy or licence URL.</param>
/// <param name="DecidingCategory">The category whose statement applied: the purpose, an ancestor whose statement it inherits, or a narrower category whose disallow restricts it (see <see cref="UsageStatements"/>).</param>
/// <param name="Permission">What that statement says.</param>
/// <param name="IsDeciding">
/// True when this match decided its holder's answer (the holder's most specific match); false for a broader
/// selector of the same holder that a more specific one overrode (a carve-out).
/// </param>
/// <param name="IsccUnit">For ISCC matches: the indexed unit that matched.</param>
/// <param name="HammingDistance">For ISCC matches: bits that differ between query and indexed unit.</param>
public sealed record Match(
    string ReservationId,
    string HolderId,
    SelectorKind SelectorKind,
    string SelectorText,
    bool HostVerified,
    string? PolicyUrl,
    UsageCategory DecidingCategory,
    UsagePermission Permission,
    bool IsDeciding,
    IsccUnit? IsccUnit = null,
    int? HammingDistance = null);

/// <summary>A verdict with its provenance.</summary>
/// <param name="Verdict">
/// Within each holder the most specific selector decides; across holders the most restrictive answer wins
/// (DESIGN.md "The model").
/// </param>
/// <param name="Matches">Every match considered, deciding ones first, most restrictive first.</param>
public sealed record CheckResult(Verdict Verdict, IReadOnlyList<Match> Matches)
{
    /// <summary>No reservation speaks to the subject.</summary>
    public static CheckResult Unknown { get; } = new(Verdict.Unknown, []);
}
