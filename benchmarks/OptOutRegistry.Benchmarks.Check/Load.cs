using System.Diagnostics;
using OptOutRegistry.Client.Checking;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>Closed- and open-loop load over loopback against a running server.</summary>
internal static class Load
{
    private const int BatchSize = 1000;

    private static Pb.CheckBatchRequest[] Batches(string queriesPath)
    {
        var lines = File.ReadAllLines(queriesPath);
        var batches = new Pb.CheckBatchRequest[lines.Length / BatchSize];
        for (var b = 0; b < batches.Length; b++)
        {
            var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
            for (var i = 0; i < BatchSize; i++)
            {
                request.Subjects.Add(new Pb.Subject { Url = lines[b * BatchSize + i] });
            }

            batches[b] = request;
        }

        return batches;
    }

    public static async Task BatchAsync(string server, string queriesPath, double seconds, int concurrency)
    {
        var batches = Batches(queriesPath);
        await using var client = CheckClient.Create(server);
        await client.CheckBatchAsync(batches[0]);
        long urls = 0, disallowed = 0;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Parallel.ForAsync(0, concurrency, async (worker, _) =>
        {
            for (var n = worker; clock.Elapsed < until; n += concurrency)
            {
                var response = await client.CheckBatchAsync(batches[n % batches.Length]);
                Interlocked.Add(ref urls, response.Results.Count);
                var d = 0;
                foreach (var r in response.Results)
                {
                    d += r.Verdict == Pb.Verdict.Disallowed ? 1 : 0;
                }

                Interlocked.Add(ref disallowed, d);
            }
        });
        var elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"batch\tconcurrency={concurrency}\turls={urls}\tseconds={elapsed:F2}\turls_per_s={urls / elapsed:F0}\tdisallowed_share={(double)disallowed / urls:F3}");
    }

    public static async Task StreamAsync(string server, string queriesPath, double seconds)
    {
        var batches = Batches(queriesPath);
        await using var client = CheckClient.Create(server);
        using var call = client.OpenStream();
        var window = new SemaphoreSlim(8);
        long urls = 0;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        var reader = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                Interlocked.Add(ref urls, call.ResponseStream.Current.Results.Count);
                window.Release();
            }
        });
        for (var n = 0; clock.Elapsed < until; n++)
        {
            await window.WaitAsync();
            await call.RequestStream.WriteAsync(batches[n % batches.Length]);
        }

        await call.RequestStream.CompleteAsync();
        await reader;
        var elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"stream\turls={urls}\tseconds={elapsed:F2}\turls_per_s={urls / elapsed:F0}");
    }

    public static async Task UnaryAsync(string server, string queriesPath, double seconds, int rate)
    {
        var lines = File.ReadAllLines(queriesPath);
        await using var client = CheckClient.Create(server);
        var requests = new Pb.CheckBatchRequest[Math.Min(lines.Length, 100_000)];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { new Pb.Subject { Url = lines[i] } } };
        }

        for (var i = 0; i < 2000; i++)
        {
            await client.CheckBatchAsync(requests[i]);
        }

        // Open loop: call i is due at start + i/rate, whether or not earlier calls have finished; latency counts from the
        // due time, so queueing delay is included (no coordinated omission).
        var total = (int)(seconds * rate);
        var latencies = new double[total];
        var tasks = new Task[total];
        var clock = Stopwatch.StartNew();
        var tick = Stopwatch.Frequency / (double)rate;
        for (var i = 0; i < total; i++)
        {
            var due = (long)(i * tick);
            while (clock.ElapsedTicks < due)
            {
                if (due - clock.ElapsedTicks > Stopwatch.Frequency / 500)
                {
                    await Task.Delay(1);
                }
                else
                {
                    Thread.SpinWait(20);
                }
            }

            var index = i;
            tasks[i] = Call(client, requests[i % requests.Length], clock, due, latencies, index);
        }

        await Task.WhenAll(tasks);
        var elapsed = clock.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        Console.WriteLine($"unary\trate={rate}\tcalls={total}\tachieved_per_s={total / elapsed:F0}\tp50_ms={latencies[total / 2]:F3}\tp99_ms={latencies[(int)(total * 0.99)]:F3}\tp999_ms={latencies[(int)(total * 0.999)]:F3}");

        static async Task Call(CheckClient client, Pb.CheckBatchRequest request, Stopwatch clock, long due, double[] latencies, int index)
        {
            await client.CheckBatchAsync(request);
            latencies[index] = (clock.ElapsedTicks - due) * 1000.0 / Stopwatch.Frequency;
        }
    }
}
