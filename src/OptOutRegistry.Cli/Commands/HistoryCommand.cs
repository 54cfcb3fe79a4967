using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using Spectre.Console;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout history ID</c>: every state a reservation went through, with the event of each change.</summary>
internal static class HistoryCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("ID") { Description = "The reservation's id (rsv_...)." };
        var command = new Command("history", "Show a reservation's history (oldest first).") { id };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var history = await client.GetReservationHistoryAsync(parseResult.GetValue(id)!, token);
            if (json)
            {
                foreach (var entry in history.Entries)
                {
                    RegistryCli.WriteJson(entry);
                }

                return 0;
            }

            var table = new Table().AddColumn("time").AddColumn("state").AddColumn("event").AddColumn("related");
            foreach (var entry in history.Entries)
            {
                table.AddRow(RegistryCli.Time(entry.Time), entry.State.ToString().ToLowerInvariant(), "#" + entry.Sequence, RegistryCli.Markup(entry.RelatedReservationId));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
