using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using Spectre.Console;

namespace OptOutRegistry.Cli.Commands;

/// <summary><c>optout key create|list|revoke</c>: the holder's API keys.</summary>
internal static class KeyCommand
{
    public static Command Create()
    {
        var command = new Command("key", "Manage your API keys.");

        var label = new Option<string?>("--label") { Description = "A label to recognise the key by, e.g. ci-import." };
        var create = new Command("create", "Create another API key (shown once).") { label };
        CommonOptions.AddTo(create);
        create.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.CreateApiKeyAsync(parseResult.GetValue(label), token);
            if (json)
            {
                RegistryCli.WriteJson(response);
                return 0;
            }

            Console.Out.WriteLine($"key id:  {response.Info.Id}");
            Console.Out.WriteLine($"api key: {response.ApiKey}");
            Console.Error.WriteLine("Keep the API key: it is shown only now.");
            return 0;
        }));

        // Admin key only: act on another holder's keys (a leaked key is revoked by the operator).
        var listHolder = new Option<string?>("--holder") { Description = "Admin key only: list this holder's keys." };
        var list = new Command("list", "List your API keys (prefixes only).") { listHolder };
        CommonOptions.AddTo(list);
        list.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.ListApiKeysAsync(parseResult.GetValue(listHolder), token);
            if (json)
            {
                foreach (var key in response.Keys)
                {
                    RegistryCli.WriteJson(key);
                }

                return 0;
            }

            var table = new Table().AddColumn("id").AddColumn("label").AddColumn("prefix").AddColumn("created").AddColumn("revoked");
            foreach (var key in response.Keys)
            {
                table.AddRow(RegistryCli.Markup(key.Id), RegistryCli.Markup(key.Label), RegistryCli.Markup(key.Prefix + "…"),
                    RegistryCli.Time(key.CreatedAt), key.RevokedAt is null ? "" : RegistryCli.Time(key.RevokedAt));
            }

            AnsiConsole.Write(table);
            return 0;
        }));

        var id = new Argument<string>("KEY_ID") { Description = "The id of the key to revoke (from optout key list)." };
        var revokeHolder = new Option<string?>("--holder") { Description = "Admin key only: the holder whose key KEY_ID is." };
        var revoke = new Command("revoke", "Revoke one of your API keys (with the admin key and --holder: any holder's).") { id, revokeHolder };
        CommonOptions.AddTo(revoke);
        revoke.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var response = await client.RevokeApiKeyAsync(parseResult.GetValue(id)!, parseResult.GetValue(revokeHolder), token);
            if (json)
            {
                RegistryCli.WriteJson(response);
            }
            else
            {
                Console.Out.WriteLine($"revoked {response.Info.Id} at {RegistryCli.Time(response.Info.RevokedAt)}");
            }

            return 0;
        }));

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(revoke);
        return command;
    }
}
