using System.Runtime.InteropServices;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The Linux calls of <c>--keep-cpus-awake</c> (<see cref="KeepCpusAwake"/>): which CPUs the process may use, pinning the
/// calling thread to one, and putting it in SCHED_IDLE. pid 0 in these calls means the calling thread (sched(7)).
/// </summary>
internal static class KeepAwakeNative
{
    /// <summary>SCHED_IDLE (sched(7), linux/sched.h): runs only when its CPU has nothing else to run.</summary>
    public const int SchedIdle = 5;

    // A cpu_set_t of 1,024 CPUs (glibc's CPU_SETSIZE), doubled when the kernel says it has more (EINVAL).
    private const int InitialMaskBytes = 128;
    private const int MaxMaskBytes = 1 << 16;
    private const int EInval = 22;

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int SchedGetAffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nuint size, byte[] mask);

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SchedSetScheduler(int pid, int policy, ref int priority);

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
