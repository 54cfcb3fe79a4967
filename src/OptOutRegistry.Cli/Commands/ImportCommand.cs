using System.CommandLine;
using System.Globalization;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Cli.Registry;
using OptOutRegistry.Client;
using OptOutRegistry.Grpc;
using Spectre.Console;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout import FILE.jsonl</c>: registers one reservation per line (docs/import-format.md) through the
/// ImportReservations stream, with a progress bar on a terminal and one result per line. When the connection fails the
/// lines without a result are sent again: their idempotency keys (given, or derived from the line's content) make the
/// server answer "duplicate" for anything already created, so a retry never registers twice.
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "A JSON Lines file, or - for standard input." };
        var retries = new Option<int>("--retries") { Description = "How often to resume after a connection failure (default 3).", DefaultValueFactory = _ => 3 };
        var command = new Command("import", "Register many reservations from a JSON Lines file.") { file, retries };
        CommonOptions.AddTo(command);
        command.SetAction((parseResult, ct) => RegistryCli.RunAsync(parseResult, ct, async (client, json, token) =>
        {
            var path = parseResult.GetValue(file)!;
            var lines = path == "-" ? await ReadAllLinesAsync(Console.In, token) : await File.ReadAllLinesAsync(path, token);
            var results = new Pb.ImportReservationsResponse?[lines.Length];
            var items = new List<Pb.ImportReservationsRequest>(lines.Length);
            for (var i = 0; i < lines.Length; i++)
            {
                var line = lines[i];
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                var reference = (i + 1).ToString(CultureInfo.InvariantCulture);
                try
                {
                    items.Add(RegistryImportFormat.ParseLine(line, reference));
                }
                catch (ImportFormatException ex)
                {
                    results[i] = new Pb.ImportReservationsResponse { ClientReference = reference, Outcome = Pb.ImportOutcome.Rejected, Error = ex.Message };
                }
            }

            var showProgress = !json && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
            if (showProgress)
            {
                await AnsiConsole.Progress().AutoClear(false).StartAsync(async context =>
                {
                    var task = context.AddTask("importing", maxValue: Math.Max(items.Count, 1));
                    await ImportWithRetriesAsync(client, items, results, parseResult.GetValue(retries), () => task.Increment(1), token);
                });
            }
            else
            {
                await ImportWithRetriesAsync(client, items, results, parseResult.GetValue(retries), null, token);
            }

            return Report(lines, results, json);
        }));
        return command;
    }

    private static async Task ImportWithRetriesAsync(RegistryClient client, List<Pb.ImportReservationsRequest> items, Pb.ImportReservationsResponse?[] results,
        int retries, Action? progress, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var pending = new List<Pb.ImportReservationsRequest>();
            foreach (var item in items)
            {
                if (results[LineIndex(item.ClientReference)] is null)
                {
                    pending.Add(item);
                }
            }

            if (pending.Count == 0)
            {
                return;
            }

            try
            {
                await foreach (var result in client.ImportAsync(ToAsync(pending), cancellationToken))
                {
                    var index = LineIndex(result.ClientReference);
                    if ((uint)index < (uint)results.Length && results[index] is null)
                    {
                        results[index] = result;
                        progress?.Invoke();
                    }
                }

                return;
            }
            catch (Exception ex) when (attempt < retries && IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"optout: the import was interrupted ({ex.Message}); resuming the lines without a result (attempt {attempt + 2})");
                await Task.Delay(TimeSpan.FromSeconds(attempt + 1), cancellationToken);
            }
        }
    }

    private static bool IsTransient(Exception ex) => ex switch
    {
        RpcException rpc => rpc.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded
            or StatusCode.Aborted or StatusCode.ResourceExhausted or StatusCode.Cancelled,
        HttpRequestException or IOException => true,
        _ => false,
    };

    private static int Report(string[] lines, Pb.ImportReservationsResponse?[] results, bool json)
    {
        int created = 0, duplicates = 0, rejected = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var r = results[i];
            if (r is null)
            {
                continue;
            }

            var outcome = r.Outcome switch
            {
                Pb.ImportOutcome.Created => "created",
                Pb.ImportOutcome.Duplicate => "duplicate",
                _ => "rejected",
            };
            switch (outcome)
            {
                case "created": created++; break;
                case "duplicate": duplicates++; break;
                default:
                    rejected++;
                    if (!json)
                    {
                        Console.Error.WriteLine($"line {i + 1}: {r.Error}");
                    }

                    break;
            }

            if (json)
            {
                RegistryCli.WriteJson(new ImportLineResult(i + 1, outcome, r.ReservationId.Length > 0 ? r.ReservationId : null,
                    outcome == "rejected" ? null : r.Sequence, r.Error.Length > 0 ? r.Error : null));
            }
        }

        if (!json)
        {
            Console.Out.WriteLine($"{created} created, {duplicates} duplicate(s), {rejected} rejected");
        }

        return rejected == 0 ? 0 : RegistryCli.Failure;
    }

    private static int LineIndex(string clientReference) =>
        int.TryParse(clientReference, NumberStyles.None, CultureInfo.InvariantCulture, out var line) ? line - 1 : -1;

    private static async IAsyncEnumerable<Pb.ImportReservationsRequest> ToAsync(List<Pb.ImportReservationsRequest> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }

        await Task.CompletedTask;
    }

    private static async Task<string[]> ReadAllLinesAsync(TextReader reader, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lines.Add(line);
        }

        return [.. lines];
    }

    /// <summary>One line's result in <c>--json</c> output.</summary>
    private sealed record ImportLineResult(int Line, string Outcome, string? ReservationId, long? Sequence, string? Error);
}
