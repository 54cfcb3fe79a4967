using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Grpc;

// Commands (see run-load.sh and RESULTS.md):
//   server [port]                       load server: our layer and a bare Kestrel endpoint side by side
//   unary-load <address> <concurrency> <seconds> [channels]
//   bidi-load <address> <streams> <seconds>
//   bodies <dir>                        request bodies for h2load
//   client-unary <address> <concurrency> <seconds> <channels> <rounds>   our client vs bare HttpClient, alternating
//   client-bidi <address> <streams> <seconds> <rounds>                   the same for bidi streams
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
    case "client-unary":
        await ClientCompare.UnaryAsync(args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]));
        break;
    case "client-bidi":
        await ClientCompare.BidiAsync(args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]));
        break;
    case "bodies":
        LoadClient.WriteBodies(args[1]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(FramingBenchmarks).Assembly).Run(args);
        break;
}
