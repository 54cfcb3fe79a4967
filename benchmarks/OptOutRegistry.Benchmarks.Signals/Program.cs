using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Signals;

// --quick [seconds]: a stopwatch run printed as key=value lines (run.sh compares it with Protego).
// Anything else goes to BenchmarkDotNet, e.g. --filter '*'.
if (args.Length > 0 && args[0] == "--quick")
{
    QuickRun.Run(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3.0);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(RobotsBenchmarks).Assembly).Run(args);
