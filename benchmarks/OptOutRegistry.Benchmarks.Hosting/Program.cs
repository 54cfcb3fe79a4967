using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace OptOutRegistry.Benchmarks.Hosting;

/// <summary>
/// Benchmarks of the server's hosting options. <c>dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Hosting -- --filter '*'</c>;
/// the whole-server A/B of <c>--keep-cpus-awake</c> is <c>keep-awake-ab.sh</c> beside this file (RESULTS.md);
/// <c>-- keep-awake --method none|pm-qos|pause|plain</c> holds one keep-awake mechanism without a server (<see cref="KeepAwakeProbe"/>).
/// </summary>
public static class Program
{
    // In process (the generated boilerplate project takes minutes to build on the shared machine) and short: the figures
    // are nanoseconds, compared within one run.
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "keep-awake")
        {
            return KeepAwakeProbe.Run(args);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(
            args, DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(8)));
        return 0;
    }
}
