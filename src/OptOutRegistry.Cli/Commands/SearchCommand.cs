using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using Spectre.Console;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout search TEXT</c>: find reserved works by title, creator, holder name or identifier.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var text = new Argument<string[]>("TEXT") { Description = "Words (case- and accent-insensitive) or an identifier such as isbn:9780306406157.", Arity = ArgumentArity.OneOrMore };
        var limit = new Option<int>("--limit") { Description = "At most this many results, 1..100 (default 20)." };
        var command = new Command("search", "Search reserved works (public fields only; no key needed).") { text, limit };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.SearchWorksAsync(string.Join(' ', parseResult.GetValue(text)!), parseResult.GetValue(limit), token);
            if (json)
            {
                foreach (var hit in response.Hits)
                {
                    RegistryCli.WriteJson(hit);
                }

                return 0;
            }

            var table = new Table().AddColumn("reservation").AddColumn("title").AddColumn("creators").AddColumn("holder").AddColumn("state");
            foreach (var hit in response.Hits)
            {
                table.AddRow(RegistryCli.Markup(hit.ReservationId), RegistryCli.Markup(hit.Title), RegistryCli.Markup(string.Join(", ", hit.Creators)),
                    RegistryCli.Markup(hit.HolderName), hit.State.ToString().ToLowerInvariant());
            }

            AnsiConsole.Write(table);
            Console.Out.WriteLine($"{response.Hits.Count} result(s)");
            return 0;
        }));
        return command;
    }
}
