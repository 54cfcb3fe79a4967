using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.RobotsTags;

/// <summary>One directive of an <c>X-Robots-Tag</c> header or robots meta tag.</summary>
/// <param name="Directive">The directive, lower case (<c>noai</c>, <c>noindex</c>, <c>unavailable_after</c>…).</param>
/// <param name="Bot">The bot it is scoped to (lower case), or null for every bot.</param>
/// <param name="Source">Where it was found.</param>
public sealed record RobotsTagDirective(string Directive, string? Bot, string Source);

/// <summary>How robots directives are read.</summary>
public sealed record RobotsTagOptions
{
    /// <summary>
    /// Treat <c>noindex</c>, <c>none</c> and <c>noimageindex</c> as AI-training opt-outs too, as img2dataset does by
    /// default (standards.md §8). Off by default: they are search directives.
    /// </summary>
    public bool NoIndexMeansNoAi { get; init; }
}

/// <summary>
/// <c>X-Robots-Tag</c> and <c>&lt;meta name="robots"&gt;</c>/bot-named meta with the AI directives <c>noai</c>,
/// <c>noimageai</c> (DeviantArt 2022), <c>noml</c> (Mojeek) and the <c>noindex</c> family. Syntax per Google/MDN:
/// several headers combine; each value is a comma list; a <c>bot:</c> prefix scopes the rest of the value to that bot;
/// names and directives are case-insensitive. <c>unavailable_after: &lt;date&gt;</c> and the <c>max-*</c> directives
/// contain a colon but are directives, not bot names, and an RFC 850 date's own comma does not start a directive.
/// </summary>
public static class RobotsTagDirectives
{
    /// <summary>The header name.</summary>
    public const string HeaderName = "X-Robots-Tag";

    private static readonly string[] ValuedDirectives = ["unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"];

    /// <summary>Parses every <c>X-Robots-Tag</c> value (header instances in order).</summary>
    public static List<RobotsTagDirective> ParseHeaders(IEnumerable<string> values)
    {
        var list = new List<RobotsTagDirective>();
        var i = 0;
        foreach (var v in values)
        {
            ParseValue(v, null, $"X-Robots-Tag #{++i}", list);
        }

        return list;
    }

    /// <summary>Parses meta tags: <c>name="robots"</c> applies to every bot, any other name to the bot of that name.</summary>
    public static List<RobotsTagDirective> ParseMeta(IEnumerable<KeyValuePair<string, string>> meta, string agent)
    {
        var list = new List<RobotsTagDirective>();
        var token = Robots.RobotsTxt.ProductToken(agent).ToString();
        foreach (var (name, content) in meta)
        {
            if (name.Equals("robots", StringComparison.OrdinalIgnoreCase))
            {
                ParseValue(content, null, "<meta name=\"robots\">", list);
            }
            else if (token.Length > 0 && name.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                ParseValue(content, token.ToLowerInvariant(), $"<meta name=\"{name}\">", list);
            }
        }

        return list;
    }

    /// <summary>Parses one value; <paramref name="scope"/> is the bot a meta tag's name already scopes it to.</summary>
    public static void ParseValue(string value, string? scope, string source, List<RobotsTagDirective> into)
    {
        foreach (var range in value.AsSpan().Split(','))
        {
            var item = value.AsSpan()[range].Trim();
            if (item.IsEmpty)
            {
                continue;
            }

            var colon = item.IndexOf(':');
            if (colon > 0)
            {
                var head = item[..colon].Trim();
                if (IsValued(head))
                {
                    into.Add(new RobotsTagDirective(head.ToString().ToLowerInvariant(), scope, source));
                    continue;
                }

                if (IsBotToken(head))
                {
                    // "googlebot: noindex, nofollow" — the bot scopes the rest of this value.
                    scope = head.ToString().ToLowerInvariant();
                    item = item[(colon + 1)..].Trim();
                    if (item.IsEmpty)
                    {
                        continue;
                    }
                }
                else
                {
                    // A fragment such as "03-Nov-2027 15:00:00 GMT" left by an RFC 850 date's comma.
                    continue;
                }
            }

            if (!IsBotToken(item))
            {
                continue;
            }

            into.Add(new RobotsTagDirective(item.ToString().ToLowerInvariant(), scope, source));
        }
    }

    /// <summary>The directives that apply to <paramref name="agent"/>: unscoped ones and those scoped to its token.</summary>
    public static IEnumerable<RobotsTagDirective> ApplyingTo(IEnumerable<RobotsTagDirective> directives, string agent)
    {
        var token = Robots.RobotsTxt.ProductToken(agent).ToString();
        foreach (var d in directives)
        {
            if (d.Bot is null || d.Bot.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                yield return d;
            }
        }
    }

    /// <summary>
    /// Maps directives onto registry categories. <c>noai</c>/<c>noml</c> reserve AI training; <c>noimageai</c> does too
    /// when the resource is an image (or its type is unknown), and otherwise only covers the images a page embeds,
    /// which are other resources; <c>noindex</c>/<c>none</c> (and <c>noimageindex</c> for images) reserve search, and
    /// training as well with <see cref="RobotsTagOptions.NoIndexMeansNoAi"/>. Google: competing rules ⇒ most restrictive.
    /// </summary>
    public static UsagePreferences ToPreferences(IEnumerable<RobotsTagDirective> directives, bool? isImage, RobotsTagOptions options)
    {
        var p = UsagePreferences.None;
        var image = isImage ?? true;
        foreach (var d in directives)
        {
            switch (d.Directive)
            {
                case "noai":
                case "noml":
                    p[UsageCategory.TrainAi] = Verdict.Disallowed;
                    break;
                case "noimageai" when image:
                    p[UsageCategory.TrainAi] = Verdict.Disallowed;
                    break;
                case "noindex":
                case "none":
                    p[UsageCategory.Search] = Verdict.Disallowed;
                    if (options.NoIndexMeansNoAi)
                    {
                        p[UsageCategory.TrainAi] = Verdict.Disallowed;
                    }

                    break;
                case "noimageindex" when image:
                    p[UsageCategory.Search] = Verdict.Disallowed;
                    if (options.NoIndexMeansNoAi)
                    {
                        p[UsageCategory.TrainAi] = Verdict.Disallowed;
                    }

                    break;
            }
        }

        return p;
    }

    private static bool IsValued(ReadOnlySpan<char> head)
    {
        foreach (var v in ValuedDirectives)
        {
            if (head.Equals(v, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsBotToken(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
