using System.CommandLine;
using OptOutRegistry.Server;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout serve</c>: runs the registry server in this process (the same host as <c>optout-server</c>).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var urls = new Option<string?>("--urls")
        {
            Description = $"Addresses to serve gRPC on, separated by ';' (cleartext URLs are served as HTTP/2). Default: {ServerDefaults.GrpcUrls}",
        };
        var httpUrls = new Option<string?>("--http-urls")
        {
            Description = $"HTTP/1.1 addresses for the JSON and Spawning-compatible gateways, or 'none'. Default: {ServerDefaults.HttpUrls}",
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            Description = $"Directory that holds the registry's database, signing key and admin key. Default: {ServerDefaults.DataDirectory}",
        };

        var follow = new Option<string?>("--follow")
        {
            Description = "Run a read-only replica of the primary at this gRPC address (loads its snapshot, then follows its events)",
        };

        var command = new Command("serve", "Run the OptOutRegistry server (embedded SQLite, no set-up).")
        {
            urls,
            httpUrls,
            dataDir,
            follow,
        };
        // Unknown tokens (for example --Kestrel:Certificates:Default:Path=...) go to the host's own configuration.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var hostArgs = new List<string>();
            if (parseResult.GetValue(urls) is { } u)
            {
                hostArgs.Add("--urls");
                hostArgs.Add(u);
            }

            if (parseResult.GetValue(httpUrls) is { } h)
            {
                hostArgs.Add("--http-urls");
                hostArgs.Add(h);
            }

            if (parseResult.GetValue(dataDir) is { } d)
            {
                hostArgs.Add("--data-dir");
                hostArgs.Add(d);
            }

            if (parseResult.GetValue(follow) is { } f)
            {
                hostArgs.Add("--follow");
                hostArgs.Add(f);
            }

            hostArgs.AddRange(parseResult.UnmatchedTokens);
            return await ServerHost.RunAsync([.. hostArgs], cancellationToken);
        });
        return command;
    }
}
