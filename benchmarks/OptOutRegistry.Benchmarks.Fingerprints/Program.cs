using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OptOutRegistry.Benchmarks.Fingerprints;
using OptOutRegistry.Fingerprints.Hashing;
using OptOutRegistry.Fingerprints.Iscc;

// `--make-text MiB en|ru PATH` writes a test text file.
// `--quick` prints a plain MB/s table (Stopwatch, best of 5) in a few seconds; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--quick")
{
    QuickTable.Run();
    return;
}

// `--file KIND PATH` fingerprints one file, streamed, and prints the result: for whole-process timing with
// /usr/bin/time -v. KIND is text (streamed), text-oneshot (whole string), data, instance, sha256 or blake3. `--make-text MiB en|ru PATH` writes a test file.
if (args.Length == 3 && args[0] == "--file")
{
    using var file = File.OpenRead(args[2]);
    Console.WriteLine(args[1] switch
    {
        "text" => IsccGenerator.GenTextCodeV0(file).Iscc,
        "text-oneshot" => IsccGenerator.GenTextCodeV0(new StreamReader(file).ReadToEnd()).Iscc,
        "data" => IsccGenerator.GenDataCodeV0(file),
        "instance" => IsccGenerator.GenInstanceCodeV0(file).Iscc,
        "sha256" => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(file)),
        "blake3" => Convert.ToHexString(Blake3.HashStream(file)),
        _ => throw new ArgumentException($"kind: unknown '{args[1]}'"),
    });
    return;
}

if (args.Length == 4 && args[0] == "--make-text")
{
    File.WriteAllText(args[3], Inputs.Text(int.Parse(args[1]) << 20, args[2] == "ru"));
    return;
}

// Short in-process job: no separate build of generated projects (which times out on a loaded 2-core machine),
// 3 warm-ups and 8 measured iterations, so the whole suite runs in a few minutes.
var config = DefaultConfig.Instance.AddJob(
    Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(8).WithToolchain(InProcessEmitToolchain.Instance));
BenchmarkSwitcher.FromAssembly(typeof(TextCodeBenchmarks).Assembly).Run(args, config);

internal static class QuickTable
{
    public static void Run()
    {
        var en = Inputs.Text(8 << 20, russian: false);
        var ru = Inputs.Text(8 << 20, russian: true);
        var data = Inputs.Bytes(64 << 20);
        Console.WriteLine("| what | input | MB per CPU-second (best of 5) | MB/s wall (best of 5) |");
        Console.WriteLine("|---|---|---:|---:|");
        Row("Text-Code (English)", Encoding.UTF8.GetByteCount(en), () => IsccGenerator.GenTextCodeV0(en));
        Row("Text-Code (Russian/Kazakh)", Encoding.UTF8.GetByteCount(ru), () => IsccGenerator.GenTextCodeV0(ru));
        var enBytes = Encoding.UTF8.GetByteCount(en);
        var collapsed = TextNormalization.Collapse(en);
        Row("  stage 1: Collapse (English)", enBytes, () => TextNormalization.Collapse(en));
        Row("  stage 2+3: xxh32 windows + MinHash (English)", enBytes, () => IsccGenerator.SoftHashTextV0(collapsed, out _));
        var features = new uint[collapsed.Length];
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = (uint)i * 2654435761U;
        }

        Row("  stage 3: MinHash AVX2 (1 feature per byte)", enBytes, () =>
        {
            var m = new MinHash();
            m.Add(features);
            return m;
        });
        Row("SHA-256 (BCL)", data.Length, () => System.Security.Cryptography.SHA256.HashData(data));
        Row("BLAKE3", data.Length, () => Blake3.Hash(data));
        Row("Instance-Code", data.Length, () => IsccGenerator.GenInstanceCodeV0(data));
        Row("Data-Code", data.Length, () => IsccGenerator.GenDataCodeV0(data));
        Row("xxHash64", data.Length, () => XxHash64.HashToUInt64(data));
        Row("xxHash32", data.Length, () => XxHash32.HashToUInt32(data));
    }

    // Reports MB per CPU-second of this process (single-threaded work, so it is the work's own CPU time):
    // on a shared, overloaded machine wall-clock figures mostly measure the other tenants.
    private static void Row(string name, long bytes, Func<object> action)
    {
        action();
        var process = Process.GetCurrentProcess();
        var bestCpu = double.MaxValue;
        var bestWall = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            GC.KeepAlive(action());
            var wall = sw.Elapsed.TotalSeconds;
            process.Refresh();
            bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpu0).TotalSeconds);
            bestWall = Math.Min(bestWall, wall);
        }

        Console.WriteLine($"| {name} | {bytes / 1048576.0:F0} MiB | {bytes / 1e6 / bestCpu:F1} | {bytes / 1e6 / bestWall:F1} |");
    }
}
