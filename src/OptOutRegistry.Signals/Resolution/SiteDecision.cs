using System.Text.Json;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>The mechanisms a decision combines (standards.md §1).</summary>
public enum SignalMechanism : byte
{
    /// <summary>The OptOutRegistry's own verdict.</summary>
    Registry,

    /// <summary>robots.txt access rules (RFC 9309), including control tokens.</summary>
    RobotsTxt,

    /// <summary>aipref <c>Content-Usage</c> rules in robots.txt.</summary>
    RobotsContentUsage,

    /// <summary>aipref <c>Content-Usage</c> HTTP header.</summary>
    ContentUsageHeader,

    /// <summary>Cloudflare <c>Content-Signal</c> (robots.txt or header).</summary>
    ContentSignal,

    /// <summary>W3C TDMRep (file, header, HTML meta, EPUB, PDF XMP; resolved by its own precedence chain).</summary>
    Tdmrep,

    /// <summary><c>X-Robots-Tag</c> header.</summary>
    XRobotsTag,

    /// <summary><c>&lt;meta name="robots"&gt;</c> and bot-named meta.</summary>
    HtmlMetaRobots,

    /// <summary>C2PA/CAWG training-and-data-mining assertion.</summary>
    C2paTrainingMining,

    /// <summary>RSL licence (discovered, not evaluated).</summary>
    RslLicense,
}

/// <summary>What one signal said about the URL, and where it said it.</summary>
/// <param name="Mechanism">The mechanism.</param>
/// <param name="Source">Where: a URL and line, a header name, a file.</param>
/// <param name="Verdict">Its verdict for the requested purpose (after category inheritance).</param>
/// <param name="Statement">Its statement per category.</param>
/// <param name="Detail">What exactly matched, in words.</param>
public sealed record SignalContribution(SignalMechanism Mechanism, string Source, Verdict Verdict, UsagePreferences Statement, string Detail);

/// <summary>
/// One decision for a URL, agent and purpose: the most restrictive verdict across mechanisms (after each
/// mechanism's own precedence), with every contribution.
/// </summary>
/// <param name="Url">The URL.</param>
/// <param name="Agent">The agent token the decision is for.</param>
/// <param name="Purpose">The purpose.</param>
/// <param name="Decision">The combined verdict.</param>
/// <param name="Contributions">Every signal that was looked at, with its verdict.</param>
public sealed record SiteDecision(string Url, string Agent, UsageCategory Purpose, Verdict Decision, IReadOnlyList<SignalContribution> Contributions)
{
    /// <summary>The wire name of a verdict: <c>DISALLOWED</c>, <c>ALLOWED</c> or <c>UNKNOWN</c>.</summary>
    public static string VerdictName(Verdict v) => v switch
    {
        Verdict.Disallowed => "DISALLOWED",
        Verdict.Allowed => "ALLOWED",
        _ => "UNKNOWN",
    };

    /// <summary>The wire name of a mechanism (kebab case).</summary>
    public static string MechanismName(SignalMechanism m) => m switch
    {
        SignalMechanism.Registry => "registry",
        SignalMechanism.RobotsTxt => "robots.txt",
        SignalMechanism.RobotsContentUsage => "robots.txt content-usage",
        SignalMechanism.ContentUsageHeader => "content-usage header",
        SignalMechanism.ContentSignal => "content-signal",
        SignalMechanism.Tdmrep => "tdmrep",
        SignalMechanism.XRobotsTag => "x-robots-tag",
        SignalMechanism.HtmlMetaRobots => "meta robots",
        SignalMechanism.C2paTrainingMining => "c2pa training-mining",
        SignalMechanism.RslLicense => "rsl license",
        _ => m.ToString(),
    };

    /// <summary>Writes the decision as a JSON object.</summary>
    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("url", Url);
        writer.WriteString("agent", Agent);
        writer.WriteString("purpose", Purpose.ToWireName());
        writer.WriteString("decision", VerdictName(Decision));
        writer.WriteStartArray("contributions");
        foreach (var c in Contributions)
        {
            writer.WriteStartObject();
            writer.WriteString("mechanism", MechanismName(c.Mechanism));
            writer.WriteString("source", c.Source);
            writer.WriteString("verdict", VerdictName(c.Verdict));
            writer.WriteString("statement", c.Statement.ToString());
            writer.WriteString("detail", c.Detail);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
