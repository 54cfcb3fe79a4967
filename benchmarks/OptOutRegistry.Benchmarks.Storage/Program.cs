// Storage benchmarks. See RESULTS.md for numbers and the exact commands.
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- scenario --store sqlite --count 1000000
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- scenario --store postgres --count 1000000
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- scenario --store sqlite --count 1000000 --payload proto --dir DIR --keep
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- rebuild --dir DIR     (matcher rebuild: replay vs rows)
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- proofs --dir DIR      (proofs at the store's size)
//   dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Storage -- --filter '*'      (BenchmarkDotNet)
using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Storage;

if (args.Length > 0 && args[0] == "scenario")
{
    return await Scenario.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "rebuild")
{
    return await RebuildBenchmark.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "proofs")
{
    return await ProofBenchmark.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Scenario).Assembly).Run(args);
return 0;
