using System.CommandLine;
using System.Globalization;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Filtering;
using OptOutRegistry.Grpc;
using OptOutRegistry.Snapshots;
using Spectre.Console;

namespace OptOutRegistry.Cli.Commands;

/// <summary>
/// <c>optout filter --input FILE|- --kept FILE --removed FILE (--snapshot FILE | --server URL [--key K]) [--format F]
/// [--url-field a.b] [--text-field f] [--purpose P] [--as-of T] [--report report.json] [--strict]</c>: splits a dataset into the records
/// the registry lets you use and those it does not, byte for byte, with an audit report (docs/filtering.md).
/// </summary>
internal static class FilterCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--input") { Description = "Input file, or - for stdin", Required = true };
        var kept = new Option<string>("--kept") { Description = "Where records that may be used go (same format as the input)", Required = true };
        var removed = new Option<string>("--removed") { Description = "Where records that must be dropped go (same format as the input)", Required = true };
        var snapshot = new Option<string?>("--snapshot") { Description = "Signed snapshot file to check against (optout snapshot export); the default for big jobs" };
        var server = new Option<string?>("--server") { Description = "Check against the registry at this gRPC address (Check stream, pipelined batches) instead of a snapshot" };
        var key = new Option<string?>("--key")
        {
            Description = "API key for --server, when the registry requires one for checks. Default: $OPTOUT_KEY",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OPTOUT_KEY") is { Length: > 0 } k ? k : null,
        };
        var publicKey = new Option<string?>("--public-key") { Description = "PEM file of the registry's key the snapshot must be signed with" };
        var format = new Option<string?>("--format") { Description = "jsonl, csv, tsv, warc or urls. Default: detected from the name and content" };
        var urlField = new Option<string>("--url-field") { Description = "JSON dotted path or CSV/TSV column holding the URL. Default: url", DefaultValueFactory = _ => "url" };
        var textField = new Option<string?>("--text-field") { Description = "JSON dotted path or column holding text to fingerprint (SHA-256, ISCC Text-Code)" };
        var purpose = new Option<string>("--purpose") { Description = "The intended use: all, train-ai, train-genai, ai-use, search. Default: train-ai", DefaultValueFactory = _ => "train-ai" };
        var asOf = new Option<string?>("--as-of") { Description = "Answer as the registry stood at this instant (RFC 3339). Default: now" };
        var report = new Option<string?>("--report") { Description = "Write the audit report as JSON here, and as Markdown next to it (.md)" };
        var strict = new Option<bool>("--strict") { Description = "Fail on the first malformed record instead of skipping and reporting it" };
        var command = new Command("filter", "Split a dataset (JSON Lines, CSV/TSV, WARC, URL list) into kept and removed records against the registry.")
        {
            input, kept, removed, snapshot, server, key, publicKey, format, urlField, textField, purpose, asOf, report, strict,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            ServerFilterChecker? remote = null;
            try
            {
                var options = BuildOptions(parseResult, input, format, urlField, textField, purpose, asOf, strict);
                var snapshotPath = parseResult.GetValue(snapshot);
                var serverAddress = parseResult.GetValue(server);
                if ((snapshotPath is null) == (serverAddress is null))
                {
                    throw new ArgumentException("give exactly one of --snapshot FILE (offline) or --server URL (live, over the Check stream)");
                }

                if (serverAddress is not null && parseResult.GetValue(publicKey) is not null)
                {
                    // Answers from a live server are not signed one by one; the report records the server's signed tree head.
                    throw new ArgumentException("--public-key checks a snapshot's signature; it has no effect with --server (the report records the server's signed tree head instead)");
                }

                IFilterChecker checker;
                if (snapshotPath is not null)
                {
                    var keyPem = parseResult.GetValue(publicKey) is { } keyPath ? File.ReadAllText(keyPath) : null;
                    var loaded = SnapshotFilterChecker.Load(snapshotPath, keyPem);
                    options = options with { HolderName = loaded.HolderName };
                    checker = loaded;
                }
                else
                {
                    remote = await ServerFilterChecker.ConnectAsync(serverAddress!, parseResult.GetValue(key), cancellationToken: cancellationToken);
                    checker = remote;
                }

                var inputPath = parseResult.GetValue(input)!;
                FilterReport result;
                using (var inputStream = inputPath == "-" ? Console.OpenStandardInput() : new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                using (var keptStream = new FileStream(parseResult.GetValue(kept)!, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                using (var removedStream = new FileStream(parseResult.GetValue(removed)!, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    result = Run(inputStream, inputPath == "-" ? null : new FileInfo(inputPath).Length, keptStream, removedStream, checker, options, cancellationToken);
                }

                if (parseResult.GetValue(report) is { } reportPath)
                {
                    File.WriteAllText(reportPath, result.ToJson());
                    File.WriteAllText(Path.ChangeExtension(reportPath, ".md"), result.ToMarkdown());
                }

                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.InputRecords} records: {result.Kept} kept, {result.Removed} removed, {result.Rejected} rejected ({result.Registry?.Source} sequence {result.Registry?.Sequence})"));
                return 0;
            }
            catch (Exception ex) when (ex is FilterException or ArgumentException or IOException or SnapshotFormatException or UnauthorizedAccessException or InvalidDataException or RpcException)
            {
                Console.Error.WriteLine($"optout filter: {(ex is RpcException rpc ? $"{parseResult.GetValue(server)}: {rpc.StatusCode}: {rpc.Status.Detail}" : ex.Message)}");
                return ex is FilterException ? 1 : 2;
            }
            finally
            {
                if (remote is not null)
                {
                    await remote.DisposeAsync();
                }
            }
        });
        return command;
    }

    private static FilterOptions BuildOptions(ParseResult parseResult, Option<string> input, Option<string?> format, Option<string> urlField, Option<string?> textField, Option<string> purpose, Option<string?> asOf, Option<bool> strict)
    {
        RecordFormat? recordFormat = null;
        if (parseResult.GetValue(format) is { } name)
        {
            if (!RecordFormats.TryParse(name, out var f))
            {
                throw new ArgumentException($"--format: '{name}' is not one of jsonl, csv, tsv, warc, urls");
            }

            recordFormat = f;
        }

        if (!UsageCategories.TryParse(parseResult.GetValue(purpose), out var category))
        {
            throw new ArgumentException($"--purpose: '{parseResult.GetValue(purpose)}' is not one of all, train-ai, train-genai, ai-use, search");
        }

        DateTimeOffset? instant = null;
        if (parseResult.GetValue(asOf) is { } text)
        {
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                throw new ArgumentException($"--as-of: '{text}' is not an RFC 3339 instant");
            }

            instant = t;
        }

        return new FilterOptions
        {
            Format = recordFormat,
            InputName = parseResult.GetValue(input),
            UrlField = new FieldPath(parseResult.GetValue(urlField)!),
            TextField = parseResult.GetValue(textField) is { } tf ? new FieldPath(tf) : null,
            Purpose = category,
            AsOf = instant,
            Strict = parseResult.GetValue(strict),
        };
    }

    // A progress bar with rate and ETA when stderr is a terminal; quiet otherwise (logs and CI stay clean).
    private static FilterReport Run(Stream input, long? length, Stream kept, Stream removed, IFilterChecker checker, FilterOptions options, CancellationToken cancellationToken)
    {
        if (Console.IsErrorRedirected)
        {
            return DatasetFilter.Run(input, kept, removed, checker, options, cancellationToken);
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        FilterReport? result = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("filtering", maxValue: length ?? 1);
                if (length is null) { task.IsIndeterminate = true; }
                var withProgress = options with
                {
                    Progress = (records, bytes) =>
                    {
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"filtering: {records:N0} records");
                        if (length is not null) { task.Value = bytes; }
                    },
                };
                result = DatasetFilter.Run(input, kept, removed, checker, withProgress, cancellationToken);
                task.Value = task.MaxValue;
            });
        return result!;
    }
}
