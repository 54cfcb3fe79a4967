using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>
/// Everything known about one URL's site signals: what the resolver fetched, or what a site owner passes
/// offline (files and headers). Any part may be missing; a missing part contributes nothing.
/// </summary>
public sealed record SiteSignalsInput
{
    /// <summary>The origin's robots.txt (or <see cref="RobotsTxt.AllowAll"/>/<see cref="RobotsTxt.DisallowAll"/> for fetch outcomes).</summary>
    public RobotsTxt? Robots { get; init; }

    /// <summary>Where robots.txt came from (URL or file).</summary>
    public string RobotsSource { get; init; } = "robots.txt";

    /// <summary>How robots.txt was obtained, when it was not a plain 200 (e.g. "HTTP 503: unreachable ⇒ complete disallow").</summary>
    public string? RobotsNote { get; init; }

    /// <summary>The origin's <c>/.well-known/tdmrep.json</c>.</summary>
    public TdmrepFile? TdmrepFile { get; init; }

    /// <summary>Where tdmrep.json came from.</summary>
    public string TdmrepSource { get; init; } = "tdmrep.json";

    /// <summary>The response headers of the resource (names as received; repeated names allowed).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The media type of the resource, if known (decides whether <c>noimageai</c> applies).</summary>
    public string? ContentType { get; init; }

    /// <summary>The HTML of the resource, if it is a page.</summary>
    public string? Html { get; init; }

    /// <summary>An EPUB package document (OPF), if the resource is an EPUB.</summary>
    public string? EpubPackage { get; init; }

    /// <summary>A TDMRep statement read elsewhere (e.g. from an EPUB file), added to the chain.</summary>
    public TdmrepStatement? ExtraTdmrep { get; init; }

    /// <summary>A PDF's XMP packet, if known.</summary>
    public string? PdfXmp { get; init; }

    /// <summary>C2PA manifest JSON (c2patool output or an assertion), if known.</summary>
    public string? C2paJson { get; init; }

    /// <summary>The registry's verdict, if it was asked.</summary>
    public RegistryVerdict? Registry { get; init; }

    /// <summary>Notes about fetching the resource itself (status, redirects), shown as provenance.</summary>
    public string? ResourceNote { get; init; }
}
