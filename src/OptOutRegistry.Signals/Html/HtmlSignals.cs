using AngleSharp.Html.Parser;

namespace OptOutRegistry.Signals.Html;

/// <summary>
/// The opt-out signals an HTML page carries, read with AngleSharp's HTML5 parser in one pass:
/// every <c>&lt;meta name content&gt;</c> pair (robots, bot-named, tdm-reservation, tdm-policy…) and every
/// <c>&lt;link rel="license"&gt;</c> (RSL discovery).
/// </summary>
public sealed class HtmlSignals
{
    /// <summary>Largest document parsed; the rest is ignored (signals live in the head).</summary>
    public const int MaxChars = 4 * 1024 * 1024;

    private HtmlSignals(List<KeyValuePair<string, string>> meta, List<string> licenseLinks)
    {
        Meta = meta;
        LicenseLinks = licenseLinks;
    }

    /// <summary>The <c>name</c>/<c>content</c> pairs of all meta elements, in document order (names as written).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Meta { get; }

    /// <summary>The <c>href</c> of every <c>&lt;link rel="license"&gt;</c>.</summary>
    public IReadOnlyList<string> LicenseLinks { get; }

    /// <summary>Parses a document. Never throws on malformed markup (HTML5 parsing always produces a tree).</summary>
    public static HtmlSignals Parse(string html)
    {
        if (html.Length > MaxChars)
        {
            html = html[..MaxChars];
        }

        var parser = new HtmlParser(new HtmlParserOptions { IsScripting = false });
        using var document = parser.ParseDocument(html);
        var meta = new List<KeyValuePair<string, string>>();
        foreach (var element in document.QuerySelectorAll("meta[name]"))
        {
            var name = element.GetAttribute("name");
            var content = element.GetAttribute("content");
            if (!string.IsNullOrWhiteSpace(name) && content is not null)
            {
                meta.Add(new(name.Trim(), content));
            }
        }

        var licenses = new List<string>();
        foreach (var element in document.QuerySelectorAll("link[rel][href]"))
        {
            var rel = element.GetAttribute("rel") ?? "";
            foreach (var token in rel.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (token.Equals("license", StringComparison.OrdinalIgnoreCase))
                {
                    licenses.Add(element.GetAttribute("href")!.Trim());
                    break;
                }
            }
        }

        return new HtmlSignals(meta, licenses);
    }
}
