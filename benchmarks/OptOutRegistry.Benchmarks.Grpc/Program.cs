using BenchmarkDotNet.Running;
using OptOutRegistry.Benchmarks.Grpc;

// Commands (see run-load.sh and RESULTS.md):
//   server [port]                       load server: our layer and a bare Kestrel endpoint side by side
//   bodies <dir>                        request bodies for h2load
//   client-unary <address> <concurrency> <seconds> <channels> <rounds>   our client on its own HTTP/2 transport, on
//                                       HttpClient, and a bare HttpClient client, alternating in one process
//   client-bidi <address> <streams> <seconds> <rounds>                   the same for bidi streams
//   client-alloc <address> ours|ours-httpclient|bare <calls> <concurrency>  bytes per unary call by type (sampled)
//   sdk-encode [queries-file|-] [rounds] the SDK's CheckBatch message code, generated vs CheckBatchRequestWriter/ResponseReader,
//                                       in process without a network, alternating (SdkEncode.cs)
//   anything else                       BenchmarkDotNet (e.g. --filter '*Framing*' --job short)
switch (args.FirstOrDefault())
{
    case "server":
        await LoadServer.RunAsync(args.Length > 1 ? int.Parse(args[1]) : 5199);
        break;
    case "client-unary":
        await ClientCompare.UnaryAsync(args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]));
        break;
    case "client-bidi":
        await ClientCompare.BidiAsync(args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]));
        break;
    case "client-alloc":
        await AllocationCensus.RunAsync(args[1], args[2], int.Parse(args[3]), int.Parse(args[4]));
        break;
    case "sdk-encode":
        await SdkEncode.RunAsync(args.Length > 1 ? args[1] : null, args.Length > 2 ? int.Parse(args[2]) : 5);
        break;
    case "bodies":
        LoadClient.WriteBodies(args[1]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(FramingBenchmarks).Assembly).Run(args);
        break;
}
