using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// <c>--keep-cpus-awake WINDOW</c> (configuration key <c>keep-cpus-awake</c>): while checks arrive, keep every CPU the
/// process may use from halting, for up to WINDOW after the last check. Off (0) by default.
/// </summary>
/// <remarks>
/// Why: on a virtual machine an idle vCPU halts, and the hypervisor may wake it late; a request arriving on a halted vCPU
/// waits for that wake-up. Measured on the project's 2-vCPU VM (guest cpuidle governor haltpoll with
/// guest_halt_poll_ns=0): with a SCHED_IDLE busy loop per CPU the share of each CPU's time a real-time probe was woken
/// more than 0.5 ms late fell from 0.61-6.27 % to 0.15-0.59 % (docs/latency.md). Two methods
/// (<see cref="KeepCpusAwakeMethod"/>, option <c>--keep-cpus-awake-method</c>): pm-qos holds the kernel's CPU latency
/// QoS request at 0 so the idle loop polls instead of halting (<see cref="KeepCpusAwakePmQos"/>); spin runs a SCHED_IDLE
/// thread per CPU (<see cref="KeepCpusAwake"/>). Either way the price is vCPUs the host sees as busy while checks flow.
/// </remarks>
public sealed record KeepCpusAwakeOptions
{
    /// <summary>The configuration key and, with <c>--</c>, the command-line option.</summary>
    public const string Key = "keep-cpus-awake";

    /// <summary>The longest window accepted: a longer one is almost certainly a unit mistake (e.g. 200s for 200ms).</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(10);

    /// <summary>How long after the last check the CPUs are kept awake; zero: the option is off.</summary>
    public TimeSpan Window { get; init; }

    /// <summary>Whether the option is on.</summary>
    public bool Enabled => Window > TimeSpan.Zero;

    /// <summary>The configuration key and, with <c>--</c>, the command-line option that chooses the method.</summary>
    public const string MethodKey = "keep-cpus-awake-method";

    /// <summary>
    /// Configuration key for the PM QoS device (<see cref="PmQosDevice"/>); not documented for operators: tests point it at
    /// a path that cannot be opened to see what happens where the device is not granted.
    /// </summary>
    public const string PmQosDeviceKey = "keep-cpus-awake-pm-qos-device";

    /// <summary>The kernel's CPU latency QoS device (Documentation/power/pm_qos_interface.rst).</summary>
    public const string DefaultPmQosDevice = "/dev/cpu_dma_latency";

    /// <summary>How the CPUs are kept awake; <see cref="KeepCpusAwakeMethod.Auto"/> by default.</summary>
    public KeepCpusAwakeMethod Method { get; init; }

    /// <summary>The PM QoS device the <see cref="KeepCpusAwakeMethod.PmQos"/> method writes; <see cref="DefaultPmQosDevice"/>.</summary>
    public string PmQosDevice { get; init; } = DefaultPmQosDevice;

    /// <summary>Why <see cref="KeepCpusAwakeMethod.Auto"/> chose spin (the QoS device could not be opened); null otherwise.</summary>
    public string? AutoFallbackReason { get; init; }

    /// <summary>
    /// Parses a method: <c>auto</c> (default, also for a null or empty value), <c>pm-qos</c> or <c>spin</c>, any case.
    /// </summary>
    /// <exception cref="FormatException">Anything else; the message names the option and the values it takes.</exception>
    public static KeepCpusAwakeMethod ParseMethod(string? value)
    {
        var text = value?.Trim() ?? string.Empty;
        if (text.Length == 0 || string.Equals(text, "auto", StringComparison.OrdinalIgnoreCase))
        {
            return KeepCpusAwakeMethod.Auto;
        }

        if (string.Equals(text, "pm-qos", StringComparison.OrdinalIgnoreCase))
        {
            return KeepCpusAwakeMethod.PmQos;
        }

        if (string.Equals(text, "spin", StringComparison.OrdinalIgnoreCase))
        {
            return KeepCpusAwakeMethod.Spin;
        }

        throw new FormatException($"--{MethodKey}: '{value}' is not valid: give auto, pm-qos or spin");
    }

