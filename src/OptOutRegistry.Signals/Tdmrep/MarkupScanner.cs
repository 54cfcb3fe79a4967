using System.Net;

namespace OptOutRegistry.Signals.Tdmrep;

/// <summary>
/// A tolerant scanner over XML-like markup (OPF package documents, XMP packets): yields each start tag with its
/// attributes and the text that follows it. It never fails: real files and the spec's own examples are often not
/// well-formed (<c>&lt;package version="2.0" ...&gt;</c>, unquoted attribute values), and a reservation must still be
/// found. No DTDs or entities beyond the predefined ones are processed, so hostile input cannot expand.
/// </summary>
internal static class MarkupScanner
{
    public readonly record struct Tag(string Name, Dictionary<string, string> Attributes, bool SelfClosing, string Text)
    {
        public string LocalName => Name.Contains(':') ? Name[(Name.IndexOf(':') + 1)..] : Name;

        public string? Prefix => Name.Contains(':') ? Name[..Name.IndexOf(':')] : null;

        public string? Attr(string name) => Attributes.TryGetValue(name, out var v) ? v : null;
    }

    public static IEnumerable<Tag> Scan(string markup)
    {
        var pos = 0;
        while (pos < markup.Length)
        {
            var lt = markup.IndexOf('<', pos);
            if (lt < 0 || lt + 1 >= markup.Length)
            {
                yield break;
            }

            var c = markup[lt + 1];
            if (c is '/' or '!' or '?')
            {
                // End tag, comment, CDATA, declaration, processing instruction: skip to its end.
                var endMarker = markup.AsSpan(lt).StartsWith("<!--") ? "-->" : ">";
                var end = markup.IndexOf(endMarker, lt + 1, StringComparison.Ordinal);
                pos = end < 0 ? markup.Length : end + endMarker.Length;
                continue;
            }

            var gt = markup.IndexOf('>', lt + 1);
            if (gt < 0)
            {
                yield break;
            }

            var inner = markup.AsSpan(lt + 1, gt - lt - 1);
            var selfClosing = inner.EndsWith("/");
            if (selfClosing)
            {
                inner = inner[..^1];
            }

            var nameEnd = inner.IndexOfAny(" \t\r\n");
            var name = (nameEnd < 0 ? inner : inner[..nameEnd]).ToString();
            var attributes = ParseAttributes(nameEnd < 0 ? [] : inner[nameEnd..]);
            var nextLt = markup.IndexOf('<', gt + 1);
            var text = selfClosing ? string.Empty : markup[(gt + 1)..(nextLt < 0 ? markup.Length : nextLt)];
            pos = gt + 1;
            if (name.Length > 0)
            {
                yield return new Tag(name, attributes, selfClosing, WebUtility.HtmlDecode(text).Trim());
            }
        }
    }

    private static Dictionary<string, string> ParseAttributes(ReadOnlySpan<char> s)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < s.Length)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            var start = i;
            while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] != '=')
            {
                i++;
            }

            var key = s[start..i].ToString();
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            if (i >= s.Length || s[i] != '=')
            {
                continue; // A bare word such as "..." — ignored.
            }

            i++;
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                i++;
            }

            string value;
            if (i < s.Length && s[i] is '"' or '\'')
            {
                var quote = s[i++];
                var close = s[i..].IndexOf(quote);
                var len = close < 0 ? s.Length - i : close;
                value = s.Slice(i, len).ToString();
                i += len + 1;
            }
            else
            {
                var vs = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                {
                    i++;
                }

                value = s[vs..i].ToString();
            }

            if (key.Length > 0)
            {
                result[key] = WebUtility.HtmlDecode(value);
            }
        }

        return result;
    }
}
