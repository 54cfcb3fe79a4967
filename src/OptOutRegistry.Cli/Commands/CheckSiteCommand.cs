using System.CommandLine;
using OptOutRegistry.Cli.Signals;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Signals.Resolution;
using OptOutRegistry.Signals.RobotsTags;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout check-site</c>: fetches what each URL needs (robots.txt, /.well-known/tdmrep.json, the response headers
/// and, for HTML or EPUB, the document) and combines every site signal with the registry's verdict (with
/// <c>--server</c>) into one decision per URL, with each signal's contribution. Exit code 0 whatever the decision.
/// </summary>
internal static class CheckSiteCommand
{
    public static Command Create()
    {
        var agent = new Option<string>("--agent") { Description = "The crawler's product token, e.g. GPTBot, CCBot, Googlebot.", Required = true };
        var purpose = new Option<string>("--purpose") { Description = $"The intended use: {SignalsOutput.PurposeHelp}.", Required = true };
        var server = new Option<string?>("--server") { Description = "Also ask the registry at this gRPC address (e.g. http://localhost:50051)." };
        var key = new Option<string?>("--key")
        {
            Description = "API key for the registry. Default: $OPTOUT_KEY",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OPTOUT_KEY") is { Length: > 0 } k ? k : null,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per URL (one per line)." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds per HTTP request.", DefaultValueFactory = _ => 10 };
        var noindex = new Option<bool>("--respect-noindex") { Description = "Treat noindex/none/noimageindex as AI opt-outs too (img2dataset's default)." };
        var noFetch = new Option<bool>("--no-fetch-resource") { Description = "Only read robots.txt and tdmrep.json, not the URL itself." };
        var urls = new Argument<string[]>("url") { Description = "The URLs to check.", Arity = ArgumentArity.OneOrMore };

        var command = new Command("check-site", "Fetch a URL's site signals (robots.txt, TDMRep, headers, meta) and combine them with the registry's verdict.")
        {
            agent, purpose, server, key, json, timeout, noindex, noFetch, urls,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            if (!SignalsOutput.TryParsePurpose(parseResult.GetValue(purpose), out var p, out var error))
            {
                return SignalsOutput.Fail(error!);
            }

            var seconds = parseResult.GetValue(timeout);
            if (seconds is <= 0 or > 600 || double.IsNaN(seconds))
            {
                return SignalsOutput.Fail($"--timeout {seconds}: expected 0 < seconds <= 600");
            }

            var targets = new List<Uri>();
            foreach (var u in parseResult.GetValue(urls) ?? [])
            {
                if (!Uri.TryCreate(u, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                {
                    return SignalsOutput.Fail($"url '{u}': not an absolute http(s) URL");
                }

                targets.Add(url);
            }

            CheckClient? client = null;
            if (parseResult.GetValue(server) is { } address)
            {
                if (!Uri.TryCreate(address, UriKind.Absolute, out _))
                {
                    return SignalsOutput.Fail($"--server '{address}': not an absolute URL");
                }

                client = CheckClient.Create(address, new CheckClientOptions { ApiKey = parseResult.GetValue(key) });
            }

            try
            {
                var options = new SiteSignalsOptions
                {
                    RequestTimeout = TimeSpan.FromSeconds(seconds),
                    FetchResource = !parseResult.GetValue(noFetch),
                    RobotsTags = new RobotsTagOptions { NoIndexMeansNoAi = parseResult.GetValue(noindex) },
                };
                using var resolver = new SiteSignalsResolver(options: options, registry: client is null ? null : new RegistryVerdictAdapter(client));
                var agentToken = parseResult.GetValue(agent)!;
                var tasks = targets.Select(t => resolver.ResolveAsync(t, agentToken, p, cancellationToken)).ToList();
                foreach (var task in tasks)
                {
                    SignalsOutput.Write(Console.Out, await task, parseResult.GetValue(json));
                }

                return 0;
            }
            finally
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        });
        return command;
    }
}
