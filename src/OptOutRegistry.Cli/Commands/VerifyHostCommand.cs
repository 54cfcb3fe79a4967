using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout verify-host HOST</c>: a holder starts a verification (prints the token and where to publish it), then runs
/// it again with <c>--complete</c> once the token is published. With the admin key and <c>--holder ID</c> the operator
/// records the host as verified directly.
/// </summary>
internal static class VerifyHostCommand
{
    public static Command Create()
    {
        var host = new Argument<string>("HOST") { Description = "The host to verify, e.g. example.kz." };
        var complete = new Option<bool>("--complete") { Description = "Check the published token and record the host as verified." };
        var method = new Option<string?>("--method") { Description = "With --complete: well-known, meta or dns (default: try each)." };
        var holder = new Option<string?>("--holder") { Description = "Admin key only: record HOST as verified for this holder without a token." };
        var note = new Option<string?>("--note") { Description = "With --holder: a public note for the log, e.g. the contract reference." };
        var command = new Command("verify-host", "Prove control of a host (needed for host, domain, prefix and pattern selectors).")
        {
            host,
            complete,
            method,
            holder,
            note,
        };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var name = parseResult.GetValue(host)!;
            if (parseResult.GetValue(holder) is { } holderId)
            {
                var recorded = await client.RecordVerifiedHostAsync(holderId, name, parseResult.GetValue(note), token);
                Print(recorded, json);
                return 0;
            }

            if (parseResult.GetValue(complete))
            {
                var chosen = parseResult.GetValue(method) switch
                {
                    null or "" => Pb.VerificationMethod.Unspecified,
                    "well-known" => Pb.VerificationMethod.WellKnown,
                    "meta" => Pb.VerificationMethod.HtmlMeta,
                    "dns" => Pb.VerificationMethod.DnsTxt,
                    var other => throw new CliUsageException($"--method: '{other}' is not well-known, meta or dns"),
                };
                var completed = await client.CompleteHostVerificationAsync(name, chosen, token);
                Print(completed, json);
                return 0;
            }

            var started = await client.StartHostVerificationAsync(name, token);
            if (json)
            {
                RegistryCli.WriteJson(started);
                return 0;
            }

            Console.Out.WriteLine($"host:    {started.Host}");
            Console.Out.WriteLine($"token:   {started.Token}");
            Console.Out.WriteLine($"expires: {RegistryCli.Time(started.ExpiresAt)}");
            Console.Out.WriteLine("Publish the token in one of these ways:");
            foreach (var line in started.Instructions)
            {
                Console.Out.WriteLine("  " + line);
            }

            Console.Out.WriteLine($"then run: optout verify-host {started.Host} --complete");
            return 0;
        }));
        return command;
    }

    private static void Print(Pb.CompleteHostVerificationResponse response, bool json)
    {
        if (json)
        {
            RegistryCli.WriteJson(response);
            return;
        }

        Console.Out.WriteLine($"verified {response.Host} ({response.Method}), event #{response.Receipt?.Event?.Sequence}");
    }
}
