using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Fuzz;
using OptOutRegistry.Fuzz.Parsers;
using OptOutRegistry.Fuzz.Rpc;

// The long fuzz run (issue 9, deliverable 3):
//   dotnet run -c Release --project tools/OptOutRegistry.Fuzz -- --minutes 10 [--seed N] [--only NAME[,NAME]] [--parsers-only|--rpc-only]
//   dotnet run -c Release --project tools/OptOutRegistry.Fuzz -- --superlinear     (time ratios of pathological inputs, n vs 4n)
// The time is split between the parser targets and the RPC cases; a table of inputs tried per target is printed, then
// every finding with the input that caused it (base64). Exit code 1 when anything was found.
var minutes = 10.0;
var seed = 1;
string[]? only = null;
var parsers = true;
var rpc = true;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--minutes" when i + 1 < args.Length:
            minutes = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seed" when i + 1 < args.Length:
            seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--only" when i + 1 < args.Length:
            only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            break;
        case "--parsers-only":
            rpc = false;
            break;
        case "--rpc-only":
            parsers = false;
            break;
        case "--superlinear":
            // Time ratios of the pathological inputs at n and 4n (linear ≈ 4, quadratic ≈ 16).
            Console.WriteLine("| case | n | time at n (ms) | time at 4n (ms) | ratio |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var c in Superlinear.All)
            {
                if (only is null || Array.IndexOf(only, c.Name) >= 0)
                {
                    var (small, large, ratio) = Superlinear.Measure(c);
                    Console.WriteLine($"| {c.Name} | {c.N:N0} | {small.TotalMilliseconds:F3} | {large.TotalMilliseconds:F3} | {ratio:F1} |");
                }
            }

            return 0;
        case "--list":
            foreach (var target in ParserTargets.All)
            {
                Console.WriteLine(target.Name);
            }

            foreach (var group in RpcFuzzer.Groups)
            {
                Console.WriteLine("rpc." + group);
            }

            return 0;
        default:
            Console.Error.WriteLine("usage: optout-fuzz [--minutes M] [--seed N] [--only NAME,...] [--parsers-only|--rpc-only] [--list] [--superlinear]");
            return 2;
    }
}

var results = new List<FuzzTargetResult>();
var selected = new List<ParserTarget>();
foreach (var target in ParserTargets.All)
{
    if (parsers && (only is null || Array.IndexOf(only, target.Name) >= 0))
    {
        selected.Add(target);
    }
}

var rpcGroups = new List<string>();
foreach (var group in RpcFuzzer.Groups)
{
    if (rpc && (only is null || Array.IndexOf(only, "rpc." + group) >= 0))
    {
        rpcGroups.Add(group);
    }
}

var slots = selected.Count + (rpcGroups.Count > 0 ? 4 * rpcGroups.Count : 0);
var perSlot = TimeSpan.FromMinutes(minutes / Math.Max(1, slots));
var clock = Stopwatch.StartNew();
foreach (var target in selected)
{
    var result = ParserFuzzer.Run(target, seed, long.MaxValue, perSlot);
    results.Add(result);
    Console.WriteLine($"{result.Target,-28} {result.Inputs,12:N0} inputs {result.Findings.Count,3} findings");
}

if (rpcGroups.Count > 0)
{
    await using var server = await FuzzServer.StartAsync();
    using var fuzzer = new RpcFuzzer(server, seed);
    foreach (var group in rpcGroups)
    {
        var result = await fuzzer.RunAsync(group, long.MaxValue, perSlot * 4);
        results.Add(result);
        Console.WriteLine($"{result.Target,-28} {result.Inputs,12:N0} inputs {result.Findings.Count,3} findings");
    }
}

Console.WriteLine();
Console.WriteLine($"| target | inputs | documented errors | slowest input (ms) | findings |");
Console.WriteLine($"|---|---:|---:|---:|---:|");
long total = 0;
var findings = new List<FuzzFinding>();
foreach (var result in results)
{
    total += result.Inputs;
    findings.AddRange(result.Findings);
    Console.WriteLine($"| {result.Target} | {result.Inputs:N0} | {result.DocumentedErrors:N0} | {result.SlowestInput.TotalMilliseconds:F1} | {result.Findings.Count} |");
}

Console.WriteLine($"| **total** | {total:N0} | | | {findings.Count} |");
Console.WriteLine($"seed {seed}, {clock.Elapsed.TotalMinutes:F1} min");
foreach (var finding in findings)
{
    Console.WriteLine(finding);
}

return findings.Count == 0 ? 0 : 1;
