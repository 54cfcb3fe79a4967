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

    /// <summary>
    /// Deepest element nesting parsed; the document is cut where an (over-)estimate of the depth passes it. HTML5 tree
    /// construction checks "has an element in scope" by walking the stack of open elements, so n nested elements cost
    /// O(n²): 4 MiB of <c>&lt;div&gt;</c> would take hours (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
    /// Chromium caps its tree depth at 512 for the same reason.
    /// </summary>
    public const int MaxDepth = 512;

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

        var cut = NestingCut(html);
        if (cut < html.Length)
        {
            html = html[..cut];
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

    private static readonly string[] s_voidElements = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr", "keygen"];
    private static readonly string[] s_rawTextElements = ["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext"];

    /// <summary>
    /// Where the estimated nesting depth first exceeds <see cref="MaxDepth"/> (or the length when it never does). The
    /// estimate counts start tags minus end tags, skipping void elements, self-closing tags, comments and raw-text
    /// content; implied end tags (<c>&lt;p&gt;</c>, <c>&lt;li&gt;</c>) make it an upper bound of the real depth. Linear.
    /// </summary>
    private static int NestingCut(string html)
    {
        var depth = 0;
        var i = 0;
        while (true)
        {
            var lt = html.IndexOf('<', i);
            if (lt < 0 || lt + 1 >= html.Length)
            {
                return html.Length;
            }

            var next = html[lt + 1];
            if (next == '!')
            {
                // Comment or doctype: skip to its end.
                var end = html.AsSpan(lt).StartsWith("<!--", StringComparison.Ordinal) ? html.IndexOf("-->", lt + 4, StringComparison.Ordinal) : html.IndexOf('>', lt);
                if (end < 0)
                {
                    return html.Length;
                }

                i = end + 1;
                continue;
            }

            var closing = next == '/';
            var nameStart = closing ? lt + 2 : lt + 1;
            var nameEnd = nameStart;
            while (nameEnd < html.Length && char.IsAsciiLetterOrDigit(html[nameEnd]))
            {
                nameEnd++;
            }

            if (nameEnd == nameStart || !char.IsAsciiLetter(html[nameStart]))
            {
                i = lt + 1;
                continue;
            }

            var tagEnd = html.IndexOf('>', nameEnd);
            if (tagEnd < 0)
            {
                return html.Length;
            }

            var name = html.AsSpan(nameStart, nameEnd - nameStart);
            if (closing)
            {
                depth = Math.Max(0, depth - 1);
                i = tagEnd + 1;
                continue;
            }

            i = tagEnd + 1;
            if (IsOneOf(name, s_rawTextElements))
            {
                // Raw text: its content is not markup; continue after its end tag.
                var endTag = html.IndexOf("</" + name.ToString(), i, StringComparison.OrdinalIgnoreCase);
                i = endTag < 0 ? html.Length : endTag;
                continue;
            }

            if (html[tagEnd - 1] == '/' || IsOneOf(name, s_voidElements))
            {
                continue;
            }

            if (++depth > MaxDepth)
            {
                return lt;
            }
        }
    }

    private static bool IsOneOf(ReadOnlySpan<char> name, string[] names)
    {
        foreach (var candidate in names)
        {
            if (name.Equals(candidate, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
