namespace OptOutRegistry.Grpc;

/// <summary>
/// Thread-pool headroom for a server hosted inside another program's process (a test host, an application that embeds
/// the registry): call <see cref="Ensure"/> right before starting the server.
/// </summary>
public static class ThreadPoolHeadroom
{
    /// <summary>
    /// Makes the thread pool's minimum cover the worker threads already busy in this process plus one per core, so the
    /// in-process server gets as many free workers as a server process of its own has. A test host parks pool threads for
    /// the whole run (the VSTest message loop polls its socket on one, xunit's runner waits for the assembly on another:
    /// two on every run, seen in stack snapshots), and such waits do not tell the pool it is blocked. On a 2-core machine
    /// that is the whole minimum: once hill climbing settles at the minimum, a new work item (a request's next read, a
    /// timer's continuation, Kestrel's hand-off of a stream) waits for the pool's starvation check to add a thread,
    /// 0.5-1 s, long enough to trip a call's deadline or the server's idle-stream timeout. Only ever raises the minimum;
    /// in a process of its own (nothing busy yet) it changes nothing. Returns the minimum now in force.
    /// </summary>
    public static int Ensure()
    {
        ThreadPool.GetMaxThreads(out var maxWorkers, out _);
        ThreadPool.GetAvailableThreads(out var availableWorkers, out _);
        ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
        var wanted = Environment.ProcessorCount + Math.Max(0, maxWorkers - availableWorkers);
        if (minWorkers < wanted && ThreadPool.SetMinThreads(wanted, minIo))
        {
            return wanted;
        }

        return minWorkers;
    }
}
