namespace OptOutRegistry.Core.Model;

/// <summary>
/// Where an imported statement came from: the wire vocabulary, its version, and the original term and
/// value, so that a statement can be re-mapped when a vocabulary changes (standards.md §10 item 13).
/// </summary>
/// <param name="Vocabulary">Vocabulary id, e.g. <c>aipref</c>, <c>content-signals</c>, <c>tdmrep</c> (see <c>Crosswalk.Vocabularies</c>).</param>
/// <param name="Version">Vocabulary version, e.g. <c>vocab-07</c>, <c>1.0</c>.</param>
/// <param name="Term">The original label, e.g. <c>ai-train</c>.</param>
/// <param name="Value">The original value, e.g. <c>no</c>, <c>n</c>, <c>notAllowed</c>.</param>
public sealed record StatementSource(string Vocabulary, string Version, string Term, string Value);

/// <summary>
/// One usage statement: for <paramref name="Category"/> the holder disallows or allows use.
/// <paramref name="Source"/> is set when the statement was imported from a wire vocabulary
/// through the crosswalk; statements made in the registry's own model have none.
/// </summary>
public sealed record UsageStatement(UsageCategory Category, UsagePermission Permission, StatementSource? Source = null)
{
    /// <summary><c>train-ai=disallow</c>, with the source appended when there is one.</summary>
    public override string ToString() => Source is null
        ? $"{Category.ToWireName()}={Permission.ToWireName()}"
        : $"{Category.ToWireName()}={Permission.ToWireName()} (from {Source.Vocabulary} {Source.Version} {Source.Term}={Source.Value})";
}
