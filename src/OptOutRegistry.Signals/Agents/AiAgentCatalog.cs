using System.Text.Json;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Signals.Agents;

/// <summary>What an AI agent token is used for (standards.md §6.2).</summary>
public enum AgentPurpose : byte
{
    /// <summary>Not stated.</summary>
    Unknown,

    /// <summary>Collects training data.</summary>
    Training,

    /// <summary>Builds a search index.</summary>
    Search,

    /// <summary>Fetches because a user asked (robots.txt may not apply).</summary>
    UserFetch,

    /// <summary>Answers for an assistant.</summary>
    Assistant,

    /// <summary>Collects data for resale or misc. use.</summary>
    Data,
}

/// <summary>One AI-related product token.</summary>
/// <param name="Token">The token as published (may contain spaces, which RFC 9309 does not allow).</param>
/// <param name="Operator">Who runs it.</param>
/// <param name="Purpose">What it is for.</param>
/// <param name="RespectsRobots">"yes", "no" or "unclear" according to the list.</param>
/// <param name="IsControlToken">True for tokens that never appear in request User-Agent headers (Google-Extended, Applebot-Extended).</param>
/// <param name="Controls">For a control token, the crawlers whose fetched content it governs.</param>
public sealed record AiAgent(string Token, string Operator, AgentPurpose Purpose, string RespectsRobots, bool IsControlToken, IReadOnlyList<string> Controls)
{
    /// <summary>The registry categories a control token's rules govern (training tokens: <c>train-ai</c> and below).</summary>
    public bool Governs(UsageCategory purpose) => Purpose switch
    {
        AgentPurpose.Training => purpose is UsageCategory.All or UsageCategory.TrainAi or UsageCategory.TrainGenAi,
        AgentPurpose.Search => purpose is UsageCategory.All or UsageCategory.Search,
        _ => purpose is UsageCategory.All or UsageCategory.AiUse,
    };
}

/// <summary>
/// The AI agent tokens, as data: an embedded copy of the list (ai-agents.json) that a file of the same shape
/// can replace, so the list can be updated without a release.
/// </summary>
public sealed class AiAgentCatalog
{
    private static readonly Lazy<AiAgentCatalog> DefaultCatalog = new(LoadEmbedded);
    private readonly Dictionary<string, AiAgent> _byToken;

    private AiAgentCatalog(string version, List<AiAgent> agents)
    {
        Version = version;
        Agents = agents;
        _byToken = new Dictionary<string, AiAgent>(StringComparer.OrdinalIgnoreCase);
        foreach (var a in agents)
        {
            _byToken[a.Token] = a;
            var product = Robots.RobotsTxt.ProductToken(a.Token).ToString();
            _byToken.TryAdd(product, a);
        }
    }

    /// <summary>The embedded list.</summary>
    public static AiAgentCatalog Default => DefaultCatalog.Value;

    /// <summary>The list's version (its date).</summary>
    public string Version { get; }

    /// <summary>All agents in the list.</summary>
    public IReadOnlyList<AiAgent> Agents { get; }

    /// <summary>Looks a token up (case-insensitively; <c>CCBot/2.0</c> finds <c>CCBot</c>).</summary>
    public bool TryGet(string token, out AiAgent agent)
    {
        if (_byToken.TryGetValue(token, out agent!))
        {
            return true;
        }

        return _byToken.TryGetValue(Robots.RobotsTxt.ProductToken(token).ToString(), out agent!);
    }

    /// <summary>The control tokens that govern content fetched by <paramref name="crawlerToken"/> for <paramref name="purpose"/>
    /// (e.g. Googlebot + train-ai ⇒ Google-Extended; standards.md §10 case 15).</summary>
    public IEnumerable<AiAgent> ControlTokensFor(string crawlerToken, UsageCategory purpose)
    {
        foreach (var a in Agents)
        {
            if (!a.IsControlToken || !a.Governs(purpose))
            {
                continue;
            }

            foreach (var c in a.Controls)
            {
                if (string.Equals(c, crawlerToken, StringComparison.OrdinalIgnoreCase))
                {
                    yield return a;
                    break;
                }
            }
        }
    }

    /// <summary>Loads a list from a file of the embedded file's shape.</summary>
    public static AiAgentCatalog LoadFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    /// <summary>Loads a list from JSON. Throws <see cref="FormatException"/> naming the entry and field on bad input.</summary>
    public static AiAgentCatalog Load(Stream json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new FormatException($"agent list: not valid JSON ({ex.Message})", ex);
        }

        using (doc)
        {
            try
            {
                return Read(doc.RootElement);
            }
            catch (InvalidOperationException ex)
            {
                // JsonDocument.Parse checks the structure only; GetString throws InvalidOperationException for a string
                // that is not valid UTF-8 or holds an unpaired surrogate escape (RFC 8259 §8.1, §8.2).
                throw new FormatException($"agent list: a string is not valid UTF-8 or has an unpaired surrogate ({ex.Message})", ex);
            }
        }
    }

    private static AiAgentCatalog Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("agents", out var agents) || agents.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("agent list: expected an object with an \"agents\" array");
        }

        var version = root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "unversioned";
        var list = new List<AiAgent>();
        var i = 0;
        foreach (var e in agents.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("token", out var t) || t.ValueKind != JsonValueKind.String ||
                string.IsNullOrWhiteSpace(t.GetString()))
            {
                throw new FormatException($"agent list: agents[{i}].token must be a non-empty string");
            }

            var controls = new List<string>();
            if (e.TryGetProperty("controls", out var c) && c.ValueKind == JsonValueKind.Array)
            {
                foreach (var x in c.EnumerateArray())
                {
                    if (x.ValueKind == JsonValueKind.String)
                    {
                        controls.Add(x.GetString()!);
                    }
                }
            }

            list.Add(new AiAgent(
                t.GetString()!,
                Str(e, "operator") ?? "",
                Str(e, "purpose") switch
                {
                    "training" => AgentPurpose.Training,
                    "search" => AgentPurpose.Search,
                    "user-fetch" => AgentPurpose.UserFetch,
                    "assistant" => AgentPurpose.Assistant,
                    "data" => AgentPurpose.Data,
                    _ => AgentPurpose.Unknown,
                },
                Str(e, "respectsRobots") ?? "unclear",
                e.TryGetProperty("control", out var ctl) && ctl.ValueKind == JsonValueKind.True,
                controls));
            i++;
        }

        return new AiAgentCatalog(version, list);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static AiAgentCatalog LoadEmbedded()
    {
        using var stream = typeof(AiAgentCatalog).Assembly.GetManifestResourceStream("OptOutRegistry.Signals.Agents.ai-agents.json")
            ?? throw new InvalidOperationException("embedded resource ai-agents.json is missing");
        return Load(stream);
    }
}
