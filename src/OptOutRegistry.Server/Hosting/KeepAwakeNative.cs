using System.Runtime.InteropServices;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The Linux calls of <c>--keep-cpus-awake</c>: for the spin method (<see cref="KeepCpusAwake"/>) which CPUs the process
/// may use, pinning the calling thread to one, and putting it in SCHED_IDLE (pid 0 in these calls means the calling
/// thread, sched(7)); for the pm-qos method (<see cref="KeepCpusAwakePmQos"/>) open, write and close of the QoS device.
/// </summary>
internal static class KeepAwakeNative
{
    /// <summary>SCHED_IDLE (sched(7), linux/sched.h): runs only when its CPU has nothing else to run.</summary>
    public const int SchedIdle = 5;

    // A cpu_set_t of 1,024 CPUs (glibc's CPU_SETSIZE), doubled when the kernel says it has more (EINVAL).
    private const int InitialMaskBytes = 128;
    private const int MaxMaskBytes = 1 << 16;
    private const int EInval = 22;
    private const int EIntr = 4;

    // fcntl.h, the same on x86-64 and arm64.
    private const int OWriteOnly = 1;
    private const int OCloseOnExec = 0x80000;

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int SchedGetAffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SchedSetScheduler(int pid, int policy, ref int priority);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    private static extern nint WriteFile(int fd, ref byte buffer, nuint count);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int CloseFile(int fd);

    /// <summary>open(2) with O_WRONLY | O_CLOEXEC: the descriptor, or -1 with <paramref name="errno"/> set.</summary>
    public static int OpenForWriting(string path, out int errno)
    {
        int fd;
        do
        {
            fd = OpenFile(path, OWriteOnly | OCloseOnExec);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        while (fd < 0 && errno == EIntr);

        return fd;
    }

    /// <summary>write(2) of all of <paramref name="bytes"/> in one call: 0, or errno (EIO for a short write).</summary>
    public static int Write(int fd, ReadOnlySpan<byte> bytes)
    {
        while (true)
        {
            var written = WriteFile(fd, ref MemoryMarshal.GetReference(bytes), (nuint)bytes.Length);
            if (written == bytes.Length)
            {
                return 0;
            }

            var errno = written < 0 ? Marshal.GetLastPInvokeError() : 5;
            if (errno != EIntr)
            {
                return errno;
            }
        }
    }

    /// <summary>close(2); errors are ignored (the descriptor is gone either way on Linux).</summary>
    public static void Close(int fd) => _ = CloseFile(fd);

    /// <summary>The CPUs this process may run on (sched_getaffinity of the process), ascending.</summary>
    /// <exception cref="InvalidOperationException">The call failed; the message names errno.</exception>
    public static int[] AllowedCpus()
    {
        for (var bytes = InitialMaskBytes; bytes <= MaxMaskBytes; bytes *= 2)
        {
            var mask = new byte[bytes];
            if (SchedGetAffinity(Environment.ProcessId, (nuint)bytes, mask) == 0)
            {
                var cpus = new List<int>();
                for (var i = 0; i < bytes * 8; i++)
                {
                    if ((mask[i >> 3] & (1 << (i & 7))) != 0)
                    {
                        cpus.Add(i);
                    }
                }

                return [.. cpus];
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EInval)
            {
                throw new InvalidOperationException($"sched_getaffinity failed: {Describe(errno)}");
            }
        }

        throw new InvalidOperationException("sched_getaffinity failed: the kernel's CPU mask is larger than 524,288 CPUs");
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/>; the errno on failure, else 0.</summary>
    public static int PinCallingThread(int cpu)
    {
        var mask = new byte[Math.Max(InitialMaskBytes, (cpu / 8) + 1)];
        mask[cpu >> 3] = (byte)(1 << (cpu & 7));
        return SchedSetAffinity(0, (nuint)mask.Length, mask) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Puts the calling thread in SCHED_IDLE (priority 0, as the policy requires); the errno on failure, else 0.</summary>
    public static int SchedIdleCallingThread()
    {
        var priority = 0;
        return SchedSetScheduler(0, SchedIdle, ref priority) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>"errno N (message)" for an error message.</summary>
    public static string Describe(int errno) => $"errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})";
}
