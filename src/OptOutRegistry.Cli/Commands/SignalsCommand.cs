using System.CommandLine;
using OptOutRegistry.Cli.Signals;
using OptOutRegistry.Signals.Resolution;
using OptOutRegistry.Signals.RobotsTags;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout signals</c>: evaluates a site's own opt-out files offline — robots.txt, tdmrep.json, response headers,
/// an HTML page, an EPUB, XMP, C2PA JSON — for an agent and a purpose, without fetching anything. For site owners
/// testing their files before publishing them, and for tests. Exit code 0 whatever the decision; 2 on bad input.
/// </summary>
internal static class SignalsCommand
{
    public static Command Create()
    {
        var robots = new Option<string?>("--robots") { Description = "A robots.txt file." };
        var tdmrep = new Option<string?>("--tdmrep") { Description = "A /.well-known/tdmrep.json file." };
        var header = new Option<string[]>("--header")
        {
            Description = "A response header 'Name: value' (repeatable), e.g. 'X-Robots-Tag: noai' or 'Content-Usage: train-ai=n'.",
            AllowMultipleArgumentsPerToken = false,
        };
        var html = new Option<string?>("--html") { Description = "The HTML page (meta robots, tdm-reservation, link rel=license)." };
        var epub = new Option<string?>("--epub") { Description = "An EPUB file or its package document (.opf)." };
        var xmp = new Option<string?>("--xmp") { Description = "A PDF XMP packet (XML)." };
        var c2pa = new Option<string?>("--c2pa") { Description = "C2PA manifest JSON (e.g. c2patool output) with training-mining assertions." };
        var agent = new Option<string>("--agent") { Description = "The crawler's product token, e.g. GPTBot, CCBot, Googlebot.", Required = true };
        var purpose = new Option<string>("--purpose") { Description = $"The intended use: {SignalsOutput.PurposeHelp}.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per URL (one per line)." };
        var noindex = new Option<bool>("--respect-noindex") { Description = "Treat noindex/none/noimageindex as AI opt-outs too (img2dataset's default)." };
        var agents = new Option<string?>("--agents-file") { Description = "A replacement AI agent list (JSON, same shape as the built-in one)." };
        var urls = new Argument<string[]>("url") { Description = "The URLs to evaluate (their path selects robots.txt and tdmrep.json rules).", Arity = ArgumentArity.OneOrMore };

        var command = new Command("signals", "Evaluate robots.txt, TDMRep, headers and page metadata from files, offline.")
        {
            robots, tdmrep, header, html, epub, xmp, c2pa, agent, purpose, json, noindex, agents, urls,
        };
        command.SetAction(parseResult =>
        {
            if (!SignalsOutput.TryParsePurpose(parseResult.GetValue(purpose), out var p, out var error))
            {
                return SignalsOutput.Fail(error!);
            }

            SiteSignalsInput input;
            SiteSignalsEvaluator evaluator;
            try
            {
                input = OfflineSignals.Load(new OfflineSignalsFiles
                {
                    RobotsPath = parseResult.GetValue(robots),
                    TdmrepPath = parseResult.GetValue(tdmrep),
                    HtmlPath = parseResult.GetValue(html),
                    EpubPath = parseResult.GetValue(epub),
                    XmpPath = parseResult.GetValue(xmp),
                    C2paPath = parseResult.GetValue(c2pa),
                    HeaderLines = parseResult.GetValue(header) ?? [],
                });
                var catalog = parseResult.GetValue(agents) is { } file ? OptOutRegistry.Signals.Agents.AiAgentCatalog.LoadFile(file) : null;
                evaluator = new SiteSignalsEvaluator(catalog, new RobotsTagOptions { NoIndexMeansNoAi = parseResult.GetValue(noindex) });
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
                return SignalsOutput.Fail(ex.Message);
            }

            var agentToken = parseResult.GetValue(agent)!;
            foreach (var u in parseResult.GetValue(urls) ?? [])
            {
                if (!Uri.TryCreate(u, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                {
                    return SignalsOutput.Fail($"url '{u}': not an absolute http(s) URL");
                }

                SignalsOutput.Write(Console.Out, evaluator.Evaluate(url, agentToken, p, input), parseResult.GetValue(json));
            }

            return 0;
        });
        return command;
    }
}