    /// <summary>
    /// Parses a window: <c>0</c> or <c>off</c> (off), or a number with a unit, <c>ms</c> or <c>s</c> (<c>200ms</c>,
    /// <c>1.5s</c>), from 1 ms to <see cref="MaxWindow"/>. A null or empty value is off.
    /// </summary>
    /// <exception cref="FormatException">The value is not one of those; the message names the option and the reason.</exception>
    public static TimeSpan ParseWindow(string? value)
    {
        var text = value?.Trim() ?? string.Empty;
        if (text.Length == 0 || text == "0" || string.Equals(text, "off", StringComparison.OrdinalIgnoreCase))
        {
            return TimeSpan.Zero;
        }

        double scale;
        string number;
        if (text.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
        {
            (scale, number) = (1, text[..^2]);
        }
        else if (text.EndsWith('s') || text.EndsWith('S'))
        {
            (scale, number) = (1000, text[..^1]);
        }
        else
        {
            throw Invalid(value, "it has no unit; give a window like 200ms or 2s, or 0 to turn it off");
        }

        if (!double.TryParse(number.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)
            || !double.IsFinite(amount))
        {
            throw Invalid(value, "it is not a number with a unit; give a window like 200ms or 2s, or 0 to turn it off");
        }

        var milliseconds = amount * scale;
        if (milliseconds < 0)
        {
            throw Invalid(value, "it is negative; give a window like 200ms or 2s, or 0 to turn it off");
        }

        if (milliseconds == 0)
        {
            return TimeSpan.Zero;
        }

        if (milliseconds < 1)
        {
            throw Invalid(value, "a window under 1 ms would park the threads between two checks; give at least 1ms");
        }

        if (milliseconds > MaxWindow.TotalMilliseconds)
        {
            throw Invalid(value, $"it is longer than the {MaxWindow.TotalSeconds:F0} s maximum (the threads would keep the CPUs busy that long after the last check)");
        }

        return TimeSpan.FromMilliseconds(milliseconds);
    }

    private static FormatException Invalid(string? value, string reason) => new($"--{Key}: '{value}' is not valid: {reason}");
}

/// <summary>
/// The spin method of <c>--keep-cpus-awake</c> (<c>--keep-cpus-awake-method spin</c>, or auto without the PM QoS
/// device): one thread per CPU the process may use, pinned to it, SCHED_IDLE, named <c>keep-awake-N</c> (N the CPU) so
/// they are recognisable in <c>/proc/PID/task/*/comm</c>. Each spins while the last check (<see cref="CheckActivity"/>)
/// is less than the window old, then parks until the next check.
/// </summary>
public sealed partial class KeepCpusAwake : IHostedService, IDisposable
{
    /// <summary>The threads' name before the CPU number.</summary>
    public const string ThreadNamePrefix = "keep-awake-";

    // Thread.SpinWait from 1,024 iterations on leaves managed code for its loop (the runtime's SpinWaitCoopThreshold), so
    // a garbage collection never waits for a spinner: a spinner that is SCHED_IDLE and pinned could be starved for a long
    // time by busy request threads on its CPU, and a collection that had to wait for it would stall every request thread.
    // Each slice is tens of microseconds of PAUSE instructions (measured in docs/latency.md), so the window and a stop
    // are noticed that quickly. A plain managed loop without PAUSE would dodge pause-loop exits but is compiled fully
    // interruptible in cooperative mode, so a collection must interrupt the thread, which a starved SCHED_IDLE thread
    // handles only when it runs: measured, gen-0 collections went from 0.3 to 3.9-8 ms median and up to 1.26 s
    // (benchmarks/OptOutRegistry.Benchmarks.Hosting/RESULTS.md, round eight), with no gain seen from leaving PAUSE out.
    private const int SliceIterations = 1024;

    private readonly KeepCpusAwakeOptions _options;
    private readonly CheckActivity _activity;
    private readonly ILogger<KeepCpusAwake> _log;
    private readonly int[] _cpus;
    private Thread[] _threads = [];

