using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Agents;
using OptOutRegistry.Signals.C2pa;
using OptOutRegistry.Signals.Html;
using OptOutRegistry.Signals.Preferences;
using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.RobotsTags;
using OptOutRegistry.Signals.Rsl;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>
/// Combines every site signal (and the registry's verdict) for one URL, agent and purpose, without I/O.
/// Each mechanism first applies its own precedence (robots.txt longest match; aipref longest path with
/// most-restrictive ties; TDMRep file → header → HTML → EPUB/PDF), then the mechanisms are combined
/// most-restrictively (aipref vocab §Combining, DESIGN.md "The model"). The per-category statements are tri-state;
/// a mechanism that says nothing contributes <see cref="Verdict.Unknown"/>.
/// </summary>
public sealed class SiteSignalsEvaluator
{
    private readonly AiAgentCatalog _agents;
    private readonly RobotsTagOptions _robotsTagOptions;

    /// <summary>Creates an evaluator.</summary>
    public SiteSignalsEvaluator(AiAgentCatalog? agents = null, RobotsTagOptions? robotsTagOptions = null)
    {
        _agents = agents ?? AiAgentCatalog.Default;
        _robotsTagOptions = robotsTagOptions ?? new RobotsTagOptions();
    }

    /// <summary>Evaluates one URL.</summary>
    public SiteDecision Evaluate(Uri url, string agent, UsageCategory purpose, SiteSignalsInput input)
    {
        var contributions = new List<SignalContribution>();
        var path = string.IsNullOrEmpty(url.PathAndQuery) ? "/" : url.PathAndQuery;

        if (input.Registry is { } registry)
        {
            Add(contributions, purpose, SignalMechanism.Registry, "registry", UsagePreferences.None.With(purpose, registry.Verdict),
                string.IsNullOrEmpty(registry.Provenance) ? "no reservation matched" : registry.Provenance);
        }

        if (input.Robots is { } robots)
        {
            EvaluateRobots(contributions, robots, input, path, agent, purpose);
        }

        EvaluateTdmrep(contributions, input, path, purpose);
        EvaluateHeaders(contributions, input, agent, purpose);

        if (input.C2paJson is { } c2pa)
        {
            var assertions = TrainingMining.Parse(c2pa, out var error);
            var prefs = TrainingMining.ToPreferences(assertions);
            var detail = error ?? (assertions.Count == 0
                ? "no training-mining assertion"
                : string.Join("; ", assertions.Select(a =>
                    $"{a.Label}{(a.Validated ? "" : " (manifest not validated: permissions ignored)")}: " +
                    string.Join(", ", a.Entries.Select(e => $"{e.Key}={e.Use}")))));
            Add(contributions, purpose, SignalMechanism.C2paTrainingMining, "C2PA manifest", prefs, detail);
        }

        var decision = Verdict.Unknown;
        foreach (var c in contributions)
        {
            decision = decision.MostRestrictive(c.Verdict);
        }

        return new SiteDecision(url.ToString(), agent, purpose, decision, contributions);
    }

