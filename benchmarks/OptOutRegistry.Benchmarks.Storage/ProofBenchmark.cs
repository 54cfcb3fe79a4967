using System.Diagnostics;
using OptOutRegistry.Storage.Sqlite;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// <c>proofs --dir DIR</c>: inclusion and consistency proofs at the full size of a kept SQLite scenario store (e.g.
/// 10 M leaves), 1,000 each at random positions, every one verified against the tree head: p50/p99 wall per proof
/// and process CPU per proof (the verification and the leaf/root reads it needs included).
/// </summary>
internal static class ProofBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var i = Array.IndexOf(args, "--dir");
        var dir = i >= 0 && i + 1 < args.Length ? args[i + 1] : throw new ArgumentException("--dir: the data directory of a kept scenario store is required");
        await using var store = await SqliteRegistryStore.OpenAsync(dir);
        await store.MigrateAsync();
        var head = await store.GetTreeHeadAsync();
        var random = new Random(7);
        Console.WriteLine($"proofs at {head.TreeSize:N0} leaves, date={DateTimeOffset.UtcNow:O}, load {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var kind in new[] { "inclusion", "consistency" })
        {
            var latencies = new List<double>();
            var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
            for (var n = 0; n < 1000; n++)
            {
                var t = Stopwatch.GetTimestamp();
                bool ok;
                if (kind == "inclusion")
                {
                    var leaf = random.NextInt64(head.TreeSize);
                    var proof = await store.GetInclusionProofAsync(leaf, head.TreeSize);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
                    var events = await store.ReadEventsAsync(leaf, 1);
                    ok = MerkleVerifier.VerifyInclusion(leaf, head.TreeSize, events[0].LeafHash, proof, head.RootHash);
                }
                else
                {
                    var size1 = 1 + random.NextInt64(head.TreeSize - 1);
                    var proof = await store.GetConsistencyProofAsync(size1, head.TreeSize);
                    latencies.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
                    ok = MerkleVerifier.VerifyConsistency(size1, head.TreeSize, await store.GetRootAsync(size1), head.RootHash, proof);
                }

                if (!ok)
                {
                    throw new InvalidOperationException($"{kind} proof {n} does not verify");
                }
            }

            var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / latencies.Count;
            latencies.Sort();
            Console.WriteLine($"{kind}: p50 {latencies[500]:F0} µs, p99 {latencies[990]:F0} µs wall per proof; {cpu:F0} µs process CPU per proof with its verification and reads");
        }

        return 0;
    }
}
