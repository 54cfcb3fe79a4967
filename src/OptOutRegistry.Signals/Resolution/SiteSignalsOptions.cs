using OptOutRegistry.Signals.Agents;
using OptOutRegistry.Signals.RobotsTags;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>Limits and policies of <see cref="SiteSignalsResolver"/>.</summary>
public sealed record SiteSignalsOptions
{
    /// <summary>How long a robots.txt (and tdmrep.json) stays cached. Capped at 24 h (RFC 9309 §2.4).</summary>
    public TimeSpan CacheDuration { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long an "unreachable" outcome is cached before trying again.</summary>
    public TimeSpan UnreachableRetryAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a previously fetched robots.txt may still be used while the server is unreachable
    /// (RFC 9309 §2.4: a cached copy may be kept when unreachable; §2.3.1.4 suggests about 30 days).</summary>
    public TimeSpan StaleIfUnreachable { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Timeout of one HTTP request (including reading the body).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Redirects followed per fetch (RFC 9309 §2.3.1.2: at least five).</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>Bytes of robots.txt read (RFC 9309 §2.5: at least 500 KiB).</summary>
    public int MaxRobotsBytes { get; init; } = Robots.RobotsTxt.MaxBytes;

    /// <summary>Bytes of tdmrep.json read; larger files are rejected.</summary>
    public int MaxTdmrepBytes { get; init; } = Tdmrep.TdmrepFile.MaxBytes;

    /// <summary>Bytes of an HTML page or EPUB read.</summary>
    public int MaxResourceBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Concurrent requests per host (politeness).</summary>
    public int MaxConcurrentRequestsPerHost { get; init; } = 2;

    /// <summary>Fetch the resource itself (headers and, for HTML/EPUB, the body). Off = robots.txt and tdmrep.json only.</summary>
    public bool FetchResource { get; init; } = true;

    /// <summary>The User-Agent header sent. The agent token being evaluated is a parameter, not this header.</summary>
    public string UserAgent { get; init; } = "OptOutRegistry-SignalsResolver/1.0";

    /// <summary>The AI agent list (control tokens).</summary>
    public AiAgentCatalog? Agents { get; init; }

    /// <summary>How robots meta/X-Robots-Tag directives are read.</summary>
    public RobotsTagOptions RobotsTags { get; init; } = new();
}
