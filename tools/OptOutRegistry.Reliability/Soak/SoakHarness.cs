using System.Collections.Concurrent;
using System.Diagnostics;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Reliability.Hosting;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Reliability.Soak;

/// <summary>
/// Issue 9, deliverable 2: one real server process (SQLite), mixed load from <see cref="SoakOptions.Workers"/> workers —
/// 90% checks (half <c>CheckBatch</c>, half on a long-lived <c>CheckStream</c> per worker), 10% writes (registrations
/// and revocations, half each, so the active set stays about the same size and memory growth means a leak, not data).
/// Every check's verdicts for known URLs are verified. Samples server RSS and GC heap every interval and records every
/// check call's latency.
/// </summary>
public static class SoakHarness
{
    private const int MaxErrorExamples = 10;
    private const int NeverRegisteredUrls = 2000;

    /// <summary>Runs the soak and returns its report (failures are in the report, not thrown).</summary>
    public static async Task<SoakReport> RunAsync(SoakOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Workers < 1 || options.SubjectsPerCheck is < 1 or > 10_000 || options.Duration <= TimeSpan.Zero)
        {
            throw new ArgumentException("--workers must be at least 1, subjects per check 1..10000, and the duration positive", nameof(options));
        }

        var work = Directory.CreateTempSubdirectory("optout-soak-");
        try
        {
            using var server = await ServerProcess.StartAsync(new ServerSettings(work.FullName), ServerProcess.FreePort(), options.StartTimeout, cancellationToken)
                .ConfigureAwait(false);
            var run = new SoakRun(options, server, work.FullName);
            return await run.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS temp cleaner.
            }
        }
    }

    private sealed class SoakRun(SoakOptions options, ServerProcess server, string dataDirectory)
    {
        private readonly LatencyLog _latency = new();
        private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _errorExamples = new();
        private readonly Stopwatch _clock = new();
        private string[] _stableUrls = [];
        private string[] _neverUrls = [];
        private long _checks;
        private long _streamChecks;
        private long _registrations;
        private long _revocations;
        private long _rateLimited;

        public async Task<SoakReport> ExecuteAsync(CancellationToken cancellationToken)
        {
            using var channel = GrpcChannel.ForAddress(server.Address);
            using var anonymous = new RegistryClient(channel);
            var holders = new RegistryClient[options.Workers];
            for (var w = 0; w < holders.Length; w++)
            {
                var created = await anonymous.CreateHolderAsync(
                    new Pb.CreateHolderRequest { DisplayName = $"Soak Worker {w}", ContactEmail = $"soak{w}@example.org" }, cancellationToken).ConfigureAwait(false);
                holders[w] = anonymous.WithKey(created.ApiKey);
            }

            await SeedAsync(holders, cancellationToken).ConfigureAwait(false);
            using var gc = GcHeapSampler.TryAttach(server.Id, options.SampleInterval < TimeSpan.FromSeconds(2) ? options.SampleInterval : TimeSpan.FromSeconds(2),
                out var gcError);

            await using var checks = new CheckClient(channel);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _clock.Start();
            var workers = new Task[options.Workers];
            for (var w = 0; w < workers.Length; w++)
            {
                workers[w] = RunWorkerAsync(w, checks, holders[w], options.Seed + w, stop.Token);
            }

            var samples = await SampleAsync(gc, cancellationToken).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(workers).ConfigureAwait(false);
            return BuildReport(samples, gc is null ? gcError ?? "not attached" : null);
        }

        private async Task SeedAsync(RegistryClient[] holders, CancellationToken cancellationToken)
        {
            var stable = new string[options.SeedReservations];
            await Parallel.ForEachAsync(Enumerable.Range(0, stable.Length), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    stable[i] = $"https://soak.example/stable/{i}";
                    await holders[i % holders.Length].CreateReservationAsync(Spec(stable[i]), cancellationToken: ct).ConfigureAwait(false);
                }).ConfigureAwait(false);
            _stableUrls = stable;
            _neverUrls = new string[NeverRegisteredUrls];
            for (var i = 0; i < _neverUrls.Length; i++)
            {
                _neverUrls[i] = $"https://soak.example/never/{i}";
            }
        }

        private async Task RunWorkerAsync(int worker, CheckClient checks, RegistryClient registry, int seed, CancellationToken stop)
        {
            var random = new Random(seed);
            var active = new List<string>();
            var written = 0;
            AsyncDuplexStreamingCall<Pb.CheckBatchRequest, Pb.CheckBatchResponse>? stream = null;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        if (random.NextDouble() < options.CheckShare)
                        {
                            var useStream = random.Next(2) == 0;
                            var (request, expected) = BuildCheck(random);
                            var started = Stopwatch.GetTimestamp();
                            Pb.CheckBatchResponse response;
                            if (useStream)
                            {
                                stream ??= checks.OpenStream(stop);
                                await stream.RequestStream.WriteAsync(request, stop).ConfigureAwait(false);
                                if (!await stream.ResponseStream.MoveNext(stop).ConfigureAwait(false))
                                {
                                    var status = stream.GetStatus();
                                    stream.Dispose();
                                    stream = null;
                                    throw new RpcException(status.StatusCode == StatusCode.OK ? new Status(StatusCode.Internal, "the Check stream ended early") : status);
                                }

                                response = stream.ResponseStream.Current;
                                Interlocked.Increment(ref _streamChecks);
                            }
                            else
                            {
                                response = await checks.CheckBatchAsync(request, stop).ConfigureAwait(false);
                            }

                            _latency.Add(_clock.Elapsed.TotalSeconds, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                            Interlocked.Increment(ref _checks);
                            VerifyVerdicts(response, expected);
                        }
                        else if (active.Count > 0 && random.Next(2) == 0)
                        {
                            var index = random.Next(active.Count);
                            var id = active[index];
                            active[index] = active[^1];
                            active.RemoveAt(active.Count - 1);
                            await registry.RevokeReservationAsync(id, "soak", stop).ConfigureAwait(false);
                            Interlocked.Increment(ref _revocations);
                        }
                        else
                        {
                            var url = $"https://soak.example/w{worker}/{written++}";
                            var response = await registry.CreateReservationAsync(Spec(url), cancellationToken: stop).ConfigureAwait(false);
                            active.Add(response.Reservation.Id);
                            Interlocked.Increment(ref _registrations);
                        }
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted && !stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref _rateLimited);
                        await Task.Delay(100, stop).ConfigureAwait(false);
                    }
                    catch (RpcException ex) when (!stop.IsCancellationRequested)
                    {
                        Error(ex.StatusCode.ToString(), $"worker {worker}: {ex.StatusCode} {ex.Status.Detail}");
                        stream?.Dispose();
                        stream = null;
                    }
                }
            }
            catch (Exception ex) when (stop.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                // The run ended while a call was in flight.
            }
            finally
            {
                stream?.Dispose();
            }
        }

        /// <summary>
        /// A check of <see cref="SoakOptions.SubjectsPerCheck"/> URLs: registered-and-never-revoked ones (expected
        /// DISALLOWED for training) and never-registered ones (expected UNKNOWN), interleaved.
        /// </summary>
        private (Pb.CheckBatchRequest Request, Pb.Verdict[] Expected) BuildCheck(Random random)
        {
            var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
            var expected = new Pb.Verdict[options.SubjectsPerCheck];
            for (var i = 0; i < expected.Length; i++)
            {
                if ((i & 1) == 0)
                {
                    request.Subjects.Add(new Pb.Subject { Url = _stableUrls[random.Next(_stableUrls.Length)] });
                    expected[i] = Pb.Verdict.Disallowed;
                }
                else
                {
                    request.Subjects.Add(new Pb.Subject { Url = _neverUrls[random.Next(_neverUrls.Length)] });
                    expected[i] = Pb.Verdict.Unknown;
                }
            }

            return (request, expected);
        }

        private void VerifyVerdicts(Pb.CheckBatchResponse response, Pb.Verdict[] expected)
        {
            if (response.Results.Count != expected.Length)
            {
                Error("wrong answer", $"{response.Results.Count} results for {expected.Length} subjects");
                return;
            }

            for (var i = 0; i < expected.Length; i++)
            {
                if (response.Results[i].Verdict != expected[i])
                {
                    Error("wrong verdict", $"subject {i}: {response.Results[i].Verdict}, expected {expected[i]} ({response.Results[i].Error})");
                    return;
                }
            }
        }

        private async Task<List<SoakSample>> SampleAsync(GcHeapSampler? gc, CancellationToken cancellationToken)
        {
            var samples = new List<SoakSample>();
            long lastChecks = 0, lastWrites = 0;
            var lastAt = 0.0;
            samples.Add(Sample(0, gc, 0, 0, 0, 0));
            while (_clock.Elapsed < options.Duration)
            {
                var next = TimeSpan.FromTicks(Math.Min(options.Duration.Ticks, (samples.Count * options.SampleInterval).Ticks));
                var wait = next - _clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                var at = _clock.Elapsed.TotalSeconds;
                var checks = Interlocked.Read(ref _checks);
                var writes = Interlocked.Read(ref _registrations) + Interlocked.Read(ref _revocations);
                var (_, p50, p99) = _latency.Window(lastAt, at);
                var sample = Sample(at, gc, checks - lastChecks, writes - lastWrites, p50, p99);
                samples.Add(sample);
                options.Progress?.WriteLine(
                    $"[soak] t={at,5:F0}s RSS {sample.RssBytes / 1048576.0,7:F1} MiB (anon {sample.RssAnonBytes / 1048576.0,6:F1}, file {sample.RssFileBytes / 1048576.0,6:F1}, shmem {sample.RssShmemBytes / 1048576.0,5:F1}; store {sample.StoreBytes / 1048576.0,6:F1}) GC heap {(sample.GcHeapBytes is { } g ? (g / 1048576.0).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) : "n/a"),7} MiB "
                    + $"checks {sample.Checks,6} writes {sample.Writes,5} p50 {p50,6:F2} ms p99 {p99,7:F2} ms errors {_errors.Values.Sum()}");
                if (server.HasExited)
                {
                    Error("server exited", "the server process exited during the soak:\n" + server.RecentLog);
                    break;
                }

                (lastChecks, lastWrites, lastAt) = (checks, writes, at);
            }

            return samples;
        }

        private SoakSample Sample(double at, GcHeapSampler? gc, long checks, long writes, double p50, double p99)
        {
            var memory = server.ReadMemory();
            long store = 0;
            foreach (var file in new DirectoryInfo(dataDirectory).EnumerateFiles("*", SearchOption.AllDirectories))
            {
                store += file.Length;
            }

            return new SoakSample(at, memory?.Rss ?? 0, gc?.GcHeapBytes, checks, writes, p50, p99, memory?.RssAnon ?? 0, memory?.RssFile ?? 0, store, memory?.RssShmem ?? 0);
        }

        private SoakReport BuildReport(List<SoakSample> samples, string? gcUnavailable)
        {
            var duration = samples[^1].ElapsedSeconds;
            var warmUp = options.EffectiveWarmUp.TotalSeconds;
            var failures = new List<string>();
            var errors = _errors.Values.Sum();
            if (errors > 0)
            {
                failures.Add($"{errors} errors ({string.Join(", ", _errors.Select(e => $"{e.Key}: {e.Value}"))})");
            }

            var afterWarmUp = samples.FirstOrDefault(s => s.ElapsedSeconds >= warmUp - 0.5);
            var end = samples[^1];
            if (afterWarmUp is null || afterWarmUp == end)
            {
                failures.Add($"the run ({duration:F0} s) is too short to judge memory after a {warmUp:F0} s warm-up");
                afterWarmUp ??= end;
            }
            else
            {
                var bound = Math.Max((long)(afterWarmUp.RssBytes * options.MaxMemoryGrowth), afterWarmUp.RssBytes + options.MemorySlackBytes);
                if (end.RssBytes > bound)
                {
                    failures.Add($"RSS grew from {afterWarmUp.RssBytes / 1048576.0:F1} MiB after warm-up to {end.RssBytes / 1048576.0:F1} MiB (bound {bound / 1048576.0:F1} MiB)");
                }
            }

            var third = (duration - warmUp) / 3;
            var (firstCount, _, firstP99) = _latency.Window(warmUp, warmUp + third);
            var (lastCount, _, lastP99) = _latency.Window(duration - third, duration + 1);
            if (firstCount == 0 || lastCount == 0)
            {
                failures.Add("no check completed in the first or the last third after warm-up");
            }
            else if (lastP99 > Math.Max(firstP99 * options.MaxP99Growth, options.P99Floor.TotalMilliseconds))
            {
                failures.Add($"p99 grew from {firstP99:F2} ms (first third) to {lastP99:F2} ms (last third), more than {options.MaxP99Growth}x");
            }

            var rows = new List<LatencyRow>();
            if (duration >= 180)
            {
                for (var minute = 0; minute * 60 < duration - 1; minute++)
                {
                    var (count, p50, p99) = _latency.Window(minute * 60, Math.Min(duration + 1, (minute + 1) * 60));
                    rows.Add(new LatencyRow($"minute {minute + 1}", count, p50, p99));
                }
            }
            else
            {
                string[] names = ["first third", "second third", "last third"];
                for (var i = 0; i < 3; i++)
                {
                    var (count, p50, p99) = _latency.Window(duration * i / 3, i == 2 ? duration + 1 : duration * (i + 1) / 3);
                    rows.Add(new LatencyRow(names[i], count, p50, p99));
                }
            }

            return new SoakReport
            {
                DurationSeconds = duration,
                WarmUpSeconds = warmUp,
                Checks = Interlocked.Read(ref _checks),
                StreamChecks = Interlocked.Read(ref _streamChecks),
                SubjectsPerCheck = options.SubjectsPerCheck,
                Registrations = Interlocked.Read(ref _registrations),
                Revocations = Interlocked.Read(ref _revocations),
                Errors = new Dictionary<string, long>(_errors),
                ErrorExamples = [.. _errorExamples],
                RateLimited = Interlocked.Read(ref _rateLimited),
                Samples = samples,
                Latency = rows,
                P99Thirds = (firstP99, lastP99),
                Rss = (afterWarmUp.RssBytes, end.RssBytes),
                RssAnon = (afterWarmUp.RssAnonBytes, end.RssAnonBytes),
                StoreSize = (afterWarmUp.StoreBytes, end.StoreBytes),
                GcHeap = (afterWarmUp.GcHeapBytes, end.GcHeapBytes),
                GcHeapUnavailable = gcUnavailable,
                Failures = failures,
            };
        }

        private void Error(string kind, string message)
        {
            _errors.AddOrUpdate(kind, 1, (_, n) => n + 1);
            if (_errorExamples.Count < MaxErrorExamples)
            {
                _errorExamples.Enqueue(message);
            }
        }

        private static Pb.ReservationSpec Spec(string url)
        {
            var spec = new Pb.ReservationSpec();
            spec.Selectors.Add(new Pb.Selector { Url = url });
            spec.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
            return spec;
        }
    }
}
