using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Grpc;

// Commands (see run-load.sh and RESULTS.md):
//   server [port]                       load server: our layer and a bare Kestrel endpoint side by side
//   unary-load <address> <concurrency> <seconds> [channels]
//   bidi-load <address> <streams> <seconds>
//   bodies <dir>                        request bodies for h2load
//   anything else                       BenchmarkDotNet (e.g. --filter '*Framing*' --job short)
switch (args.FirstOrDefault())
{
    case "server":
        await LoadServer.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 5199);
        break;
    case "unary-load":
        await LoadClient.UnaryAsync(args[1], int.Parse(args[2]), int.Parse(args[3]), args.Length > 4 ? int.Parse(args[4]) : 1);
        break;
    case "bidi-load":
        await LoadClient.BidiAsync(args[1], int.Parse(args[2]), int.Parse(args[3]));
        break;
    case "bodies":
        LoadClient.WriteBodies(args[1]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(FramingBenchmarks).Assembly).Run(args);
        break;
}
