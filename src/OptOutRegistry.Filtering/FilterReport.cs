using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OptOutRegistry.Filtering;

/// <summary>Which registry state a filter run checked against, so the run can be proven later.</summary>
/// <param name="Source">"snapshot" or "server".</param>
/// <param name="Location">The snapshot file name or server address.</param>
/// <param name="Sequence">The last registry event sequence reflected (the snapshot's as-of sequence).</param>
/// <param name="CreatedAt">When the snapshot was made.</param>
/// <param name="KeyFingerprint">SHA-256 of the signing key (hex): pin it against the registry's published key.</param>
/// <param name="Digest">The snapshot's signed SHA-256 digest (hex).</param>
/// <param name="TreeHead">
/// The transparency-log root (hex) of the signed tree head at the start of a server run; snapshot files (format v1) do
/// not carry it, so it is null for snapshot runs and the sequence + digest + signature identify the state instead.
/// </param>
/// <param name="TreeSize">The number of log entries <paramref name="TreeHead"/> covers (server runs).</param>
/// <param name="LastSequence">
/// Server runs: the highest sequence any answer came from (equals <paramref name="Sequence"/> unless the registry changed
/// during the run). Null for snapshot runs, which answer from one fixed state.
/// </param>
public sealed record RegistryState(string Source, string Location, long Sequence, DateTimeOffset? CreatedAt, string? KeyFingerprint, string? Digest, string? TreeHead,
    long? TreeSize = null, long? LastSequence = null);

/// <summary>One rejected (malformed) input record.</summary>
/// <param name="Line">1-based line where the record starts.</param>
/// <param name="Reason">What is wrong with it.</param>
public sealed record RejectedRecord(long Line, string Reason);

/// <summary>Removals attributed to one holder.</summary>
/// <param name="HolderId">The holder.</param>
/// <param name="Name">Its public display name, when the registry has one.</param>
/// <param name="Removed">Records removed because of this holder's reservations.</param>
/// <param name="BySelectorKind">Those removals by the kind of the deciding selector.</param>
public sealed record HolderCount(string HolderId, string? Name, long Removed, SortedDictionary<string, long> BySelectorKind);

/// <summary>
/// The audit report of one <c>optout filter</c> run: what was read, what was removed and why, and which signed
/// registry state decided it. Serialised as JSON (<see cref="ToJson"/>) and Markdown (<see cref="ToMarkdown"/>).
/// </summary>
public sealed class FilterReport
{
    /// <summary>Report format version.</summary>
    public int Version { get; set; } = 1;

    /// <summary>Input name ("-" for stdin).</summary>
    public string Input { get; set; } = "-";

    /// <summary>Input format name.</summary>
    public string Format { get; set; } = string.Empty;

    /// <summary>Purpose checked (registry wire name).</summary>
    public string Purpose { get; set; } = string.Empty;

    /// <summary>The as-of instant checked; null for "now".</summary>
    public DateTimeOffset? AsOf { get; set; }

    /// <summary>Start of the run.</summary>
    public DateTimeOffset StartedAt { get; set; }

    /// <summary>End of the run.</summary>
    public DateTimeOffset FinishedAt { get; set; }

    /// <summary>The registry state checked against.</summary>
    public RegistryState? Registry { get; set; }

    /// <summary>Records read (header rows of CSV/TSV are not records).</summary>
    public long InputRecords { get; set; }

    /// <summary>Records written to the kept output.</summary>
    public long Kept { get; set; }

    /// <summary>Records written to the removed output.</summary>
    public long Removed { get; set; }

    /// <summary>Malformed records, written to neither output.</summary>
    public long Rejected { get; set; }

