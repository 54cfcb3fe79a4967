using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Server.Hosting;

/// <summary>How <c>--keep-cpus-awake</c> keeps the CPUs from halting (<c>--keep-cpus-awake-method</c>).</summary>
public enum KeepCpusAwakeMethod
{
    /// <summary><see cref="PmQos"/> when the PM QoS device can be opened for writing, else <see cref="Spin"/>.</summary>
    Auto,

    /// <summary>
    /// A CPU latency request of 0 µs held on <c>/dev/cpu_dma_latency</c> while checks arrive: the kernel's idle loop polls
    /// instead of halting (<see cref="KeepCpusAwakePmQos"/>). No thread spins.
    /// </summary>
    PmQos,

    /// <summary>One SCHED_IDLE thread per CPU spins while checks arrive (<see cref="KeepCpusAwake"/>).</summary>
    Spin,
}

/// <summary>
/// The <c>pm-qos</c> method of <c>--keep-cpus-awake</c>: one controller thread, <c>keep-awake-qos</c>, holds a CPU latency
/// QoS request of 0 µs (Documentation/power/pm_qos_interface.rst: write a 32-bit value to <c>/dev/cpu_dma_latency</c>,
/// keep the file open) while the last check is less than the window old, and lifts it (writes the "no constraint"
/// value, keeps the file open) after a whole window without one; it is parked, not spinning, while the server is idle.
/// </summary>
/// <remarks>
/// With a request of 0 every cpuidle governor may only choose the POLL state (its exit latency is 0; haltpoll and menu
/// return state 0 when the latency limit is 0; that is x86: elsewhere state 0 is the shallowest hardware state), so an idle CPU runs the kernel's poll loop with TIF_POLLING_NRFLAG set
/// instead of halting: a wake-up from another CPU then needs no IPI (the poller sees need_resched), and the hypervisor
/// has no halted vCPU to wake. The kernel drops the request when the file is closed, so a crashed server leaves nothing
/// behind. The poll loop is idle time: it is charged to no cgroup, and no thread of this process runs for it.
/// </remarks>
public sealed partial class KeepCpusAwakePmQos : IHostedService, IDisposable
{
    /// <summary>The controller thread's name (<c>/proc/PID/task/*/comm</c>).</summary>
    public const string ThreadName = "keep-awake-qos";

    private readonly KeepCpusAwakeOptions _options;
    private readonly CheckActivity _activity;
    private readonly ILogger<KeepCpusAwakePmQos> _log;
    private PmQosRequest? _request;
    private Thread? _thread;

    /// <summary>Creates the service; the device is opened and the thread started in <see cref="StartAsync"/>.</summary>
    public KeepCpusAwakePmQos(KeepCpusAwakeOptions options, CheckActivity activity, ILogger<KeepCpusAwakePmQos> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _activity = activity;
        _log = log;
    }

    /// <summary>Null when <paramref name="device"/> can be opened for writing; else the reason (errno text).</summary>
    public static string? Probe(string device)
    {
        if (!OperatingSystem.IsLinux())
        {
            return $"needs Linux (the kernel's CPU latency QoS device {device}); this is {RuntimeInformation.OSDescription}";
        }

        var fd = KeepAwakeNative.OpenForWriting(device, out var errno);
        if (fd < 0)
        {
            return $"cannot open {device} for writing: {KeepAwakeNative.Describe(errno)}";
        }

        // Opening added a request with the default value (no constraint); closing removes it.
        KeepAwakeNative.Close(fd);
        return null;
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _request = PmQosRequest.Open(_options.PmQosDevice);
        var windowTicks = (long)(_options.Window.TotalSeconds * Stopwatch.Frequency);
        // The controller looks at the counter every quarter window, but at most every 250 ms (and at least every 1 ms):
        // the request is lifted between one window and one window plus that slice after the last check, and this thread
        // wakes at most 4 times per window (at most 4 times a second for long windows) while checks flow.
        var slice = TimeSpan.FromTicks(Math.Clamp(_options.Window.Ticks / 4, TimeSpan.TicksPerMillisecond, 250 * TimeSpan.TicksPerMillisecond));
        var request = _request;
        _thread = new Thread(() => Run(request, windowTicks, slice)) { IsBackground = true, Name = ThreadName };
        _thread.Start();
        LogStarted(_log, _options.PmQosDevice, (long)_options.Window.TotalMilliseconds, _options.Method == KeepCpusAwakeMethod.Auto ? "auto" : "pm-qos");
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
        _thread?.Join();
        _thread = null;
        // Closing drops the request whatever its value (the kernel removes it in the device's release).
        _request?.Dispose();
        _request = null;
    }

