using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using Spectre.Console;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout holder create|show</c>: a rights holder's account.</summary>
internal static class HolderCommand
{
    public static Command Create()
    {
        var command = new Command("holder", "Create or show a rights holder account.");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateShow());
        return command;
    }

    private static Command CreateCreate()
    {
        var name = new Option<string>("--name") { Description = "Public display name (shown in verdicts and search).", Required = true };
        var email = new Option<string>("--email") { Description = "Private contact e-mail (only you and the operator see it).", Required = true };
        var publicContact = new Option<string?>("--public-contact") { Description = "A public contact for licensing requests (optional)." };
        var command = new Command("create", "Create a holder account and print its first API key (shown once). Needs the admin key when the registry's sign-up is admin-only.")
        {
            name,
            email,
            publicContact,
        };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.CreateHolderAsync(new Pb.CreateHolderRequest
            {
                DisplayName = parseResult.GetValue(name)!,
                ContactEmail = parseResult.GetValue(email)!,
                PublicContact = parseResult.GetValue(publicContact) ?? string.Empty,
            }, token);
            if (json)
            {
                RegistryCli.WriteJson(response);
                return 0;
            }

            Console.Out.WriteLine($"holder:  {response.Holder.Id}");
            Console.Out.WriteLine($"name:    {response.Holder.DisplayName}");
            Console.Out.WriteLine($"api key: {response.ApiKey}");
            Console.Error.WriteLine("Keep the API key: it is shown only now. Use it with --key or export OPTOUT_KEY=...");
            return 0;
        }));
        return command;
    }

    private static Command CreateShow()
    {
        var id = new Argument<string?>("ID") { Description = "The holder's id (admin key); empty for your own account.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("show", "Show a holder account and its verified hosts.") { id };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var holder = await client.GetHolderAsync(parseResult.GetValue(id), token);
            if (json)
            {
                RegistryCli.WriteJson(holder);
                return 0;
            }

            var table = new Table().AddColumn("field").AddColumn("value");
            table.AddRow("id", RegistryCli.Markup(holder.Id));
            table.AddRow("name", RegistryCli.Markup(holder.DisplayName));
            table.AddRow("contact e-mail", RegistryCli.Markup(holder.ContactEmail));
            table.AddRow("public contact", RegistryCli.Markup(holder.PublicContact));
            table.AddRow("created", RegistryCli.Time(holder.CreatedAt));
            table.AddRow("verified hosts", RegistryCli.Markup(string.Join(", ", holder.VerifiedHosts)));
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
