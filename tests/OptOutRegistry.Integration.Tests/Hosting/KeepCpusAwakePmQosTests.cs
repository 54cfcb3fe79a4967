using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Server.Hosting;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Hosting;

/// <summary>
/// <c>--keep-cpus-awake-method</c>, and the pm-qos method observed the way an operator would: the server's open file on
/// <c>/dev/cpu_dma_latency</c> (<c>/proc/self/fd</c>), the CPU latency limit the kernel applies (reading the device gives
/// it), and what the CPUs' idle states did (<c>/sys/devices/system/cpu/cpuN/cpuidle/stateM/{name,usage,time}</c>). CI runs
/// as root, so the device is writable there; where it is not, auto must choose spin, and that is what is asserted.
/// </summary>
[Collection(KeepCpusAwakeCollection.Name)]
public sealed class KeepCpusAwakePmQosTests
{
    private const string Device = KeepCpusAwakeOptions.DefaultPmQosDevice;
    private const int NoConstraint = 2_000_000_000; // PM_QOS_CPU_LATENCY_DEFAULT_VALUE (include/linux/pm_qos.h)
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    public KeepCpusAwakePmQosTests() => _ = KeepCpusAwakeTests.KeepAwakeThreadsOnceExited();

    [Fact]
    public async Task Auto_holds_the_latency_request_at_0_while_checks_flow_so_cpus_poll_and_lifts_it_after_the_window()
    {
        var logs = new CapturingLogs();
        if (KeepCpusAwakePmQos.Probe(Device) is { } unavailable)
        {
            // Not root here: auto falls back to the spinners, and says why.
            await using var fallback = await TemporaryServer.StartAsync(["--keep-cpus-awake", "200ms"], logging: logs);
            Assert.Equal(KeepCpusAwakeTests.AllowedCpus().Length, KeepCpusAwakeTests.KeepAwakeThreads().Count);
            Assert.Contains(logs.Lines, l => l.Contains("method spin", StringComparison.Ordinal) && l.Contains(unavailable, StringComparison.Ordinal));
            return;
        }

        Assert.True(ReadLimit() == NoConstraint,
            $"another process holds a CPU latency request ({Device} reads {ReadLimit()} us): this test needs the machine without one");
        await using var server = await TemporaryServer.StartAsync(["--keep-cpus-awake", "500ms"], logging: logs);

        // The method: one controller thread, no spinners, the device open, and the log says so.
        Assert.Contains(logs.Lines, l => l.Contains("method pm-qos", StringComparison.Ordinal) && l.Contains("method option auto", StringComparison.Ordinal));
        Assert.Empty(KeepCpusAwakeTests.KeepAwakeThreads());
        Assert.Equal(1, OpenDeviceFiles());
        var controller = Controller();
        Assert.NotNull(controller);

        // No check yet (the server's own start-up warm-up checks are not counted): the request is at "no constraint" and
        // the controller is parked.
        await WaitForLimitAsync(NoConstraint, "lifted before the first check");
        await WaitForControllerParkedAsync();

        using var flowing = new CancellationTokenSource();
        var flow = FlowAsync(server.GrpcAddress, flowing.Token);
        await WaitForLimitAsync(0, "held at 0 while checks flow");
        await Task.Delay(100);
        var before = IdleStates();
        await Task.Delay(1000);
        var after = IdleStates();
        Assert.Equal(0, ReadLimit());
        Assert.False(flow.IsCompleted, "the checks stopped flowing early");

        // Held: no CPU entered any state but POLL, and whatever idle time there was (little, if others keep the CPUs
        // busy) was spent polling.
        foreach (var (cpu, states) in after)
        {
            var deeper = states.Where(s => s.Name != "POLL").Sum(s => s.Usage) - before[cpu].Where(s => s.Name != "POLL").Sum(s => s.Usage);
            Assert.True(deeper <= 2, $"CPU {cpu} entered a non-POLL idle state {deeper} times in 1 s while the request was held");
            var idle = states.Sum(s => s.TimeUs) - before[cpu].Sum(s => s.TimeUs);
            var polled = states.Single(s => s.Name == "POLL").TimeUs - before[cpu].Single(s => s.Name == "POLL").TimeUs;
            Assert.True(polled >= (idle * 0.9) - 20_000, $"CPU {cpu} polled {polled} us of {idle} us idle while the request was held");
        }

        // Checks stop: after the 500 ms window (plus up to 125 ms of looking, plus this machine's delays) the request is lifted,
        // the file stays open, the CPUs may halt again, and the parked controller costs nothing.
        await flowing.CancelAsync();
        await flow;
        var stopped = Stopwatch.StartNew();
        await WaitForLimitAsync(NoConstraint, "lifted after the window with no checks");
        // Not before the window: the clock started a little after the last check (its answer, the cancelled delay), so
        // 300 ms leaves that room on a loaded machine and still fails a controller that lifts at once.
        Assert.True(stopped.Elapsed >= TimeSpan.FromMilliseconds(300), $"lifted {stopped.ElapsedMilliseconds} ms after the last check, before the 500 ms window");
        Assert.Equal(1, OpenDeviceFiles());
        before = IdleStates();
        var controllerBefore = Controller()!.Value;
        await Task.Delay(1000);
        after = IdleStates();
        foreach (var (cpu, states) in after)
        {
            var polled = states.Single(s => s.Name == "POLL").TimeUs - before[cpu].Single(s => s.Name == "POLL").TimeUs;
            Assert.True(polled < 300_000, $"CPU {cpu} still polled {polled} us in 1 s after the request was lifted");
        }

        Assert.True(Controller()!.Value.CpuTicks - controllerBefore.CpuTicks < 5, "the parked controller used CPU");
        await WaitForControllerParkedAsync();

        // The next check holds it again.
        await KeepCpusAwakeTests.CheckAsync(server.GrpcAddress, "https://example.org/again");
        await WaitForLimitAsync(0, "held again by the next check");

        // Disposing the server closes the file: no request is left behind.
        await server.DisposeAsync();
        Assert.Equal(0, OpenDeviceFiles());
        Assert.Equal(NoConstraint, ReadLimit());
        Assert.Null(Controller());
    }