    private void Run(PmQosRequest request, long windowTicks, TimeSpan slice)
    {
        var seen = _activity.Checks;
        while (_activity.Park(seen))
        {
            if (!TrySet(request, 0))
            {
                return;
            }

            seen = _activity.Checks;
            var lastChange = Stopwatch.GetTimestamp();
            while (true)
            {
                if (_activity.WaitForStop(slice))
                {
                    return;
                }

                var checks = _activity.Checks;
                var now = Stopwatch.GetTimestamp();
                if (checks != seen)
                {
                    seen = checks;
                    lastChange = now;
                }
                else if (now - lastChange >= windowTicks)
                {
                    break;
                }
            }

            if (!TrySet(request, PmQosRequest.NoConstraint))
            {
                return;
            }
        }
    }

    // A write to an open QoS file fails only for a malformed value; should it fail anyway, say so once and stop the
    // controller (an exception on this background thread would end the process). Closing the file drops the request.
    private bool TrySet(PmQosRequest request, int microseconds)
    {
        var errno = request.Set(microseconds);
        if (errno == 0)
        {
            return true;
        }

        LogWriteFailed(_log, _options.PmQosDevice, microseconds, KeepAwakeNative.Describe(errno));
        return false;
    }

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "keep-cpus-awake: method pm-qos ({Device} held at 0 us while checks arrive, lifted {WindowMs} ms after the last; method option {Choice})")]
    private static partial void LogStarted(ILogger logger, string device, long windowMs, string choice);

    [LoggerMessage(EventId = 42, Level = LogLevel.Error, Message = "keep-cpus-awake: writing {Value} us to {Device} failed ({Reason}); the controller stops and the CPUs halt as by default")]
    private static partial void LogWriteFailed(ILogger logger, string device, int value, string reason);
}

/// <summary>One open CPU latency QoS request (an open <c>/dev/cpu_dma_latency</c>); disposing closes it, dropping the request.</summary>
internal sealed class PmQosRequest : IDisposable
{
    /// <summary>
    /// The CPU latency QoS default, PM_QOS_CPU_LATENCY_DEFAULT_VALUE (2000 s in µs, include/linux/pm_qos.h): a request of
    /// this value constrains nothing.
    /// </summary>
    public const int NoConstraint = 2_000_000_000;

    private int _fd;

    private PmQosRequest(int fd) => _fd = fd;

    /// <summary>Opens <paramref name="device"/> for writing (a new request at the default value).</summary>
    /// <exception cref="InvalidOperationException">It cannot be opened; the message names the option, the device and errno.</exception>
    public static PmQosRequest Open(string device)
    {
        var fd = KeepAwakeNative.OpenForWriting(device, out var errno);
        return fd < 0
            ? throw new InvalidOperationException($"--{KeepCpusAwakeOptions.Key}: cannot open {device} for writing: {KeepAwakeNative.Describe(errno)}")
            : new PmQosRequest(fd);
    }

    /// <summary>Sets the request to <paramref name="microseconds"/>; 0 on success, else errno.</summary>
    public int Set(int microseconds)
    {
        // The device takes the value as a native-endian s32 (cpu_latency_qos_write reads 4 bytes as binary).
        Span<byte> value = stackalloc byte[sizeof(int)];
        if (BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteInt32LittleEndian(value, microseconds);
        }
        else
        {
            BinaryPrimitives.WriteInt32BigEndian(value, microseconds);
        }

        return KeepAwakeNative.Write(_fd, value);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            KeepAwakeNative.Close(fd);
        }
    }
}
