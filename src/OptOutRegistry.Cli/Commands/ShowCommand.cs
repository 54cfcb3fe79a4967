using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client;
using Spectre.Console;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout show ID</c>: one of your reservations.</summary>
internal static class ShowCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("ID") { Description = "The reservation's id (rsv_...)." };
        var command = new Command("show", "Show one of your reservations.") { id };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var reservation = await client.GetReservationAsync(parseResult.GetValue(id)!, token);
            if (json)
            {
                RegistryCli.WriteJson(reservation);
            }
            else
            {
                Print(reservation);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>A reservation as a table.</summary>
    public static void Print(Pb.Reservation reservation)
    {
        var table = new Table().AddColumn("field").AddColumn("value");
        table.AddRow("id", RegistryCli.Markup(reservation.Id));
        table.AddRow("holder", RegistryCli.Markup($"{reservation.HolderName} ({reservation.HolderId})"));
        table.AddRow("state", reservation.State.ToString().ToLowerInvariant()
            + (reservation.StateChangedAt is null ? "" : " since " + RegistryCli.Time(reservation.StateChangedAt))
            + (reservation.SupersededBy.Length > 0 ? RegistryCli.Markup(" by " + reservation.SupersededBy) : ""));
        table.AddRow("registered", RegistryCli.Time(reservation.RegisteredAt));
        table.AddRow("valid", $"{RegistryCli.Time(reservation.ValidFrom)} .. {(reservation.ValidUntil is null ? "indefinitely" : RegistryCli.Time(reservation.ValidUntil))}");
        for (var i = 0; i < reservation.Selectors.Count; i++)
        {
            var verified = i < reservation.SelectorVerified.Count && reservation.SelectorVerified[i] ? "verified" : "unverified";
            table.AddRow(i == 0 ? "selectors" : "", RegistryCli.Markup($"{RegistryCli.Describe(reservation.Selectors[i])} [{verified}]"));
        }

        table.AddRow("statements", RegistryCli.Markup(string.Join(", ", reservation.Statements.Select(s =>
            $"{RegistryImportFormat.CategoryName(s.Category)}={(s.Permission == Pb.Permission.Allow ? "allow" : "disallow")}"))));
        if (reservation.PolicyUrl.Length > 0)
        {
            table.AddRow("policy", RegistryCli.Markup(reservation.PolicyUrl));
        }

        if (reservation.Work is { } work && (work.Title.Length > 0 || work.Creators.Count > 0))
        {
            table.AddRow("work", RegistryCli.Markup($"{work.Title} {(work.Creators.Count > 0 ? "— " + string.Join(", ", work.Creators) : "")}".Trim()));
        }

        if (reservation.Supersedes.Length > 0)
        {
            table.AddRow("supersedes", RegistryCli.Markup(reservation.Supersedes));
        }

        AnsiConsole.Write(table);
    }
}
