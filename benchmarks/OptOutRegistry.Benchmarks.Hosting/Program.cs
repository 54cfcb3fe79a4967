using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace OptOutRegistry.Benchmarks.Hosting;

/// <summary>
/// Benchmarks of the server's hosting options. <c>dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Hosting -- --filter '*'</c>;
/// the whole-server A/B of <c>--keep-cpus-awake</c> is <c>keep-awake-ab.sh</c> beside this file (RESULTS.md).
/// </summary>
public static class Program
{
    // In process (the generated boilerplate project takes minutes to build on the shared machine) and short: the figures
    // are nanoseconds, compared within one run.
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(
        args, DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(8)));
}
