using System.Text;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.Robots;

/// <summary>
/// A parsed robots.txt file (RFC 9309) with the AI extensions crawlers meet today: IETF aipref
/// <c>Content-Usage</c>, Cloudflare <c>Content-Signal</c> and RSL <c>License:</c>. Parse once, then call
/// <see cref="IsAllowed(ReadOnlySpan{char}, ReadOnlySpan{char})"/> as often as needed: it does not allocate.
/// </summary>
/// <remarks>
/// Leniencies (Google-compatible, documented in google/robotstxt and "How Google interprets the robots.txt
/// specification"): a missing colon after <c>user-agent</c>/<c>allow</c>/<c>disallow</c> is accepted
/// (<c>disallow /x</c>); common misspellings (<c>useragent</c>, <c>dissallow</c>…) are accepted; a user-agent value is
/// cut at the first character that cannot be in a product token, so <c>CCBot/2.0</c> is <c>CCBot</c> and
/// <c>Kangaroo Bot</c> is <c>Kangaroo</c>. Unlike Google, digits are token characters: otherwise <c>AI2Bot</c>
/// would become <c>AI</c> (RFC 9309's identifier grammar has no digits, but real tokens do).
/// </remarks>
public sealed class RobotsTxt
{
    /// <summary>Parsing limit (RFC 9309 §2.5: crawlers MUST parse at least 500 KiB). Content beyond it is ignored.</summary>
    public const int MaxBytes = 500 * 1024;

    private const int MaxWarnings = 200;
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly Dictionary<string, AgentGroup> _groups;
    private readonly Dictionary<string, AgentGroup>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly RobotsGroup? _star;

    private RobotsTxt(
        Dictionary<string, AgentGroup> groups,
        RobotsGroup? star,
        List<string> sitemaps,
        List<RobotsPreferenceRule> globalSignals,
        List<(string Url, int Line)> globalLicenses,
        List<RobotsWarning> warnings)
    {
        _groups = groups;
        _lookup = groups.GetAlternateLookup<ReadOnlySpan<char>>();
        _star = star;
        Sitemaps = sitemaps;
        GlobalContentSignals = globalSignals;
        GlobalLicenses = globalLicenses;
        Warnings = warnings;
    }

    /// <summary>A file with no rules: what a 4xx answer means (RFC 9309 §2.3.1.3, "unavailable": the crawler MAY access anything).</summary>
    public static RobotsTxt AllowAll { get; } = Parse(""u8);

    /// <summary>Complete disallow: what a 5xx or network failure means (§2.3.1.4, "unreachable").</summary>
    public static RobotsTxt DisallowAll { get; } = Parse("user-agent: *\ndisallow: /\n"u8);

    /// <summary>Sitemap URLs (not group members).</summary>
    public IReadOnlyList<string> Sitemaps { get; }

    /// <summary><c>Content-Signal</c> lines written before the first group: they apply to every agent.</summary>
    public IReadOnlyList<RobotsPreferenceRule> GlobalContentSignals { get; }

    /// <summary>RSL <c>License:</c> URLs written outside any group (global).</summary>
    public IReadOnlyList<(string Url, int Line)> GlobalLicenses { get; }

    /// <summary>Lines that were ignored, with the reason (at most 200 are kept).</summary>
    public IReadOnlyList<RobotsWarning> Warnings { get; }

    /// <summary>The specific groups by product token (lower case).</summary>
    public IReadOnlyCollection<string> ProductTokens => _groups.Keys;

    /// <summary>Parses robots.txt text.</summary>
    public static RobotsTxt Parse(string content) => Parse(Encoding.UTF8.GetBytes(content));

    /// <summary>
    /// Extracts the product token that group matching uses from an agent name: the leading run of letters,
    /// digits, <c>-</c> and <c>_</c> (<c>CCBot/2.0</c> ⇒ <c>CCBot</c>), or <c>*</c>.
    /// </summary>
    public static ReadOnlySpan<char> ProductToken(ReadOnlySpan<char> agent)
    {
        agent = agent.TrimStart();
        if (agent.Length > 0 && agent[0] == '*')
        {
            return "*";
        }

        var n = 0;
        while (n < agent.Length && (char.IsAsciiLetterOrDigit(agent[n]) || agent[n] is '-' or '_'))
        {
            n++;
        }

        return agent[..n];
    }