    private void EvaluateRobots(List<SignalContribution> contributions, RobotsTxt robots, SiteSignalsInput input, string path, string agent, UsageCategory purpose)
    {
        var match = robots.Check(path, agent);
        var note = input.RobotsNote is null ? "" : input.RobotsNote + "; ";
        UsagePreferences statement;
        string detail;
        if (!match.Allowed)
        {
            // A crawler that may not fetch the URL may not use it for anything.
            statement = UsagePreferences.ForAll(Verdict.Disallowed);
            detail = $"{note}{match.Rule?.ToString() ?? "disallowed"} in group '{GroupName(match.Group)}'";
        }
        else if (robots.HasSpecificGroup(agent))
        {
            // The site addressed this agent by name and let it in: an explicit permission.
            statement = UsagePreferences.ForAll(Verdict.Allowed);
            detail = $"{note}allowed for '{RobotsTxt.ProductToken(agent).ToString()}' by its own group" +
                     (match.Rule is null ? " (no rule matches)" : $" ({match.Rule})");
        }
        else
        {
            statement = UsagePreferences.None;
            detail = match.Group is null
                ? $"{note}no group for '{agent}' and no '*' group: crawling permitted, no statement about use"
                : $"{note}crawling permitted by the '*' group{(match.Rule is null ? "" : $" ({match.Rule})")}; no statement about use";
        }

        Add(contributions, purpose, SignalMechanism.RobotsTxt, input.RobotsSource, statement, detail);

        // Control tokens (Google-Extended, Applebot-Extended) never fetch: their groups govern what the crawler
        // that did fetch may use the content for (standards.md §10 case 15).
        foreach (var control in _agents.ControlTokensFor(RobotsTxt.ProductToken(agent).ToString(), purpose))
        {
            if (!robots.HasSpecificGroup(control.Token))
            {
                continue;
            }

            var c = robots.Check(path, control.Token);
            var governed = UsagePreferences.None;
            foreach (var category in UsageCategories.TopologicalOrder)
            {
                if (category != UsageCategory.All && control.Governs(category))
                {
                    governed[category] = c.Allowed ? Verdict.Allowed : Verdict.Disallowed;
                }
            }

            Add(contributions, purpose, SignalMechanism.RobotsTxt, input.RobotsSource, governed,
                $"control token {control.Token} ({control.Operator}, {control.Purpose}): " +
                (c.Allowed ? "allowed" : $"{c.Rule?.ToString() ?? "disallowed"}"));
        }

        if (!match.Allowed)
        {
            return;
        }

        var (usage, usageLines) = robots.GetPreferences(path, agent, RobotsPreferenceKind.ContentUsage);
        if (usageLines.Count > 0)
        {
            Add(contributions, purpose, SignalMechanism.RobotsContentUsage, input.RobotsSource, usage,
                string.Join("; ", usageLines.Select(l => $"Content-Usage: {(l.Pattern.Text == "/" ? "" : l.Pattern.Text + " ")}{l.RawValue} (line {l.Line})")));
        }

        var (signal, signalLines) = robots.GetPreferences(path, agent, RobotsPreferenceKind.ContentSignal);
        if (signalLines.Count > 0)
        {
            Add(contributions, purpose, SignalMechanism.ContentSignal, input.RobotsSource, signal,
                string.Join("; ", signalLines.Select(l => $"Content-Signal: {l.RawValue} (line {l.Line})")));
        }

        foreach (var (license, line) in robots.GetLicenses(agent))
        {
            Add(contributions, purpose, SignalMechanism.RslLicense, input.RobotsSource, UsagePreferences.None,
                $"License: {license} (line {line}); RSL terms are not evaluated");
        }
    }

    private static void EvaluateTdmrep(List<SignalContribution> contributions, SiteSignalsInput input, string path, UsageCategory purpose)
    {
        var statements = new List<TdmrepStatement>();
        if (input.TdmrepFile is { } file)
        {
            statements.Add(file.Statement(path, input.TdmrepSource));
        }

        if (input.Headers.Count > 0)
        {
            statements.Add(TdmrepMetadata.FromHeaders(input.Headers));
        }

        if (input.Html is { } html)
        {
            statements.Add(TdmrepMetadata.FromHtmlMeta(HtmlSignals.Parse(html).Meta));
        }

        if (input.EpubPackage is { } opf)
        {
            statements.Add(TdmrepMetadata.FromEpubPackage(opf));
        }

        if (input.ExtraTdmrep is { } extra)
        {
            statements.Add(extra);
        }

        if (input.PdfXmp is { } xmp)
        {
            statements.Add(TdmrepMetadata.FromXmp(xmp));
        }

        var relevant = statements.Where(s => s.HasValue || s.Error is not null || s.Technique == TdmrepTechnique.WellKnownFile).ToList();
        if (relevant.Count == 0)
        {
            return;
        }

        var (reservation, policy, decisive) = TdmrepRules.Resolve(statements);
        // The contribution's source names the file; the chain names each technique in processing order.
        var fileSource = input.TdmrepSource;
        var chain = string.Join(" → ", relevant.Select(s =>
            $"{(s.Source.StartsWith(fileSource, StringComparison.Ordinal) ? "tdmrep.json" + s.Source[fileSource.Length..] : s.Source)}: " +
            $"{Describe(s.Reservation)}{(s.Error is null ? "" : $" [{s.Error}]")}"));
        var detail = $"{chain}; result: {Describe(reservation)}" + (policy is null ? "" : $", policy {policy}");
        var source = input.TdmrepFile is not null ? fileSource : "response";
        Add(contributions, purpose, SignalMechanism.Tdmrep, source, TdmrepRules.ToPreferences(reservation), detail);
    }

