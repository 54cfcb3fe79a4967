using System.CommandLine;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout register</c>: one reservation from flags. The flags map onto the import format's keys
/// (docs/import-format.md): <c>--url</c> = "url", <c>--pattern HOST PATTERN</c> = "pattern": {host, path}, <c>--disallow</c> =
/// "disallow", and so on. With <c>--json</c> it prints the receipt, one JSON document that <c>optout verify-receipt</c>
/// accepts as it is.
/// </summary>
internal static class RegisterCommand
{
    public static Command Create()
    {
        var url = Multi("--url", "A URL the reservation covers (repeatable).");
        var prefix = Multi("--prefix", "host/path-prefix: every URL on the host under the path (needs a verified host; repeatable).");
        var pattern = new Option<string[]>("--pattern")
        {
            Description = "HOST PATTERN: an RFC 9309 path pattern on a host, e.g. --pattern example.com '/photos/*.jpg$' (needs a verified host; repeatable).",
            Arity = new ArgumentArity(2, 200),
            AllowMultipleArgumentsPerToken = true,
        };
        var host = Multi("--host", "A host (needs a verified host; repeatable).");
        var domain = Multi("--domain", "A registrable domain and all its subdomains (needs a verified host; repeatable).");
        var sha256 = Multi("--sha256", "SHA-256 of the content, 64 hex digits (repeatable).");
        var iscc = Multi("--iscc", "An ISCC code, ISCC:... (repeatable).");
        var identifier = Multi("--identifier", "A standard identifier scheme:value, e.g. isbn:9780306406157 (repeatable).");
        var anyQuery = new Option<bool>("--any-query") { Description = "url selectors also match the URL with any query string." };
        var includeSubdomains = new Option<bool>("--include-subdomains") { Description = "host selectors also match every subdomain." };
        var disallow = Multi("--disallow", "Reserved uses, comma-separated: all, train-ai, train-genai, ai-use, search.");
        var allow = Multi("--allow", "Explicitly permitted uses, comma-separated.");
        var validFrom = new Option<string?>("--valid-from") { Description = "RFC 3339 start (default: now; never earlier than the registration)." };
        var validUntil = new Option<string?>("--valid-until") { Description = "RFC 3339 end (exclusive)." };
        var title = new Option<string?>("--title") { Description = "The work's title (for search)." };
        var creator = Multi("--creator", "A creator of the work (repeatable).");
        var language = new Option<string?>("--language") { Description = "The work's BCP 47 language, e.g. kk." };
        var workIdentifier = Multi("--work-identifier", "A standard identifier of the work for search, scheme:value (repeatable).");
        var policyUrl = new Option<string?>("--policy-url") { Description = "Where your licence or policy terms are published." };
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Makes a retried command return the first result instead of registering twice." };
        var receiptFile = new Option<string?>("--receipt") { Description = "Also write the receipt (JSON) to this file." };
        var command = new Command("register", "Register one reservation and print its receipt.")
        {
            url, prefix, pattern, host, domain, sha256, iscc, identifier, anyQuery, includeSubdomains, disallow, allow,
            validFrom, validUntil, title, creator, language, workIdentifier, policyUrl, idempotencyKey, receiptFile,
        };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var spec = new Pb.ReservationSpec();
            foreach (var v in parseResult.GetValue(url) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Url = v, AnyQuery = parseResult.GetValue(anyQuery) });
            }

            foreach (var v in parseResult.GetValue(prefix) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Prefix = v });
            }

            var patterns = parseResult.GetValue(pattern) ?? [];
            if (patterns.Length % 2 != 0)
            {
                throw new CliUsageException("--pattern takes two values: HOST PATTERN");
            }

            for (var i = 0; i < patterns.Length; i += 2)
            {
                spec.Selectors.Add(new Pb.Selector { Pattern = new Pb.PathPattern { Host = patterns[i], Path = patterns[i + 1] } });
            }

            foreach (var v in parseResult.GetValue(host) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Host = v, IncludeSubdomains = parseResult.GetValue(includeSubdomains) });
            }

            foreach (var v in parseResult.GetValue(domain) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Domain = v });
            }

            foreach (var v in parseResult.GetValue(sha256) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Sha256 = v });
            }

            foreach (var v in parseResult.GetValue(iscc) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Iscc = v });
            }

            foreach (var v in parseResult.GetValue(identifier) ?? [])
            {
                spec.Selectors.Add(new Pb.Selector { Identifier = v });
            }

            if (spec.Selectors.Count == 0)
            {
                throw new CliUsageException("give at least one selector: --url, --prefix, --pattern, --host, --domain, --sha256, --iscc or --identifier");
            }

            try
            {
                RegistryImportFormat.AddStatements(spec, SplitList(parseResult.GetValue(disallow)), SplitList(parseResult.GetValue(allow)));
                if (parseResult.GetValue(validFrom) is { } from)
                {
                    spec.ValidFrom = RegistryImportFormat.ParseTime(from, "valid-from");
                }

                if (parseResult.GetValue(validUntil) is { } until)
                {
                    spec.ValidUntil = RegistryImportFormat.ParseTime(until, "valid-until");
                }
            }
            catch (ImportFormatException ex)
            {
                throw new CliUsageException("--" + ex.Message);
            }

            spec.PolicyUrl = parseResult.GetValue(policyUrl) ?? string.Empty;
            var work = new Pb.WorkMetadata { Title = parseResult.GetValue(title) ?? string.Empty, Language = parseResult.GetValue(language) ?? string.Empty };
            work.Creators.AddRange(parseResult.GetValue(creator) ?? []);
            work.Identifiers.AddRange(parseResult.GetValue(workIdentifier) ?? []);
            spec.Work = work;

            var response = await client.CreateReservationAsync(spec, parseResult.GetValue(idempotencyKey), token);
            var receiptJson = ReceiptVerifier.ToJson(response.Receipt);
            if (parseResult.GetValue(receiptFile) is { } path)
            {
                await File.WriteAllTextAsync(path, receiptJson + "\n", token);
            }

            if (json)
            {
                Console.Out.WriteLine(receiptJson);
                return 0;
            }

            ShowCommand.Print(response.Reservation);
            Console.Out.WriteLine($"receipt: event #{response.Receipt.Event.Sequence} in a tree of {response.Receipt.TreeHead.TreeSize}, signed by {response.Receipt.TreeHead.KeyFingerprint}"
                + (parseResult.GetValue(receiptFile) is { } saved ? $", saved to {saved}" : " (use --receipt FILE or --json to keep it)"));
            return 0;
        }));
        return command;
    }

    private static Option<string[]> Multi(string name, string description) => new(name) { Description = description };

    private static List<string> SplitList(string[]? values)
    {
        var result = new List<string>();
        foreach (var value in values ?? [])
        {
            foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                result.Add(part);
            }
        }

        return result;
    }
}
