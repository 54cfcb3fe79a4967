using System.Diagnostics;
using System.Globalization;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Integration.Tests.Check;
using OptOutRegistry.Integration.Tests.Registry;
using OptOutRegistry.Server.Hosting;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Hosting;

/// <summary>
/// <c>--keep-cpus-awake</c> with <c>--keep-cpus-awake-method spin</c>: the keep-awake threads of an in-process server,
/// observed the way an operator would, in <c>/proc/self/task/*</c> (name, state, scheduling policy, affinity, CPU time).
/// Only the classes of the <see cref="KeepCpusAwakeCollection"/> start servers with the option, and xunit runs a
/// collection's tests one at a time, so every <c>keep-awake-N</c> thread in the process is the current test's. States rather than CPU time show spinning: a SCHED_IDLE thread gets CPU only when its CPU is
/// otherwise idle, which a busy test machine may never be, but a spinning thread is runnable (R) and a parked one sleeps (S).
/// </summary>
[Collection(KeepCpusAwakeCollection.Name)]
public sealed class KeepCpusAwakeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    // Thread.Join returns when a thread's managed code has ended; the kernel removes its /proc/self/task entry a moment
    // later. Each test starts once the previous test's threads are gone, so the ones it counts are its own.
    public KeepCpusAwakeTests() => _ = KeepAwakeThreadsOnceExited();

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    [InlineData("off")]
    [InlineData("0ms")]
    public async Task Off_by_default_and_when_zero_no_keep_awake_threads(string? value)
    {
        await using var server = await TemporaryServer.StartAsync(value is null ? [] : ["--keep-cpus-awake", value]);
        await CheckAsync(server.GrpcAddress, "https://example.org/a");
        Assert.Empty(KeepAwakeThreads());
    }

    [Fact]
    public async Task On_threads_are_per_cpu_pinned_sched_idle_park_when_idle_spin_while_checks_flow_and_verdicts_stay_right()
    {
        await using var server = await TemporaryServer.StartAsync(["--keep-cpus-awake", "200ms", "--keep-cpus-awake-method", "spin"]);

        // One thread per CPU the process may use, each pinned to its CPU (named after it) and SCHED_IDLE.
        var threads = KeepAwakeThreads();
        var allowed = AllowedCpus();
        Assert.Equal(allowed, threads.Select(t => t.Cpu).Order().ToArray());
        foreach (var thread in threads)
        {
            Assert.Equal(5, thread.Policy); // SCHED_IDLE (linux/sched.h)
            Assert.Equal(thread.Cpu.ToString(CultureInfo.InvariantCulture), thread.CpusAllowed);
        }

        // No check yet: parked, and their CPU time does not grow.
        await WaitForAllParkedAsync("parked before the first check");
        AssertIdleCpu();

        // A check wakes them: each is seen runnable (spinning) while checks keep arriving.
        using var holderless = RegistryClient.Create(server.GrpcAddress);
        var created = await holderless.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Awake Press", ContactEmail = "awake@example.org" });
        using var holder = RegistryClient.Create(server.GrpcAddress, created.ApiKey);
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://example.kz/awake/book.pdf")));
        await CheckRegistryFixture.WaitForVerdictAsync(server.GrpcAddress, "https://example.kz/awake/book.pdf", Pb.Verdict.Disallowed);

        await using (var client = CheckClient.Create(server.GrpcAddress))
        {
            var seenRunning = new HashSet<int>();
            var clock = Stopwatch.StartNew();
            while (seenRunning.Count < threads.Count)
            {
                Assert.True(clock.Elapsed < Patience, $"keep-awake threads never seen spinning while checks flowed: only CPUs {string.Join(",", seenRunning)}");

                // The verdicts with the option on are the verdicts: a covered URL and one nobody reserved.
                var answer = await client.CheckBatchAsync(new Pb.CheckBatchRequest
                {
                    Purpose = Pb.UsageCategory.TrainAi,
                    Subjects = { new Pb.Subject { Url = "https://example.kz/awake/book.pdf" }, new Pb.Subject { Url = "https://example.kz/other.pdf" } },
                });
                Assert.Equal([Pb.Verdict.Disallowed, Pb.Verdict.Unknown], answer.Results.Select(r => r.Verdict));
                foreach (var thread in KeepAwakeThreads())
                {
                    if (thread.State == 'R')
                    {
                        seenRunning.Add(thread.Cpu);
                    }
                }

                await Task.Delay(10);
            }
        }

        // Checks stop: within the 200 ms window (plus this machine's delays) they park again and cost nothing.
        await WaitForAllParkedAsync("parked after the window with no checks");
        AssertIdleCpu();
    }

    [Fact]
    public async Task Stopping_the_server_ends_the_threads()
    {
        var server = await TemporaryServer.StartAsync(["--keep-cpus-awake", "5s", "--keep-cpus-awake-method", "spin"]);
        await CheckAsync(server.GrpcAddress, "https://example.org/spin");
        Assert.Equal(AllowedCpus().Length, KeepAwakeThreads().Count);
        await server.DisposeAsync();
        Assert.Empty(KeepAwakeThreadsOnceExited());
    }

    [Theory]
    [InlineData("-5ms", "it is negative")]
    [InlineData("-1s", "it is negative")]
    [InlineData("abc", "it has no unit")]
    [InlineData("fast ms", "it is not a number with a unit")]
    [InlineData("200", "it has no unit")]
    [InlineData("NaNs", "it is not a number with a unit")]
    [InlineData("20s", "it is longer than the 10 s maximum")]
    [InlineData("10001ms", "it is longer than the 10 s maximum")]
    [InlineData("0.5ms", "a window under 1 ms")]
    public async Task Bad_windows_stop_the_start_with_the_option_and_the_reason(string value, string reason)
    {
        var error = await Assert.ThrowsAsync<FormatException>(() => TemporaryServer.StartAsync(["--keep-cpus-awake", value]));
        Assert.StartsWith($"--keep-cpus-awake: '{value}' is not valid: {reason}", error.Message);
        Assert.Empty(KeepAwakeThreads());
    }

    [Theory]
    [InlineData("200ms", 200)]
    [InlineData("1ms", 1)]
    [InlineData("1.5s", 1500)]
    [InlineData(" 2S ", 2000)]
    [InlineData("10s", 10000)]
    [InlineData("10000ms", 10000)]
    [InlineData("OFF", 0)]
    [InlineData("", 0)]
    public void Windows_parse(string value, int milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), KeepCpusAwakeOptions.ParseWindow(value));

    [Fact]
    public async Task The_real_server_process_refuses_a_bad_window_with_exit_status_2_and_a_one_line_error()
    {
        var data = Path.Combine(Path.GetTempPath(), "optout-awake-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = await Cli.RunAsync(null, null, "serve", "--data-dir", data, "--urls", "http://127.0.0.1:0", "--http-urls", "none", "--keep-cpus-awake=-5ms");
            Assert.Equal(2, result.ExitCode);
            Assert.Equal("optout-server: --keep-cpus-awake: '-5ms' is not valid: it is negative; give a window like 200ms or 2s, or 0 to turn it off", result.StdErr.Trim());
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    /// <summary>cgroup files as the kernel shows them, and the quota <see cref="CpuQuota.Find"/> must read from them.</summary>
    [Theory]
    [InlineData("0::/a/b", "a/cpu.max=50000 100000", 0.5, "a/cpu.max")]
    [InlineData("0::/a/b", "a/b/cpu.max=max 100000", null, null)]
    [InlineData("0::/a/b", "a/cpu.max=300000 100000|a/b/cpu.max=150000 100000", 1.5, "a/b/cpu.max")]
    [InlineData("0::/", "cpu.max=100000 100000", 1.0, "cpu.max")]
    [InlineData("0::/kubepods/pod1", "", null, null)]
    [InlineData("12:memory:/x\n0::/x", "unified/x/cpu.max=25000 100000", 0.25, "unified/x/cpu.max")]
    [InlineData("4:cpu,cpuacct:/docker/c1", "cpu,cpuacct/docker/c1/cpu.cfs_quota_us=150000|cpu,cpuacct/docker/c1/cpu.cfs_period_us=100000", 1.5, "cpu,cpuacct/docker/c1/cpu.cfs_quota_us")]
    [InlineData("4:cpu,cpuacct:/docker/c1", "cpu,cpuacct/docker/c1/cpu.cfs_quota_us=-1|cpu,cpuacct/docker/c1/cpu.cfs_period_us=100000", null, null)]
    [InlineData("1:cpu:/", "cpu/cpu.cfs_quota_us=200000|cpu/cpu.cfs_period_us=100000", 2.0, "cpu/cpu.cfs_quota_us")]
    [InlineData("4:cpu,cpuacct:/docker/c1", "cpu,cpuacct/cpu.cfs_quota_us=50000|cpu,cpuacct/cpu.cfs_period_us=100000", 0.5, "cpu,cpuacct/cpu.cfs_quota_us")]
    public void Cpu_quotas_are_found_in_cgroup_v1_and_v2(string procSelfCgroup, string files, double? cpus, string? file)
    {
        var root = Path.Combine(Path.GetTempPath(), "optout-cgroup-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(root);
            foreach (var entry in files.Split('|', StringSplitOptions.RemoveEmptyEntries))
            {
                var (path, text) = (entry[..entry.IndexOf('=')], entry[(entry.IndexOf('=') + 1)..]);
                var full = Path.Combine(root, path);
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, text + "\n");
            }

            var quota = CpuQuota.Find(procSelfCgroup, root);
            Assert.Equal(cpus, quota?.Cpus);
            Assert.Equal(file is null ? null : Path.Combine(root, file), quota?.File);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    internal static async Task CheckAsync(string address, string url)
    {
        await using var client = CheckClient.Create(address);
        var answer = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { new Pb.Subject { Url = url } } });
        Assert.Equal(Pb.Verdict.Unknown, Assert.Single(answer.Results).Verdict);
    }

    /// <summary>
    /// Waits until every keep-awake thread is parked: sleeping (S) in two looks 250 ms apart (longer than the tests'
    /// 200 ms window) with no CPU time gained in between. One look is not enough: a spinner that returns to managed code
    /// while a garbage collection runs also sleeps (S) until the collection ends, and then spins out the rest of its window.
    /// </summary>
    internal static async Task WaitForAllParkedAsync(string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var threads = KeepAwakeThreads();
            Assert.NotEmpty(threads);
            if (threads.All(t => t.State == 'S'))
            {
                await Task.Delay(250);
                var again = KeepAwakeThreads();
                if (again.All(t => t.State == 'S') && again.Sum(t => t.CpuTicks) == threads.Sum(t => t.CpuTicks))
                {
                    return;
                }
            }

            Assert.True(clock.Elapsed < Patience, $"keep-awake threads not {what}: states {string.Join(",", threads.Select(t => $"{t.Cpu}={t.State}"))}");
            await Task.Delay(20);
        }
    }

    // Parked threads use no CPU: over a second, their user+system time grows by less than 50 ms (5 clock ticks) in all.
    internal static void AssertIdleCpu()
    {
        var before = KeepAwakeThreads();
        Thread.Sleep(1000);
        var after = KeepAwakeThreads();
        var grown = after.Sum(t => t.CpuTicks) - before.Sum(t => t.CpuTicks);
        Assert.True(grown < 5, $"parked keep-awake threads used {grown * 10} ms of CPU in 1 s");
    }

    internal sealed record KeepAwakeThread(int Tid, int Cpu, char State, int Policy, long CpuTicks, string CpusAllowed);

    // /proc/self/task/TID: comm "keep-awake-N"; stat fields (proc(5)) 3 state, 14 utime, 15 stime, 41 policy; status
    // Cpus_allowed_list.
    /// <summary>The keep-awake threads left after waiting up to <see cref="Patience"/> for their OS threads to exit.</summary>
    internal static List<KeepAwakeThread> KeepAwakeThreadsOnceExited()
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Patience.TotalSeconds * Stopwatch.Frequency);
        var threads = KeepAwakeThreads();
        while (threads.Count > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(20);
            threads = KeepAwakeThreads();
        }

        return threads;
    }

    internal static List<KeepAwakeThread> KeepAwakeThreads()
    {
        var threads = new List<KeepAwakeThread>();
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                var comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                // keep-awake-N, N a CPU (the pm-qos controller keep-awake-qos is not one of these).
                if (!comm.StartsWith(KeepCpusAwake.ThreadNamePrefix, StringComparison.Ordinal)
                    || !int.TryParse(comm.AsSpan(KeepCpusAwake.ThreadNamePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    continue;
                }

                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var cpusAllowed = File.ReadAllLines(Path.Combine(task, "status"))
                    .Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim();
                threads.Add(new KeepAwakeThread(
                    int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture),
                    int.Parse(comm[KeepCpusAwake.ThreadNamePrefix.Length..], CultureInfo.InvariantCulture),
                    fields[0][0],
                    int.Parse(fields[41 - 3], CultureInfo.InvariantCulture),
                    long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture),
                    cpusAllowed));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The thread ended while we read it.
            }
        }

        return threads;
    }

    // The CPUs this process may use, from /proc/self/status (e.g. "0-1" or "0,2-3").
    internal static int[] AllowedCpus()
    {
        var list = File.ReadAllLines("/proc/self/status")
            .Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim();
        var cpus = new List<int>();
        foreach (var range in list.Split(','))
        {
            var dash = range.IndexOf('-');
            var (from, to) = dash < 0
                ? (int.Parse(range, CultureInfo.InvariantCulture), int.Parse(range, CultureInfo.InvariantCulture))
                : (int.Parse(range[..dash], CultureInfo.InvariantCulture), int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture));
            for (var cpu = from; cpu <= to; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }
}

/// <summary>
/// The test classes that start servers with <c>--keep-cpus-awake</c>: one at a time, so the keep-awake threads, the
/// QoS device's open files and its current value that a test observes are its own.
/// </summary>
[CollectionDefinition(Name)]
public sealed class KeepCpusAwakeCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "keep-cpus-awake";
}
