using System.Buffers;
using System.Runtime.InteropServices;
using Google.Protobuf;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// The server's work per 1,000-URL CheckBatch without the transport, previous path and fast path alternating in one
/// process, measured in CPU time of the measuring thread (clock_gettime CLOCK_THREAD_CPUTIME_ID), so that other load on
/// the machine changes the figures less than wall time would. Previous path: generated parser, CheckEngine.CheckBatch,
/// generated serializer. Fast path: CheckBatchWire reader, CheckBatchFastPath.Answer, CheckBatchAnswer writer.
/// </summary>
internal static class Stages
{
    public static void Run(int selectors, int rounds)
    {
        var mirror = new RegistryMirror();
        var at = DateTimeOffset.UtcNow.AddDays(-1);
        for (var r = 0; r * 1000 < selectors; r++)
        {
            var reservation = new Pb.Reservation
            {
                Id = "rsv_" + r,
                HolderId = "hld_bench",
                RegisteredAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(at),
                State = Pb.ReservationState.Active,
            };
            reservation.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
            for (var i = r * 1000; i < Math.Min(selectors, (r + 1) * 1000); i++)
            {
                reservation.Selectors.Add(new Pb.Selector { Url = Seed.Covered(i) });
            }

            mirror.Apply(new Pb.Event { Sequence = r, ReservationCreated = reservation });
        }

        var engine = new CheckEngine(mirror);
        var random = new Random(7);
        var requests = new byte[64][];
        for (var b = 0; b < requests.Length; b++)
        {
            var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
            for (var i = 0; i < 1000; i++)
            {
                var n = random.Next(selectors);
                request.Subjects.Add(new Pb.Subject { Url = (i & 1) == 0 ? Seed.Covered(n) : Seed.Uncovered(n) });
            }

            requests[b] = request.ToByteArray();
        }

        var output = new ArrayBufferWriter<byte>(64 * 1024);
        var strings = new string?[requests.Length][];
        for (var b = 0; b < requests.Length; b++)
        {
            var subjects = Pb.CheckBatchRequest.Parser.ParseFrom(requests[b]).Subjects;
            strings[b] = new string?[subjects.Count];
            for (var i = 0; i < subjects.Count; i++)
            {
                strings[b][i] = subjects[i].Url;
            }
        }

        var verdicts = new Core.Model.Verdict[1000];
        var errors = new Core.Urls.UrlError[1000];
        double matcherOnly = 0;
        const int PerRound = 100;
        double typed = 0, fast = 0;
        long typedAllocated = 0, fastAllocated = 0;
        for (var round = -2; round < rounds; round++)
        {
            // Rounds -2 and -1 warm up (tiered JIT) and are not counted.
            var (cpu, bytes) = Measure(() =>
            {
                for (var i = 0; i < PerRound; i++)
                {
                    var request = Pb.CheckBatchRequest.Parser.ParseFrom(requests[i % requests.Length]);
                    var response = engine.CheckBatch(request);
                    output.ResetWrittenCount();
                    var size = response.CalculateSize();
                    response.WriteTo(output.GetSpan(size)[..size]);
                    output.Advance(size);
                }
            });
            if (round >= 0)
            {
                typed += cpu;
                typedAllocated += bytes;
            }

            (cpu, bytes) = Measure(() =>
            {
                for (var i = 0; i < PerRound; i++)
                {
                    using var answer = new CheckBatchAnswer();
                    if (!CheckBatchWire.TryRead(new ReadOnlySequence<byte>(requests[i % requests.Length]), answer))
                    {
                        throw new InvalidOperationException("the fast path declined a benchmark request");
                    }

                    CheckBatchFastPath.Answer(engine, answer);
                    output.ResetWrittenCount();
                    _ = answer.CalculateSize();
                    answer.WriteTo(output);
                }
            });
            if (round >= 0)
            {
                fast += cpu;
                fastAllocated += bytes;
            }

            (cpu, _) = Measure(() =>
            {
                var matcher = mirror.Matcher;
                var now = matcher.TimeProvider.GetUtcNow();
                for (var i = 0; i < PerRound; i++)
                {
                    matcher.CheckUrls(strings[i % strings.Length], Core.Model.UsageCategory.TrainAi, now, verdicts, errors);
                }
            });
            if (round >= 0)
            {
                matcherOnly += cpu;
            }
        }

        var batches = (double)rounds * PerRound;
        Console.WriteLine($"stages\tselectors={selectors}\tbatches={batches}\tprevious_cpu_us_per_1000={typed / batches:F0}\tfast_cpu_us_per_1000={fast / batches:F0}\tratio={typed / fast:F2}\tmatcher_only_cpu_us_per_1000={matcherOnly / batches:F0}\tprevious_bytes_per_1000={typedAllocated / batches:F0}\tfast_bytes_per_1000={fastAllocated / batches:F0}");
    }

    private static (double CpuMicroseconds, long Bytes) Measure(Action action)
    {
        var bytes = GC.GetAllocatedBytesForCurrentThread();
        var start = ThreadCpuMicroseconds();
        action();
        return (ThreadCpuMicroseconds() - start, GC.GetAllocatedBytesForCurrentThread() - bytes);
    }

    private static double ThreadCpuMicroseconds()
    {
        if (!OperatingSystem.IsLinux())
        {
            return System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalMicroseconds;
        }

        _ = ClockGetTime(3, out var ts); // CLOCK_THREAD_CPUTIME_ID
        return ts.Seconds * 1e6 + ts.Nanoseconds / 1e3;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);
}