    [Fact]
    public async Task Explicit_pm_qos_where_the_device_cannot_be_opened_stops_the_start_naming_the_option_and_errno()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => TemporaryServer.StartAsync(
            ["--keep-cpus-awake", "1s", "--keep-cpus-awake-method", "pm-qos", "--keep-cpus-awake-pm-qos-device", "/nonexistent/cpu_dma_latency"]));
        Assert.StartsWith(
            "--keep-cpus-awake-method pm-qos: cannot open /nonexistent/cpu_dma_latency for writing: errno 2 (No such file or directory); it needs root or write access to the device",
            error.Message);
        Assert.Null(Controller());
    }

    [Fact]
    public async Task Auto_where_the_device_cannot_be_opened_falls_back_to_spin_and_logs_why()
    {
        var logs = new CapturingLogs();
        await using var server = await TemporaryServer.StartAsync(
            ["--keep-cpus-awake", "200ms", "--keep-cpus-awake-pm-qos-device", "/nonexistent/cpu_dma_latency"], logging: logs);
        Assert.Equal(KeepCpusAwakeTests.AllowedCpus(), KeepCpusAwakeTests.KeepAwakeThreads().Select(t => t.Cpu).Order().ToArray());
        Assert.Null(Controller());
        Assert.Contains(logs.Lines, l => l.Contains("method spin", StringComparison.Ordinal)
            && l.Contains("auto, pm-qos unavailable: cannot open /nonexistent/cpu_dma_latency for writing: errno 2 (No such file or directory)", StringComparison.Ordinal));

        // And the spinners spin on a check, as with method spin.
        await KeepCpusAwakeTests.CheckAsync(server.GrpcAddress, "https://example.org/fallback");
        await KeepCpusAwakeTests.WaitForAllParkedAsync("parked after the window with no checks");
    }

    [Fact]
    public async Task The_real_server_process_refuses_explicit_pm_qos_without_the_device_with_exit_status_2_and_one_line()
    {
        var data = Path.Combine(Path.GetTempPath(), "optout-qos-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = await Cli.RunAsync(null, null, "serve", "--data-dir", data, "--urls", "http://127.0.0.1:0", "--http-urls", "none",
                "--keep-cpus-awake", "1s", "--keep-cpus-awake-method", "pm-qos", "--keep-cpus-awake-pm-qos-device", "/nonexistent/cpu_dma_latency");
            Assert.Equal(2, result.ExitCode);
            var line = Assert.Single(result.StdErr.Trim().Split('\n'));
            Assert.StartsWith("optout-server: --keep-cpus-awake-method pm-qos: cannot open /nonexistent/cpu_dma_latency for writing: errno 2 (No such file or directory);", line);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("fast", "1s")]
    [InlineData("pmqos", "1s")]
    [InlineData("spinning", "0")]
    [InlineData("qos", null)]
    public async Task Bad_methods_stop_the_start_with_the_option_and_the_values_even_with_the_option_off(string value, string? window)
    {
        string[] args = window is null ? ["--keep-cpus-awake-method", value] : ["--keep-cpus-awake", window, "--keep-cpus-awake-method", value];
        var error = await Assert.ThrowsAsync<FormatException>(() => TemporaryServer.StartAsync(args));
        Assert.Equal($"--keep-cpus-awake-method: '{value}' is not valid: give auto, pm-qos or spin", error.Message);
        Assert.Empty(KeepCpusAwakeTests.KeepAwakeThreads());
        Assert.Null(Controller());
    }

    [Theory]
    [InlineData(null, KeepCpusAwakeMethod.Auto)]
    [InlineData("", KeepCpusAwakeMethod.Auto)]
    [InlineData("auto", KeepCpusAwakeMethod.Auto)]
    [InlineData(" AUTO ", KeepCpusAwakeMethod.Auto)]
    [InlineData("pm-qos", KeepCpusAwakeMethod.PmQos)]
    [InlineData("PM-QoS", KeepCpusAwakeMethod.PmQos)]
    [InlineData("spin", KeepCpusAwakeMethod.Spin)]
    public void Methods_parse(string? value, KeepCpusAwakeMethod method) => Assert.Equal(method, KeepCpusAwakeOptions.ParseMethod(value));

    // 10 checks every 20 ms: about 500 a second, until cancelled.
    private static async Task FlowAsync(string address, CancellationToken cancel)
    {
        await using var client = CheckClient.Create(address);
        while (!cancel.IsCancellationRequested)
        {
            var answer = await client.CheckBatchAsync(new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { new Pb.Subject { Url = "https://example.org/flow" } } });
            Assert.Equal(Pb.Verdict.Unknown, Assert.Single(answer.Results).Verdict);
            try
            {
                await Task.Delay(20, cancel);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task WaitForLimitAsync(int value, string what)
    {
        var clock = Stopwatch.StartNew();
        while (ReadLimit() != value)
        {
            Assert.True(clock.Elapsed < Patience, $"the CPU latency request was not {what}: {Device} reads {ReadLimit()} us");
            await Task.Delay(10);
        }
    }

    private static async Task WaitForControllerParkedAsync()
    {
        var clock = Stopwatch.StartNew();
        while (Controller() is not { State: 'S' })
        {
            Assert.True(clock.Elapsed < Patience, $"the {KeepCpusAwakePmQos.ThreadName} thread is not parked: {Controller()}");
            await Task.Delay(10);
        }
    }

    // Reading the device gives the limit in force, the smallest request of all processes (cpu_latency_qos_read). The
    // open itself adds a request at the default for as long as it is open, which changes nothing.
    private static int ReadLimit()
    {
        using var device = new FileStream(Device, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        Span<byte> value = stackalloc byte[4];
        device.ReadExactly(value);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReadInt32LittleEndian(value) : BinaryPrimitives.ReadInt32BigEndian(value);
    }

    private static int OpenDeviceFiles()
    {
        var count = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == Device)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        return count;
    }

    private readonly record struct ControllerThread(char State, long CpuTicks);

    // The keep-awake-qos thread: stat fields (proc(5)) 3 state, 14 utime, 15 stime.
    private static ControllerThread? Controller()
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != KeepCpusAwakePmQos.ThreadName)
                {
                    continue;
                }

                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return new ControllerThread(fields[0][0],
                    long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture));
            }
            catch (IOException)
            {
                // The thread ended while we read it.
            }
        }

        return null;
    }

    private sealed record IdleState(string Name, long Usage, long TimeUs);

    // Every CPU's idle states (Documentation/admin-guide/pm/cpuidle.rst: usage = times entered, time = µs spent).
    private static Dictionary<int, List<IdleState>> IdleStates()
    {
        var cpus = new Dictionary<int, List<IdleState>>();
        foreach (var cpu in KeepCpusAwakeTests.AllowedCpus())
        {
            var states = new List<IdleState>();
            var directory = $"/sys/devices/system/cpu/cpu{cpu}/cpuidle";
            Assert.True(Directory.Exists(directory), $"{directory} is missing: no cpuidle driver, so there is nothing to observe");
            foreach (var state in Directory.GetDirectories(directory, "state*"))
            {
                states.Add(new IdleState(
                    File.ReadAllText(Path.Combine(state, "name")).Trim(),
                    long.Parse(File.ReadAllText(Path.Combine(state, "usage")), CultureInfo.InvariantCulture),
                    long.Parse(File.ReadAllText(Path.Combine(state, "time")), CultureInfo.InvariantCulture)));
            }

            cpus[cpu] = states;
        }

        return cpus;
    }
}