    private void EvaluateHeaders(List<SignalContribution> contributions, SiteSignalsInput input, string agent, UsageCategory purpose)
    {
        var contentUsage = new List<string>();
        var contentSignal = new List<string>();
        var xRobots = new List<string>();
        var links = new List<string>();
        foreach (var (name, value) in input.Headers)
        {
            if (name.Equals(ContentUsage.HeaderName, StringComparison.OrdinalIgnoreCase))
            {
                contentUsage.Add(value);
            }
            else if (name.Equals("Content-Signal", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Signals", StringComparison.OrdinalIgnoreCase))
            {
                contentSignal.Add(value);
            }
            else if (name.Equals(RobotsTagDirectives.HeaderName, StringComparison.OrdinalIgnoreCase))
            {
                xRobots.Add(value);
            }
            else if (name.Equals("Link", StringComparison.OrdinalIgnoreCase))
            {
                links.Add(value);
            }
        }

        if (contentUsage.Count > 0)
        {
            var prefs = ContentUsage.Parse(contentUsage, out var error);
            Add(contributions, purpose, SignalMechanism.ContentUsageHeader, "Content-Usage header", prefs,
                $"Content-Usage: {string.Join(", ", contentUsage)}" + (error is null ? "" : $" [parse failure ⇒ no preference: {error}]"));
        }

        if (contentSignal.Count > 0)
        {
            Add(contributions, purpose, SignalMechanism.ContentSignal, "Content-Signal header",
                ContentSignal.Parse(string.Join(",", contentSignal)), $"Content-Signal: {string.Join(", ", contentSignal)}");
        }

        bool? isImage = input.ContentType is null ? null : input.ContentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase);
        if (xRobots.Count > 0)
        {
            var applying = RobotsTagDirectives.ApplyingTo(RobotsTagDirectives.ParseHeaders(xRobots), agent).ToList();
            Add(contributions, purpose, SignalMechanism.XRobotsTag, "X-Robots-Tag header",
                RobotsTagDirectives.ToPreferences(applying, isImage, _robotsTagOptions), DescribeDirectives(applying, xRobots.Count, isImage));
        }

        if (input.Html is { } html)
        {
            var page = HtmlSignals.Parse(html);
            var meta = RobotsTagDirectives.ParseMeta(page.Meta, agent);
            if (meta.Count > 0)
            {
                // An HTML page is not an image: noimageai on a page covers the images it embeds (other resources).
                Add(contributions, purpose, SignalMechanism.HtmlMetaRobots, "HTML meta",
                    RobotsTagDirectives.ToPreferences(meta, false, _robotsTagOptions), DescribeDirectives(meta, -1, false));
            }

            foreach (var license in page.LicenseLinks)
            {
                Add(contributions, purpose, SignalMechanism.RslLicense, "HTML <link rel=\"license\">", UsagePreferences.None,
                    $"licence {license}; RSL terms are not evaluated");
            }
        }

        foreach (var (license, type) in LinkHeader.FindLicenses(links))
        {
            Add(contributions, purpose, SignalMechanism.RslLicense, "Link header", UsagePreferences.None,
                $"licence {license}{(type is null ? "" : $" ({type})")}; RSL terms are not evaluated");
        }
    }

    private static string DescribeDirectives(List<RobotsTagDirective> directives, int headerCount, bool? isImage)
    {
        var text = directives.Count == 0
            ? "no directive applies to this agent"
            : string.Join(", ", directives.Select(d => d.Bot is null ? d.Directive : $"{d.Bot}: {d.Directive}"));
        if (directives.Any(d => d.Directive == "noimageai") && isImage == false)
        {
            text += " (noimageai covers the images this page embeds, not the page)";
        }

        return headerCount > 1 ? $"{text} (from {headerCount} header lines)" : text;
    }

    private static string Describe(TdmReservation r) => r switch
    {
        TdmReservation.Reserved => "tdm-reservation 1 (reserved)",
        TdmReservation.NotReserved => "tdm-reservation 0 (not reserved)",
        _ => "unset",
    };

    private static string GroupName(RobotsGroup? g) => g is null ? "(none)" : string.Join(", ", g.Agents);

    private static void Add(List<SignalContribution> list, UsageCategory purpose, SignalMechanism mechanism, string source, UsagePreferences statement, string detail) =>
        list.Add(new SignalContribution(mechanism, source, statement.ForPurpose(purpose), statement, detail));
}
