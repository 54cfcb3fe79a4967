namespace OptOutRegistry.Testing;

/// <summary>
/// Pool threads parked the way a test host parks its own (VSTest's socket loop, xunit's runner): each waits on a
/// WaitHandle, which the thread pool does not count as blocked, until this is disposed. Shared by the headroom tests of
/// Security.Tests and Grpc.Tests.
/// </summary>
internal sealed class ParkedPoolThreads : IDisposable
{
    private readonly ManualResetEvent _release = new(false);
    private readonly CountdownEvent _started;

    /// <summary>Queues <paramref name="count"/> work items that park their pool thread.</summary>
    public ParkedPoolThreads(int count)
    {
        _started = new CountdownEvent(count);
        for (var i = 0; i < count; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_ =>
            {
                _started.Signal();
                _release.WaitOne();
            }, null);
        }
    }

    /// <summary>True once every work item runs (and so holds its thread).</summary>
    public bool WaitStarted(TimeSpan timeout) => _started.Wait(timeout);

    /// <summary>Releases the parked threads.</summary>
    public void Dispose()
    {
        _release.Set();
        _release.Dispose();
        if (_started.IsSet)
        {
            // A work item that has not started yet would still signal it.
            _started.Dispose();
        }
    }
}
