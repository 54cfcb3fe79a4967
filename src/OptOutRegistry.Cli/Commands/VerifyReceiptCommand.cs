using System.CommandLine;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout verify-receipt FILE [--public-key FILE | --server URL]</c>: checks a receipt offline against the registry's
/// public key (docs/receipts.md). With <c>--server</c> the key is fetched once and its fingerprint printed, so it can be
/// compared with the one the registry publishes; the verification itself never asks the server anything.
/// </summary>
internal static class VerifyReceiptCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "The receipt as printed by optout register --json (or - for standard input)." };
        var publicKey = new Option<string?>("--public-key") { Description = "The registry's public key (PEM SubjectPublicKeyInfo)." };
        var server = new Option<string?>("--server") { Description = "Fetch the registry's public key from this server and print its fingerprint." };
        var saveKey = new Option<string?>("--save-key") { Description = "With --server: also write the fetched public key (PEM) to this file, for later offline checks." };
        var json = new Option<bool>("--json") { Description = "Print the result as one JSON object." };
        var command = new Command("verify-receipt", "Verify a receipt offline: signature, inclusion proof, and that nothing in it was changed.")
        {
            file,
            publicKey,
            server,
            saveKey,
            json,
        };
        command.SetAction(async (parseResult, ct) =>
        {
            var keyPath = parseResult.GetValue(publicKey);
            var serverAddress = parseResult.GetValue(server);
            var asJson = parseResult.GetValue(json);
            try
            {
                if ((keyPath is null) == (serverAddress is null))
                {
                    throw new CliUsageException("give the registry's key with --public-key FILE or fetch it with --server URL (one of them)");
                }

                var path = parseResult.GetValue(file)!;
                var text = path == "-" ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(path, ct);
                string pem;
                if (keyPath is not null)
                {
                    pem = await File.ReadAllTextAsync(keyPath, ct);
                }
                else
                {
                    using var client = RegistryClient.Create(serverAddress!);
                    var key = await client.GetPublicKeyAsync(ct);
                    pem = key.SpkiPem;
                    if (parseResult.GetValue(saveKey) is { } keyFile)
                    {
                        await File.WriteAllTextAsync(keyFile, pem, ct);
                    }
                    if (!asJson)
                    {
                        Console.Out.WriteLine($"registry public key fingerprint (SHA-256 of SPKI): {ReceiptVerifier.Fingerprint(pem)}");
                    }
                }

                var result = ReceiptVerifier.VerifyJson(text, pem);
                Pb.Receipt? receipt = null;
                if (result.IsValid)
                {
                    receipt = Pb.Receipt.Parser.ParseJson(text);
                }

                if (asJson)
                {
                    RegistryCli.WriteJson(new VerifyResult(result.IsValid, result.KeyFingerprint, receipt?.ReservationId, receipt?.Event.Sequence,
                        receipt is null ? null : RegistryCli.Time(receipt.Event.Time), receipt?.TreeHead.TreeSize, result.Errors));
                }
                else if (result.IsValid)
                {
                    var what = receipt!.ReservationId.Length > 0 ? $"reservation {receipt.ReservationId}" : receipt.Event.ChangeCase.ToString();
                    Console.Out.WriteLine($"valid: {what}, event #{receipt.Event.Sequence} ({receipt.Event.ChangeCase}) at {RegistryCli.Time(receipt.Event.Time)}, "
                        + $"in the log of {receipt.TreeHead.TreeSize} signed at {RegistryCli.Time(receipt.TreeHead.Timestamp)} by key {result.KeyFingerprint}");
                }
                else
                {
                    Console.Out.WriteLine("INVALID receipt:");
                    foreach (var error in result.Errors)
                    {
                        Console.Out.WriteLine("  - " + error);
                    }
                }

                return result.IsValid ? 0 : RegistryCli.Failure;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return await RegistryCli.ReportAsync(ex, serverAddress);
            }
        });
        return command;
    }

    private sealed record VerifyResult(bool Valid, string KeyFingerprint, string? ReservationId, long? Sequence, string? EventTime, long? TreeSize, IReadOnlyList<string> Errors);
}
