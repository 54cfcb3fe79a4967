using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Crosswalk;

/// <summary>
/// One row of the crosswalk: a wire term of a vocabulary version and the registry categories it speaks for.
/// </summary>
/// <param name="Vocabulary">Vocabulary id (<see cref="Vocabularies"/>).</param>
/// <param name="Version">Vocabulary version the term belongs to.</param>
/// <param name="Term">The wire label, exactly as written on the wire (case-sensitive where the vocabulary is).</param>
/// <param name="Categories">Registry categories a statement with this term sets (usually one).</param>
/// <param name="IsLossy">True when the mapping widens or narrows the term's meaning; <paramref name="Note"/> says how.</param>
/// <param name="Note">Why the mapping is lossy (standards.md §9 "Mapping hazards").</param>
public sealed record CrosswalkTerm(string Vocabulary, string Version, string Term, IReadOnlyList<UsageCategory> Categories, bool IsLossy, string? Note);

/// <summary>How a vocabulary writes "allow" and "disallow".</summary>
/// <param name="Vocabulary">Vocabulary id.</param>
/// <param name="AllowValues">Values meaning allow (compared ordinally after the vocabulary's case rule).</param>
/// <param name="DisallowValues">Values meaning disallow.</param>
/// <param name="CaseSensitive">Whether values are case-sensitive on the wire.</param>
/// <param name="Note">Anything a reader must know (e.g. CAWG <c>constrained</c> ⇒ disallow).</param>
public sealed record ValueEncoding(string Vocabulary, IReadOnlyList<string> AllowValues, IReadOnlyList<string> DisallowValues, bool CaseSensitive, string? Note);
