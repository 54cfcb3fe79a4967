// optout-reliability: the crash and soak harnesses of issue 9 against the real server process.
//
//   dotnet run -c Release --project tools/OptOutRegistry.Reliability -- crash --store sqlite --kills 50
//   dotnet run -c Release --project tools/OptOutRegistry.Reliability -- crash --store postgres --kills 50
//   dotnet run -c Release --project tools/OptOutRegistry.Reliability -- soak --minutes 10
//
// Exit code 0 when every check passed, 1 when one failed (the report says which), 2 for a usage error.
using System.Globalization;
using OptOutRegistry.Reliability;
using OptOutRegistry.Reliability.Crash;
using OptOutRegistry.Reliability.Soak;

if (args.Length == 0 || args[0] is "-h" or "--help" || args[0] is not ("crash" or "soak"))
{
    Console.Error.WriteLine("""
        usage: optout-reliability crash [--store sqlite|postgres] [--kills N] [--clients N] [--seed N] [--markdown FILE]
               optout-reliability soak [--minutes M | --seconds S] [--workers N] [--seed N] [--markdown FILE] [--json FILE]
        """);
    return 2;
}

try
{
    var options = CommandLineOptions.Parse(args.AsSpan(1));
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancel.Cancel();
    };

    string markdown;
    bool passed;
    if (args[0] == "crash")
    {
        var report = await CrashHarness.RunAsync(new CrashOptions
        {
            Store = options.Get("store") ?? "sqlite",
            Kills = options.GetInt("kills") ?? 50,
            Clients = options.GetInt("clients") ?? 4,
            Seed = options.GetInt("seed") ?? Environment.TickCount,
            Progress = Console.Out,
        }, cancel.Token);
        markdown = report.ToMarkdown();
        passed = report.Passed;
    }
    else
    {
        var duration = options.GetInt("seconds") is { } seconds
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromMinutes(options.GetDouble("minutes") ?? 10);
        var report = await SoakHarness.RunAsync(new SoakOptions
        {
            Duration = duration,
            Workers = options.GetInt("workers") ?? 4,
            Seed = options.GetInt("seed") ?? Environment.TickCount,
            Progress = Console.Out,
        }, cancel.Token);
        markdown = report.ToMarkdown();
        passed = report.Passed;
        if (options.Get("json") is { } json)
        {
            await File.WriteAllTextAsync(json, report.ToJson(), cancel.Token);
        }
    }

    Console.WriteLine();
    Console.WriteLine(markdown);
    if (options.Get("markdown") is { } path)
    {
        await File.WriteAllTextAsync(path, markdown, cancel.Token);
    }

    return passed ? 0 : 1;
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"optout-reliability: {ex.Message}");
    return 2;
}

namespace OptOutRegistry.Reliability
{
    /// <summary><c>--name value</c> options of the tool.</summary>
    internal sealed class CommandLineOptions
    {
        private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

        public static CommandLineOptions Parse(ReadOnlySpan<string> args)
        {
            var options = new CommandLineOptions();
            for (var i = 0; i < args.Length; i++)
            {
                if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                {
                    throw new ArgumentException($"'{args[i]}': expected --name value");
                }

                options._values[args[i][2..]] = args[++i];
            }

            return options;
        }

        public string? Get(string name) => _values.GetValueOrDefault(name);

        public int? GetInt(string name) => Get(name) is not { } value
            ? null
            : int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"--{name}: '{value}' is not a whole number");

        public double? GetDouble(string name) => Get(name) is not { } value
            ? null
            : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"--{name}: '{value}' is not a number");
    }
}
