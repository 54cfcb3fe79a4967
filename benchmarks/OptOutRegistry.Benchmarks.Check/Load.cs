using System.Diagnostics;
using Google.Protobuf;
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
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        var half = new HalfTime(until / 2);
        await Parallel.ForAsync(0, concurrency, async (worker, _) =>
        {
            for (var n = worker; clock.Elapsed < until; n += concurrency)
            {
                var response = await client.CheckBatchAsync(batches[n % batches.Length]);
                half.Check(clock.Elapsed, Interlocked.Add(ref urls, response.Results.Count));
                var d = 0;
                foreach (var r in response.Results)
                {
                    d += r.Verdict == Pb.Verdict.Disallowed ? 1 : 0;
                }

                Interlocked.Add(ref disallowed, d);
            }
        });
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        Console.WriteLine($"batch\tconcurrency={concurrency}\turls={urls}\tseconds={elapsed:F2}\turls_per_s={urls / elapsed:F0}\tdisallowed_share={(double)disallowed / urls:F3}\tclient_cpu_us_per_1000={cpuUs * 1000 / urls:F0}\t{half.Report(elapsed, urls)}");
    }

    /// <summary>
    /// The second half of a timed run on its own: the client's JIT (tiering, PGO) still runs in the first seconds and
    /// was a quarter of the SDK batch client's CPU in a 5 s run (round six profile), so the second half is the steady
    /// client a long crawl sees. The first worker past half time takes the snapshot.
    /// </summary>
    private sealed class HalfTime(TimeSpan at)
    {
        private int _taken;
        private long _urls;
        private double _seconds;
        private TimeSpan _cpu;

        public void Check(TimeSpan elapsed, long urls)
        {
            if (elapsed >= at && Volatile.Read(ref _taken) == 0 && Interlocked.Exchange(ref _taken, 1) == 0)
            {
                _cpu = Process.GetCurrentProcess().TotalProcessorTime;
                _seconds = elapsed.TotalSeconds;
                _urls = urls;
            }
        }

        public string Report(double elapsed, long urls)
        {
            if (Volatile.Read(ref _taken) == 0 || urls == _urls)
            {
                return "second_half=n/a";
            }

            var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalMicroseconds;
            return $"second_half_urls_per_s={(urls - _urls) / (elapsed - _seconds):F0}\tsecond_half_client_cpu_us_per_1000={cpuUs * 1000 / (urls - _urls):F0}";
        }
    }

    public static async Task StreamAsync(string server, string queriesPath, double seconds)
    {
        var batches = Batches(queriesPath);
        await using var client = CheckClient.Create(server);
        using var call = client.OpenStream();
        var window = new SemaphoreSlim(8);
        long urls = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        var half = new HalfTime(until / 2);
        var reader = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                half.Check(clock.Elapsed, Interlocked.Add(ref urls, call.ResponseStream.Current.Results.Count));
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
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        Console.WriteLine($"stream\turls={urls}\tseconds={elapsed:F2}\turls_per_s={urls / elapsed:F0}\tclient_cpu_us_per_1000={cpuUs * 1000 / urls:F0}\t{half.Report(elapsed, urls)}");
    }

    /// <summary>
    /// One URL per call at <paramref name="rate"/> calls/s, open loop. <paramref name="sdk"/> false: a raw one-subject
    /// <c>CheckBatch</c> call per check (what h2load sends); true: the SDK's single check, <c>CheckClient.CheckUrlAsync</c>
    /// with its default options (provenance on, adaptive batching). <paramref name="watchPid"/>: the server process to
    /// watch over EventPipe during the timed part (GC pauses, allocations, server-side request times).
    /// <paramref name="hedgeAfterMs"/> &gt; 0: the SDK's hedging (<see cref="CheckClientOptions.Hedging"/>, 2 attempts, this
    /// delay): a check unanswered that long goes out again on another connection.
    /// </summary>
    public static async Task UnaryAsync(string server, string queriesPath, double seconds, int rate, bool sdk, int? watchPid, double hedgeAfterMs = 0)
    {
        var lines = File.ReadAllLines(queriesPath);
        var options = hedgeAfterMs > 0
            ? new CheckClientOptions { Hedging = new OptOutRegistry.Grpc.HedgingPolicy { MaxAttempts = 2, Delay = TimeSpan.FromMilliseconds(hedgeAfterMs) } }
            : null;
        await using var client = CheckClient.Create(server, options);
        var urls = lines.AsSpan(0, Math.Min(lines.Length, 100_000)).ToArray();
        var requests = new Pb.CheckBatchRequest[urls.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { new Pb.Subject { Url = urls[i] } } };
        }

        Func<int, Task> call = sdk
            ? i => client.CheckUrlAsync(urls[i % urls.Length], Pb.UsageCategory.TrainAi).AsTask()
            : i => client.CheckBatchAsync(requests[i % requests.Length]);
        for (var i = 0; i < 2000; i++)
        {
            await call(i);
        }

        using var watch = watchPid is { } pid ? ServerWatch.TryAttach(pid) : null;
        if (watch is not null)
        {
            // Let the session start delivering before the timed part.
            await Task.Delay(1000);
            watch.Start();
        }

        // Open loop: call i is due at start + i/rate, whether or not earlier calls have finished; latency counts from the
        // due time, so queueing delay is included (no coordinated omission). The schedule runs on its own thread, sleeps
        // between calls (usleep: ~60 us resolution here) and only schedules: each call starts on a pool thread. The
        // previous generator spun on a pool thread whenever the next call was due within 2 ms - at 10,000 calls/s that
        // is always - so it held one of the machine's two cores for the whole run, and it started each call inline.
        var total = (int)(seconds * rate);
        var latencies = new double[total];
        var tasks = new Task[total];
        var clock = new Stopwatch();
        var tick = Stopwatch.Frequency / (double)rate;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var gcPause = GC.GetTotalPauseDuration();
        var gen0 = GC.CollectionCount(0);
        var gen1 = GC.CollectionCount(1);
        var gen2 = GC.CollectionCount(2);
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var switches = ContextSwitches();
        var schedule = new Thread(() =>
        {
            clock.Start();
            for (var i = 0; i < total; i++)
            {
                var due = (long)(i * tick);
                var ahead = due - clock.ElapsedTicks;
                if (ahead > 0)
                {
                    Sleep(ahead * 1_000_000 / Stopwatch.Frequency);
                }

                // The call itself starts on a pool thread: its synchronous part (serialising, handing the frame to the
                // connection) must not delay the schedule of the calls after it.
                var pending = new PendingCall(call, clock, due, latencies, i);
                tasks[i] = pending.Completion.Task;
                ThreadPool.UnsafeQueueUserWorkItem(static c => c.Start(), pending, preferLocal: false);
            }
        })
        { IsBackground = true, Name = "unary schedule", Priority = ThreadPriority.AboveNormal };
        schedule.Start();
        schedule.Join();
        await Task.WhenAll(tasks);
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        switches = ContextSwitches() - switches;
        var clientGc = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"client_context_switches_per_call={switches / (double)total:F2}\tclient_gc_gen0/1/2={GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}\tclient_gc_pause_ms={(GC.GetTotalPauseDuration() - gcPause).TotalMilliseconds:F1}\tclient_bytes_per_call={(GC.GetTotalAllocatedBytes(precise: false) - allocated) / (double)total:F0}");
        Array.Sort(latencies);
        Console.WriteLine($"{(sdk ? "single" : "unary")}\trate={rate}\tcalls={total}\tachieved_per_s={total / elapsed:F0}\tp50_ms={latencies[total / 2]:F3}\tp90_ms={latencies[(int)(total * 0.9)]:F3}\tp99_ms={latencies[(int)(total * 0.99)]:F3}\tp999_ms={latencies[(int)(total * 0.999)]:F3}\tmax_ms={latencies[total - 1]:F3}\tclient_cpu_us_per_call={cpuUs / total:F1}\t{clientGc}\thedge_after_ms={hedgeAfterMs}");
        watch?.Report(total);
    }

    private sealed class PendingCall(Func<int, Task> call, Stopwatch clock, long due, double[] latencies, int index)
    {
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async void Start()
        {
            try
            {
                await call(index).ConfigureAwait(false);
                latencies[index] = (clock.ElapsedTicks - due) * 1000.0 / Stopwatch.Frequency;
                Completion.SetResult();
            }
            catch (Exception ex)
            {
                Completion.SetException(ex);
            }
        }
    }

    /// <summary>
    /// Writes gRPC-framed request bodies for an independent load generator (h2load <c>-d FILE</c>): <c>unary.bin</c>, one
    /// URL, and <c>batch.bin</c>, the first 1,000 query URLs - the same requests the batch and unary modes send.
    /// </summary>
    public static void Encode(string queriesPath, string outDirectory)
    {
        var batch = Batches(queriesPath)[0];
        var unary = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { batch.Subjects[0] } };
        Directory.CreateDirectory(outDirectory);
        File.WriteAllBytes(Path.Combine(outDirectory, "unary.bin"), Frame(unary));
        File.WriteAllBytes(Path.Combine(outDirectory, "batch.bin"), Frame(batch));

        static byte[] Frame(Pb.CheckBatchRequest request)
        {
            var body = request.ToByteArray();
            var framed = new byte[5 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
            body.CopyTo(framed, 5);
            return framed;
        }
    }

    /// <summary>
    /// Voluntary and involuntary context switches of this process's live threads (Linux; 0 elsewhere). On this VM a
    /// thread's sleep and wake-up costs ~30 µs of CPU, so switches per call explain most of the CPU per call.
    /// </summary>
    internal static long ContextSwitches()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        long total = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.Contains("ctxt_switches:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
            }
        }

        return total;
    }

    private static void Sleep(long microseconds)
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Usleep((uint)Math.Min(microseconds, 100_000));
        }
        else
        {
            Thread.Sleep(TimeSpan.FromMicroseconds(microseconds));
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "usleep")]
    private static extern int Usleep(uint microseconds);
}
