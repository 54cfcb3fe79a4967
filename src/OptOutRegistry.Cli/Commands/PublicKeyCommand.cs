using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client.Receipts;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout public-key [--server URL] [--out FILE] [--json]</c>: prints the registry's signing key (SPKI PEM) and its
/// fingerprint. The PEM is what <c>verify-receipt --public-key</c>, <c>snapshot verify --public-key</c> and
/// <c>serve --follow-key</c> take; compare the fingerprint with the one the operator publishes before trusting it.
/// </summary>
internal static class PublicKeyCommand
{
    public static Command Create()
    {
        var output = new Option<string?>("--out") { Description = "Write the PEM to this file instead of standard output." };
        var command = new Command("public-key", "Print the registry's transparency-log signing key (PEM) and its fingerprint.") { output };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var key = await client.GetPublicKeyAsync(token);
            var fingerprint = ReceiptVerifier.Fingerprint(key.SpkiPem);
            if (parseResult.GetValue(output) is { } path)
            {
                await File.WriteAllTextAsync(path, key.SpkiPem, token);
            }

            if (json)
            {
                RegistryCli.WriteJson(new PublicKeyResult(key.SpkiPem, fingerprint, key.Algorithm));
            }
            else
            {
                if (parseResult.GetValue(output) is null)
                {
                    Console.Out.Write(key.SpkiPem.EndsWith('\n') ? key.SpkiPem : key.SpkiPem + "\n");
                }

                Console.Error.WriteLine($"fingerprint (SHA-256 of SPKI): {fingerprint}");
            }

            return 0;
        }));
        return command;
    }

    private sealed record PublicKeyResult(string SpkiPem, string Fingerprint, string Algorithm);
}