    /// <summary>
    /// The group that applies to <paramref name="agent"/>: its own (merged) group, else the <c>*</c> group,
    /// else null (no rules apply). A specific group replaces <c>*</c>; they are never combined (§2.2.1).
    /// </summary>
    public RobotsGroup? SelectGroup(ReadOnlySpan<char> agent)
    {
        var token = ProductToken(agent);
        if (token.Length > 0 && token[0] != '*' && _lookup.TryGetValue(token, out var group))
        {
            return group.Group;
        }

        return _star;
    }

    /// <summary>True when the agent has its own group (not just <c>*</c>).</summary>
    public bool HasSpecificGroup(ReadOnlySpan<char> agent)
    {
        var token = ProductToken(agent);
        return token.Length > 0 && token[0] != '*' && _lookup.ContainsKey(token);
    }

    /// <summary>May <paramref name="agent"/> crawl <paramref name="pathAndQuery"/> (the URL's path and query, e.g. <c>/a/b?c=d</c>)?</summary>
    public bool IsAllowed(ReadOnlySpan<char> pathAndQuery, ReadOnlySpan<char> agent) => Check(pathAndQuery, agent).Allowed;

    /// <summary>Checks a path for an agent and returns the deciding rule as well.</summary>
    public RobotsMatch Check(ReadOnlySpan<char> pathAndQuery, ReadOnlySpan<char> agent)
    {
        var group = SelectGroup(agent);
        if (group is null)
        {
            return new RobotsMatch(true, null, null);
        }

        return Check(pathAndQuery, group);
    }

    /// <summary>Checks a path against one group.</summary>
    public static RobotsMatch Check(ReadOnlySpan<char> pathAndQuery, RobotsGroup group)
    {
        if (pathAndQuery.IsEmpty)
        {
            pathAndQuery = "/";
        }

        // §2.2.2: "/robots.txt" is implicitly allowed.
        if (pathAndQuery.SequenceEqual("/robots.txt"))
        {
            return new RobotsMatch(true, null, group);
        }

        if (PathNormalizer.IsNormalized(pathAndQuery))
        {
            var rule = group.Match(pathAndQuery);
            return new RobotsMatch(rule is null || rule.Kind == RobotsRuleKind.Allow, rule, group);
        }

        return CheckSlow(pathAndQuery, group);
    }