    /// <summary>Records by verdict: disallowed, allowed, unknown, rejected.</summary>
    public SortedDictionary<string, long> ByVerdict { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Removed records by the kind of the deciding selector (a record counts once per kind).</summary>
    public SortedDictionary<string, long> BySelectorKind { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Removed records by the signal that caught them: url, sha256, iscc (a record counts once per signal).</summary>
    public SortedDictionary<string, long> BySignal { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Removed records by holder, most removals first.</summary>
    public List<HolderCount> ByHolder { get; set; } = [];

    /// <summary>The first rejected records (at most <see cref="MaxRejectedListed"/>).</summary>
    public List<RejectedRecord> RejectedRecords { get; set; } = [];

    /// <summary>How many rejected records are listed individually.</summary>
    public const int MaxRejectedListed = 1000;

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The report as indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    /// <exception cref="JsonException">Not a report.</exception>
    public static FilterReport FromJson(string json) =>
        JsonSerializer.Deserialize<FilterReport>(json, s_json) ?? throw new JsonException("the report is null");

    /// <summary>The report as Markdown for people.</summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("# optout filter report").AppendLine();
        sb.AppendLine(inv, $"- Input: `{Input}` ({Format})");
        sb.AppendLine(inv, $"- Purpose: `{Purpose}`; as of: {(AsOf is { } a ? a.ToString("O", inv) : "now")}");
        sb.AppendLine(inv, $"- Run: {StartedAt.ToString("O", inv)} – {FinishedAt.ToString("O", inv)}");
        if (Registry is { } r)
        {
            sb.AppendLine(inv, $"- Registry {r.Source}: `{r.Location}`, sequence {r.Sequence}, created {(r.CreatedAt is { } c ? c.ToString("O", inv) : "n/a")}");
            sb.AppendLine(inv, $"- Signing key fingerprint: `{r.KeyFingerprint ?? "n/a"}`; digest: `{r.Digest ?? "n/a"}`; tree head: `{r.TreeHead ?? "n/a (not in snapshot files)"}`{(r.TreeSize is { } size ? $" (tree size {size})" : string.Empty)}");
            if (r.LastSequence is { } last && last != r.Sequence)
            {
                sb.AppendLine(inv, $"- The registry changed during the run: answers came from sequences {r.Sequence}–{last}");
            }
        }

        sb.AppendLine().AppendLine("## Counts").AppendLine();
        sb.AppendLine("| records | kept | removed | rejected |").AppendLine("|---:|---:|---:|---:|");
        sb.AppendLine(inv, $"| {InputRecords} | {Kept} | {Removed} | {Rejected} |");
        Table(sb, "By verdict", "verdict", ByVerdict);
        Table(sb, "Removals by selector kind", "kind", BySelectorKind);
        Table(sb, "Removals by signal", "signal", BySignal);
        sb.AppendLine().AppendLine("## Removals by holder").AppendLine();
        if (ByHolder.Count == 0)
        {
            sb.AppendLine("None.");
        }
        else
        {
            sb.AppendLine("| holder | name | removed | by kind |").AppendLine("|---|---|---:|---|");
            foreach (var h in ByHolder)
            {
                sb.AppendLine(inv, $"| `{h.HolderId}` | {Escape(h.Name ?? string.Empty)} | {h.Removed} | {string.Join(", ", h.BySelectorKind.Select(kv => $"{kv.Key} {kv.Value}"))} |");
            }
        }

        sb.AppendLine().AppendLine("## Rejected records").AppendLine();
        if (RejectedRecords.Count == 0)
        {
            sb.AppendLine("None.");
        }
        else
        {
            sb.AppendLine("| line | reason |").AppendLine("|---:|---|");
            foreach (var rej in RejectedRecords)
            {
                sb.AppendLine(inv, $"| {rej.Line} | {Escape(rej.Reason)} |");
            }

            if (Rejected > RejectedRecords.Count)
            {
                sb.AppendLine().AppendLine(inv, $"… and {Rejected - RejectedRecords.Count} more.");
            }
        }

        return sb.ToString();
    }

    private static void Table(StringBuilder sb, string title, string column, SortedDictionary<string, long> counts)
    {
        sb.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"## {title}").AppendLine();
        if (counts.Count == 0)
        {
            sb.AppendLine("None.");
            return;
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"| {column} | records |").AppendLine("|---|---:|");
        foreach (var (key, value) in counts)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {key} | {value} |");
        }
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("\r", string.Empty, StringComparison.Ordinal);
}