    /// <summary>Creates the service; the threads start in <see cref="StartAsync"/>.</summary>
    public KeepCpusAwake(KeepCpusAwakeOptions options, CheckActivity activity, ILogger<KeepCpusAwake> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _activity = activity;
        _log = log;
        _cpus = OperatingSystem.IsLinux() ? KeepAwakeNative.AllowedCpus() : [];
    }

    /// <summary>
    /// Checks at start-up that the option can work here: Linux, the process's CPUs readable, SCHED_IDLE allowed (tried on a
    /// short-lived thread). Spinning at normal priority would take CPU from request threads, so there is no fallback.
    /// </summary>
    /// <exception cref="ArgumentException">The option cannot be honoured; the message names it and the reason.</exception>
    public static void EnsureSupported()
    {
        const string option = "--" + KeepCpusAwakeOptions.Key;
        if (!OperatingSystem.IsLinux())
        {
            throw new ArgumentException($"{option}: needs Linux (SCHED_IDLE threads pinned with sched_setaffinity); this is {RuntimeInformation.OSDescription}. Leave it off here.");
        }

        try
        {
            _ = KeepAwakeNative.AllowedCpus();
        }
        catch (InvalidOperationException ex)
        {
            throw new ArgumentException($"{option}: cannot read the CPUs this process may use: {ex.Message}");
        }

        var errno = 0;
        var probe = new Thread(() => errno = KeepAwakeNative.SchedIdleCallingThread()) { IsBackground = true, Name = "keep-awake-probe" };
        probe.Start();
        probe.Join();
        if (errno != 0)
        {
            throw new ArgumentException(
                $"{option}: the kernel refused SCHED_IDLE for a thread ({KeepAwakeNative.Describe(errno)}); at normal priority the spinning threads would slow request threads, so the server does not start with this option. Leave it off here.");
        }

        CpuQuota.EnsureNone(option);
    }

    /// <summary>The CPUs the threads are pinned to, one thread each.</summary>
    public IReadOnlyList<int> Cpus => _cpus;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var failures = new string?[_cpus.Length];
        // Not disposed here: if the start is cancelled while a thread is still setting itself up, that thread's Signal
        // must not meet a disposed event (an exception on a background thread ends the process).
        var ready = new CountdownEvent(_cpus.Length);
        var windowTicks = (long)(_options.Window.TotalSeconds * Stopwatch.Frequency);
        _threads = new Thread[_cpus.Length];
        for (var i = 0; i < _cpus.Length; i++)
        {
            var index = i;
            _threads[i] = new Thread(() => Run(_cpus[index], windowTicks, failures, index, ready))
            {
                IsBackground = true,
                Name = ThreadNamePrefix + _cpus[i].ToString(CultureInfo.InvariantCulture),
            };
            _threads[i].Start();
        }

        ready.Wait(cancellationToken);
        var failed = Array.FindAll(failures, f => f is not null);
        if (failed.Length > 0)
        {
            Stop();
            throw new InvalidOperationException($"--{KeepCpusAwakeOptions.Key}: {string.Join("; ", failed)}");
        }

        LogStarted(_log, _cpus.Length, (long)_options.Window.TotalMilliseconds,
            _options.AutoFallbackReason is { } reason ? "auto, pm-qos unavailable: " + reason : "spin");
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        Stop();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => Stop();

    private void Stop()
    {
        _activity.Stop();
        foreach (var thread in _threads)
        {
            // A spinner notices within one slice; a parked one is woken by Stop.
            thread.Join();
        }

        _threads = [];
    }