    private static RobotsMatch CheckSlow(ReadOnlySpan<char> pathAndQuery, RobotsGroup group)
    {
        // Worst case a UTF-16 unit becomes three %XX escapes.
        var size = pathAndQuery.Length * 9;
        char[]? rented = null;
        var buffer = size <= 1024 ? stackalloc char[size] : (rented = System.Buffers.ArrayPool<char>.Shared.Rent(size));
        try
        {
            var n = PathNormalizer.Normalize(pathAndQuery, buffer);
            var rule = group.Match(buffer[..n]);
            return new RobotsMatch(rule is null || rule.Kind == RobotsRuleKind.Allow, rule, group);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The usage preferences (<c>Content-Usage</c> or <c>Content-Signal</c>) that apply to a path for an agent,
    /// and the lines they came from. aipref attach §robots.txt: the group is selected as for access rules;
    /// the longest matching path wins; lines with equally long paths are combined, most restrictive first
    /// (unlike allow/disallow ties); preferences apply only to paths the agent may crawl. Global
    /// <c>Content-Signal</c> lines (outside any group) are combined with the group's.
    /// </summary>
    public (UsagePreferences Preferences, IReadOnlyList<RobotsPreferenceRule> Lines) GetPreferences(
        ReadOnlySpan<char> pathAndQuery, ReadOnlySpan<char> agent, RobotsPreferenceKind kind)
    {
        var group = SelectGroup(agent);
        var path = PathNormalizer.NormalizeString(pathAndQuery.IsEmpty ? "/" : pathAndQuery);
        if (group is not null && !Check(path, group).Allowed)
        {
            // "no preferences are implied for resources that are disallowed"
            return (UsagePreferences.None, []);
        }

        var lines = new List<RobotsPreferenceRule>();
        var prefs = Longest(group?.Preferences ?? [], path, kind, lines);
        if (kind == RobotsPreferenceKind.ContentSignal)
        {
            prefs = prefs.MostRestrictive(Longest(GlobalContentSignals, path, kind, lines));
        }

        return (prefs, lines);
    }

    /// <summary>The RSL licence URLs that apply to an agent: the group's own, else the global ones.</summary>
    public IReadOnlyList<(string Url, int Line)> GetLicenses(ReadOnlySpan<char> agent)
    {
        var group = SelectGroup(agent);
        return group is { Licenses.Count: > 0 } ? group.Licenses : GlobalLicenses;
    }

    private static UsagePreferences Longest(
        IReadOnlyList<RobotsPreferenceRule> rules, string path, RobotsPreferenceKind kind, List<RobotsPreferenceRule> matched)
    {
        var best = -1;
        var prefs = UsagePreferences.None;
        var start = matched.Count;
        foreach (var rule in rules)
        {
            if (rule.Kind != kind || rule.Pattern.Length < best || !rule.Pattern.Matches(path))
            {
                continue;
            }

            if (rule.Pattern.Length > best)
            {
                best = rule.Pattern.Length;
                prefs = UsagePreferences.None;
                matched.RemoveRange(start, matched.Count - start);
            }

            prefs = prefs.MostRestrictive(rule.Preferences);
            matched.Add(rule);
        }

        return prefs;
    }

    /// <summary>Parses robots.txt octets (UTF-8 expected; invalid sequences never fail the parse).</summary>
    public static RobotsTxt Parse(ReadOnlySpan<byte> content)
    {
        var warnings = new List<RobotsWarning>();
        if (content.Length > MaxBytes)
        {
            content = content[..MaxBytes];
            var lastBreak = content.LastIndexOfAny((byte)'\n', (byte)'\r');
            if (lastBreak >= 0)
            {
                content = content[..(lastBreak + 1)];
            }

            warnings.Add(new RobotsWarning(0, $"file larger than {MaxBytes} bytes: the rest is ignored (RFC 9309 §2.5)"));
        }

        if (content.StartsWith(Utf8Bom))
        {
            content = content[3..];
        }

        var builder = new Builder(warnings);
        var lineNo = 0;
        while (!content.IsEmpty)
        {
            lineNo++;
            var end = content.IndexOfAny((byte)'\n', (byte)'\r');
            ReadOnlySpan<byte> line;
            if (end < 0)
            {
                line = content;
                content = default;
            }
            else
            {
                line = content[..end];
                var skip = content[end] == '\r' && end + 1 < content.Length && content[end + 1] == '\n' ? 2 : 1;
                content = content[(end + skip)..];
            }

            builder.Line(line, lineNo);
        }

        return builder.Build();
    }

    private enum Key
    {
        Unknown,
        UserAgent,
        Allow,
        Disallow,
        ContentUsage,
        ContentSignal,
        License,
        Sitemap,
    }

    private sealed class RawGroup
    {
        public List<string> Agents { get; } = [];

        // Membership test for Agents: a List.Contains per user-agent line made a group of n agents O(n²) to parse
        // (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
        public HashSet<string> AgentSet { get; } = new(StringComparer.Ordinal);

        public List<RobotsRule> Rules { get; } = [];

        public List<RobotsPreferenceRule> Preferences { get; } = [];

        public List<(string Url, int Line)> Licenses { get; } = [];
    }

    /// <summary>One agent's group, merged from every raw group naming it (§2.2.1) on first use, then kept.</summary>
    private sealed class AgentGroup(string agent, List<RawGroup> sources)
    {
        private RobotsGroup? _group;

        public RobotsGroup Group => Volatile.Read(ref _group) ?? Create();

        public static RobotsGroup Merge(string agent, List<RawGroup> sources)
        {
            var rules = new List<RobotsRule>();
            var preferences = new List<RobotsPreferenceRule>();
            var licenses = new List<(string Url, int Line)>();
            foreach (var g in sources)
            {
                rules.AddRange(g.Rules);
                preferences.AddRange(g.Preferences);
                licenses.AddRange(g.Licenses);
            }

            return new RobotsGroup([agent], rules, preferences, licenses);
        }

        private RobotsGroup Create()
        {
            // Concurrent first uses may both merge; the first published group wins (both are equal).
            var group = Merge(agent, sources);
            return Interlocked.CompareExchange(ref _group, group, null) ?? group;
        }
    }

    private sealed class Builder(List<RobotsWarning> warnings)
    {
        private readonly List<RawGroup> _groups = [];
        private readonly List<string> _sitemaps = [];
        private readonly List<RobotsPreferenceRule> _globalSignals = [];
        private readonly List<(string Url, int Line)> _globalLicenses = [];
        private RawGroup? _current;
        private bool _inAgentRun;

        public void Line(ReadOnlySpan<byte> line, int lineNo)
        {
            var hash = line.IndexOf((byte)'#');
            if (hash >= 0)
            {
                line = line[..hash];
            }

            line = line.Trim(" \t"u8);
            if (line.IsEmpty)
            {
                return;
            }

            ReadOnlySpan<byte> keyBytes;
            ReadOnlySpan<byte> value;
            var colon = line.IndexOf((byte)':');
            var key = Key.Unknown;
            if (colon >= 0)
            {
                keyBytes = line[..colon].Trim(" \t"u8);
                value = line[(colon + 1)..].Trim(" \t"u8);
                key = Classify(keyBytes);
            }
            else
            {
                // Google leniency: "disallow /x" without a colon, only for the core directives.
                var space = line.IndexOfAny(" \t"u8);
                if (space > 0)
                {
                    key = Classify(line[..space]);
                    value = line[space..].Trim(" \t"u8);
                    if (key is not (Key.UserAgent or Key.Allow or Key.Disallow))
                    {
                        key = Key.Unknown;
                    }
                }
                else
                {
                    value = default;
                }
            }

            switch (key)
            {
                case Key.UserAgent:
                    UserAgent(value, lineNo);
                    break;
                case Key.Allow:
                case Key.Disallow:
                    AccessRule(key == Key.Allow ? RobotsRuleKind.Allow : RobotsRuleKind.Disallow, value, lineNo);
                    break;
                case Key.ContentUsage:
                case Key.ContentSignal:
                    Preference(key == Key.ContentUsage ? RobotsPreferenceKind.ContentUsage : RobotsPreferenceKind.ContentSignal, value, lineNo);
                    break;
                case Key.License:
                    License(value, lineNo);
                    break;
                case Key.Sitemap:
                    if (!value.IsEmpty)
                    {
                        _sitemaps.Add(Encoding.UTF8.GetString(value));
                    }

                    break;
                default:
                    // §2.2.4: unknown records MUST NOT break the parsing of defined ones, nor close a group.
                    if (colon < 0)
                    {
                        Warn(lineNo, "line without a ':' ignored");
                    }

                    break;
            }
        }

        private void UserAgent(ReadOnlySpan<byte> value, int lineNo)
        {
            var text = Encoding.UTF8.GetString(value);
            var token = ProductToken(text);
            if (token.IsEmpty)
            {
                Warn(lineNo, "user-agent without a product token ignored");
                return;
            }

            if (!_inAgentRun || _current is null)
            {
                _current = new RawGroup();
                _groups.Add(_current);
                _inAgentRun = true;
            }

            var t = token.ToString().ToLowerInvariant();
            if (_current.AgentSet.Add(t))
            {
                _current.Agents.Add(t);
            }
        }

        private bool InGroup(int lineNo, string what)
        {
            if (_current is null)
            {
                // google/robotstxt ID_LineSyntax_Groups: rules before the first user-agent line are ignored.
                Warn(lineNo, $"{what} outside any group ignored");
                return false;
            }

            _inAgentRun = false;
            return true;
        }

        private void AccessRule(RobotsRuleKind kind, ReadOnlySpan<byte> value, int lineNo)
        {
            if (!InGroup(lineNo, kind == RobotsRuleKind.Allow ? "allow" : "disallow"))
            {
                return;
            }

            if (value.IsEmpty)
            {
                // "Disallow:" with no path disallows nothing (RFC 9309 §2.2.2 examples).
                return;
            }

            if (value[0] is not ((byte)'/' or (byte)'*'))
            {
                Warn(lineNo, "a path pattern must start with '/' or '*'; rule ignored");
                return;
            }

            _current!.Rules.Add(new RobotsRule(kind, PathPattern.Compile(value), lineNo));
        }

        private void Preference(RobotsPreferenceKind kind, ReadOnlySpan<byte> value, int lineNo)
        {
            var name = kind == RobotsPreferenceKind.ContentUsage ? "content-usage" : "content-signal";
            var global = _current is null;
            if (global && kind == RobotsPreferenceKind.ContentUsage)
            {
                InGroup(lineNo, name);
                return;
            }

            if (!global)
            {
                _inAgentRun = false;
            }

            // attach-05: "a value starting with '/' has a path, which ends at the first SP or HTAB".
            var pattern = PathPattern.Compile("/");
            if (!value.IsEmpty && value[0] == '/')
            {
                var ws = value.IndexOfAny(" \t"u8);
                if (ws < 0)
                {
                    Warn(lineNo, $"{name} with a path but no preference ignored");
                    return;
                }

                pattern = PathPattern.Compile(value[..ws]);
                value = value[ws..].Trim(" \t"u8);
            }

            var raw = Encoding.UTF8.GetString(value);
            string? error = null;
            var prefs = kind == RobotsPreferenceKind.ContentUsage ? ContentUsage.Parse(raw, out error) : ContentSignal.Parse(raw);
            if (error is not null)
            {
                Warn(lineNo, $"{name}: {error}");
            }

            var rule = new RobotsPreferenceRule(kind, pattern, prefs, raw, lineNo, error);
            (global ? _globalSignals : _current!.Preferences).Add(rule);
        }

        private void License(ReadOnlySpan<byte> value, int lineNo)
        {
            var url = Encoding.UTF8.GetString(value);
            if (!Uri.TryCreate(url, UriKind.Absolute, out _))
            {
                Warn(lineNo, "license: the value must be an absolute URI; ignored");
                return;
            }

            if (_current is null)
            {
                _globalLicenses.Add((url, lineNo));
            }
            else
            {
                _inAgentRun = false;
                _current.Licenses.Add((url, lineNo));
            }
        }

        private void Warn(int lineNo, string message)
        {
            if (warnings.Count < MaxWarnings)
            {
                warnings.Add(new RobotsWarning(lineNo, message));
            }
        }

        public RobotsTxt Build()
        {
            // Only which raw groups name each agent is collected here (linear in the file); an agent's merged group is
            // built when it is first asked for. Building every agent's group up front copied a group's rules once per
            // agent naming it: n agents over n rules took O(n²) time and memory (fuzz finding, FUZZ-RESULTS.md).
            var sources = new Dictionary<string, List<RawGroup>>(StringComparer.Ordinal);
            foreach (var g in _groups)
            {
                foreach (var agent in g.Agents)
                {
                    if (!sources.TryGetValue(agent, out var list))
                    {
                        list = [];
                        sources[agent] = list;
                    }

                    list.Add(g);
                }
            }

            RobotsGroup? star = null;
            var groups = new Dictionary<string, AgentGroup>(StringComparer.OrdinalIgnoreCase);
            foreach (var (agent, list) in sources)
            {
                if (agent == "*")
                {
                    star = AgentGroup.Merge(agent, list);
                }
                else
                {
                    groups[agent] = new AgentGroup(agent, list);
                }
            }

            return new RobotsTxt(groups, star, _sitemaps, _globalSignals, _globalLicenses, warnings);
        }

        private static Key Classify(ReadOnlySpan<byte> key)
        {
            if (Is(key, "user-agent"u8) || Is(key, "useragent"u8) || Is(key, "user agent"u8))
            {
                return Key.UserAgent;
            }

            if (Is(key, "allow"u8))
            {
                return Key.Allow;
            }

            if (Is(key, "disallow"u8) || Is(key, "dissallow"u8) || Is(key, "dissalow"u8) || Is(key, "disalow"u8) ||
                Is(key, "diasllow"u8) || Is(key, "disallaw"u8))
            {
                return Key.Disallow;
            }

            if (Is(key, "content-usage"u8))
            {
                return Key.ContentUsage;
            }

            // crawler-commons accepts the plural misspelling that some generators emit.
            if (Is(key, "content-signal"u8) || Is(key, "content-signals"u8))
            {
                return Key.ContentSignal;
            }

            if (Is(key, "license"u8))
            {
                return Key.License;
            }

            if (Is(key, "sitemap"u8) || Is(key, "site-map"u8))
            {
                return Key.Sitemap;
            }

            return Key.Unknown;
        }

        private static bool Is(ReadOnlySpan<byte> key, ReadOnlySpan<byte> name) =>
            System.Text.Ascii.EqualsIgnoreCase(key, name);
    }
}
