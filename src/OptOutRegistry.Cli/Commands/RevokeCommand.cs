using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client.Receipts;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout revoke ID</c>: withdraw a reservation from now on (its history stays in the log).</summary>
internal static class RevokeCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("ID") { Description = "The reservation's id (rsv_...)." };
        var reason = new Option<string?>("--reason") { Description = "A public reason, optional." };
        var receiptFile = new Option<string?>("--receipt") { Description = "Also write the receipt (JSON) to this file." };
        var command = new Command("revoke", "Revoke one of your reservations and print the receipt.") { id, reason, receiptFile };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.RevokeReservationAsync(parseResult.GetValue(id)!, parseResult.GetValue(reason), token);
            var receiptJson = ReceiptVerifier.ToJson(response.Receipt);
            if (parseResult.GetValue(receiptFile) is { } path)
            {
                await File.WriteAllTextAsync(path, receiptJson + "\n", token);
            }

            if (json)
            {
                Console.Out.WriteLine(receiptJson);
            }
            else
            {
                Console.Out.WriteLine($"revoked {response.Reservation.Id} at {RegistryCli.Time(response.Reservation.StateChangedAt)}, event #{response.Receipt.Event.Sequence}");
            }

            return 0;
        }));
        return command;
    }
}