    private void Run(int cpu, long windowTicks, string?[] failures, int index, CountdownEvent ready)
    {
        // Pinned first, then SCHED_IDLE: never a moment of spinning at normal priority.
        var errno = KeepAwakeNative.PinCallingThread(cpu);
        if (errno != 0)
        {
            failures[index] = $"cannot pin a thread to CPU {cpu}: {KeepAwakeNative.Describe(errno)}";
        }
        else if ((errno = KeepAwakeNative.SchedIdleCallingThread()) != 0)
        {
            failures[index] = $"the kernel refused SCHED_IDLE for the thread of CPU {cpu}: {KeepAwakeNative.Describe(errno)}";
        }

        var seen = _activity.Checks;
        ready.Signal();
        if (failures[index] is not null)
        {
            return;
        }

        // Parked until the first check; then spin until a whole window passes with no new check, and park again.
        while (_activity.Park(seen))
        {
            seen = _activity.Checks;
            var windowEnd = Stopwatch.GetTimestamp() + windowTicks;
            while (true)
            {
                Thread.SpinWait(SliceIterations);
                if (_activity.IsStopping)
                {
                    return;
                }

                var checks = _activity.Checks;
                var now = Stopwatch.GetTimestamp();
                if (checks != seen)
                {
                    seen = checks;
                    windowEnd = now + windowTicks;
                }
                else if (now >= windowEnd)
                {
                    break;
                }
            }
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "keep-cpus-awake: method spin ({Threads} SCHED_IDLE threads, one per CPU, spin for {WindowMs} ms after each check; method option {Choice})")]
    private static partial void LogStarted(ILogger logger, int threads, long windowMs, string choice);
}

/// <summary>Registers <c>--keep-cpus-awake</c> and <c>--keep-cpus-awake-method</c>.</summary>
public static class KeepCpusAwakeExtensions
{
    /// <summary>
    /// Adds <see cref="CheckActivity"/> (always: the check path signals it) and, when <c>keep-cpus-awake</c> is set to a
    /// window, the keep-awake service of the method <c>keep-cpus-awake-method</c> chooses, after checking that it can work
    /// here: <see cref="KeepCpusAwakePmQos"/> (pm-qos; auto when the QoS device can be opened for writing) or
    /// <see cref="KeepCpusAwake"/> (spin; auto otherwise).
    /// </summary>
    /// <exception cref="FormatException">The window or the method is not valid.</exception>
    /// <exception cref="ArgumentException">The option is on but cannot be honoured on this system.</exception>
    public static IServiceCollection AddKeepCpusAwake(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new KeepCpusAwakeOptions
        {
            Window = KeepCpusAwakeOptions.ParseWindow(configuration[KeepCpusAwakeOptions.Key]),
            // Parsed even when the option is off, so a misspelt method is reported rather than ignored.
            Method = KeepCpusAwakeOptions.ParseMethod(configuration[KeepCpusAwakeOptions.MethodKey]),
            PmQosDevice = configuration[KeepCpusAwakeOptions.PmQosDeviceKey] is { Length: > 0 } device ? device : KeepCpusAwakeOptions.DefaultPmQosDevice,
        };
        services.AddSingleton(new CheckActivity());
        if (!options.Enabled)
        {
            return services;
        }

        const string method = "--" + KeepCpusAwakeOptions.MethodKey;
        switch (options.Method)
        {
            case KeepCpusAwakeMethod.PmQos:
                if (KeepCpusAwakePmQos.Probe(options.PmQosDevice) is { } reason)
                {
                    throw new ArgumentException(
                        $"{method} pm-qos: {reason}; it needs root or write access to the device (a container: --device {options.PmQosDevice}; a systemd unit: DeviceAllow={options.PmQosDevice} w). Use {method} spin, or auto to fall back to spin.");
                }

                services.AddSingleton(options).AddHostedService<KeepCpusAwakePmQos>();
                break;
            case KeepCpusAwakeMethod.Spin:
                KeepCpusAwake.EnsureSupported();
                services.AddSingleton(options).AddHostedService<KeepCpusAwake>();
                break;
            default:
                if (KeepCpusAwakePmQos.Probe(options.PmQosDevice) is not { } unavailable)
                {
                    services.AddSingleton(options).AddHostedService<KeepCpusAwakePmQos>();
                    break;
                }

                try
                {
                    KeepCpusAwake.EnsureSupported();
                }
                catch (ArgumentException ex)
                {
                    throw new ArgumentException($"{method} auto: pm-qos: {unavailable}; spin: {ex.Message}", ex);
                }

                services.AddSingleton(options with { AutoFallbackReason = unavailable }).AddHostedService<KeepCpusAwake>();
                break;
        }

        return services;
    }
}
