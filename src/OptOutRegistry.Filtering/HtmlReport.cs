using System.Globalization;
using System.Net;
using System.Text;

namespace OptOutRegistry.Filtering;

/// <summary>
/// Renders a <see cref="FilterReport"/> as one self-contained HTML page (no scripts, no external resources, not even
/// an XML namespace URL: inline SVG in HTML needs none) with an SVG chart of removals per holder, stacked by selector
/// kind. Every bar carries its numbers as <c>data-holder</c>, <c>data-kind</c> and <c>data-count</c> attributes, so
/// the chart can be checked against the report mechanically.
/// </summary>
public static class HtmlReport
{
    private static readonly string[] s_kindOrder = ["url", "prefix", "pattern", "host", "domain", "sha256", "iscc", "identifier"];
    private static readonly string[] s_colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

    /// <summary>The page.</summary>
    public static string Render(FilterReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>optout filter report</title><style>")
          .Append("body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}")
          .Append("td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}td.n{text-align:right}code{font-size:.9em}")
          .Append("</style></head><body>\n<h1>optout filter report</h1>\n<ul>");
        sb.Append(inv, $"<li>Input: <code>{E(report.Input)}</code> ({E(report.Format)})</li>");
        sb.Append(inv, $"<li>Purpose: <code>{E(report.Purpose)}</code>; as of: {E(report.AsOf?.ToString("O", inv) ?? "now")}</li>");
        sb.Append(inv, $"<li>Run: {E(report.StartedAt.ToString("O", inv))} – {E(report.FinishedAt.ToString("O", inv))}</li>");
        if (report.Registry is { } r)
        {
            sb.Append(inv, $"<li>Registry {E(r.Source)} <code>{E(r.Location)}</code>: sequence {r.Sequence}, created {E(r.CreatedAt?.ToString("O", inv) ?? "n/a")}</li>");
            sb.Append(inv, $"<li>Signing key fingerprint <code>{E(r.KeyFingerprint ?? "n/a")}</code>, digest <code>{E(r.Digest ?? "n/a")}</code></li>");
            if (r.TreeHead is not null)
            {
                sb.Append(inv, $"<li>Transparency-log tree head <code>{E(r.TreeHead)}</code>{(r.TreeSize is { } size ? $" (tree size {size})" : string.Empty)}</li>");
            }

            if (r.LastSequence is { } last && last != r.Sequence)
            {
                sb.Append(inv, $"<li>The registry changed during the run: answers came from sequences {r.Sequence}–{last}</li>");
            }
        }

        sb.Append("</ul>\n<h2>Counts</h2><table><tr><th>records</th><th>kept</th><th>removed</th><th>rejected</th></tr>");
        sb.Append(inv, $"<tr><td class=n>{report.InputRecords}</td><td class=n>{report.Kept}</td><td class=n>{report.Removed}</td><td class=n>{report.Rejected}</td></tr></table>\n");
        sb.Append("<h2>Removals per holder and selector kind</h2>\n");
        Chart(sb, report);
        Table(sb, "By verdict", report.ByVerdict);
        Table(sb, "Removals by selector kind", report.BySelectorKind);
        Table(sb, "Removals by signal", report.BySignal);
        if (report.RejectedRecords.Count > 0)
        {
            sb.Append("<h2>Rejected records</h2><table><tr><th>line</th><th>reason</th></tr>");
            foreach (var rej in report.RejectedRecords)
            {
                sb.Append(inv, $"<tr><td class=n>{rej.Line}</td><td>{E(rej.Reason)}</td></tr>");
            }

            sb.Append("</table>\n");
        }

        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void Chart(StringBuilder sb, FilterReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        if (report.ByHolder.Count == 0)
        {
            sb.Append("<p>No removals.</p>\n");
            return;
        }

        const int labelWidth = 220, barWidth = 480, rowHeight = 26, top = 30;
        var holders = report.ByHolder.Take(30).ToList();
        var max = Math.Max(1, holders.Max(h => h.BySelectorKind.Values.Sum()));
        var height = top + (holders.Count * rowHeight) + 10;
        sb.Append(inv, $"<svg width=\"{labelWidth + barWidth + 80}\" height=\"{height}\" role=\"img\" aria-label=\"Removals per holder\" font-family=\"sans-serif\" font-size=\"12\">");

        // Legend.
        var x = labelWidth;
        for (var k = 0; k < s_kindOrder.Length; k++)
        {
            if (!report.BySelectorKind.ContainsKey(s_kindOrder[k])) { continue; }
            sb.Append(inv, $"<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{s_colors[k]}\"/><text x=\"{x + 16}\" y=\"16\">{s_kindOrder[k]}</text>");
            x += 24 + (s_kindOrder[k].Length * 7);
        }

        for (var i = 0; i < holders.Count; i++)
        {
            var h = holders[i];
            var y = top + (i * rowHeight);
            var label = h.Name is { Length: > 0 } n ? $"{n} ({h.HolderId})" : h.HolderId;
            if (label.Length > 32) { label = label[..31] + "…"; }
            sb.Append(inv, $"<text x=\"{labelWidth - 6}\" y=\"{y + 16}\" text-anchor=\"end\">{E(label)}</text>");
            double offset = labelWidth;
            for (var k = 0; k < s_kindOrder.Length; k++)
            {
                if (!h.BySelectorKind.TryGetValue(s_kindOrder[k], out var count) || count == 0) { continue; }
                var w = barWidth * (double)count / max;
                sb.Append(inv, $"<rect x=\"{offset:0.##}\" y=\"{y + 4}\" width=\"{Math.Max(w, 1):0.##}\" height=\"{rowHeight - 8}\" fill=\"{s_colors[k]}\" data-holder=\"{E(h.HolderId)}\" data-kind=\"{s_kindOrder[k]}\" data-count=\"{count}\"><title>{E(h.HolderId)}: {count} by {s_kindOrder[k]}</title></rect>");
                offset += w;
            }

            sb.Append(inv, $"<text x=\"{offset + 6:0.##}\" y=\"{y + 16}\">{h.Removed}</text>");
        }

        sb.Append("</svg>\n");
    }

    private static void Table(StringBuilder sb, string title, SortedDictionary<string, long> counts)
    {
        sb.Append(CultureInfo.InvariantCulture, $"<h2>{E(title)}</h2>");
        if (counts.Count == 0)
        {
            sb.Append("<p>None.</p>\n");
            return;
        }

        sb.Append("<table>");
        foreach (var (key, value) in counts)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(key)}</td><td class=n>{value}</td></tr>");
        }

        sb.Append("</table>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
