namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The check path's signal to the <c>--keep-cpus-awake</c> threads (the spinners of <see cref="KeepCpusAwake"/> or the
/// controller of <see cref="KeepCpusAwakePmQos"/>): every check request calls <see cref="OnCheck"/>, which costs a
/// counter store and one predictable branch. The keep-awake threads read the counter with their own clock (between spin
/// slices, or a few times per window), so no request reads a clock; when the option is off the branch is never taken.
/// </summary>
public sealed class CheckActivity
{
    // Written by every check, read by the keep-awake threads every spin slice. A plain increment, not Interlocked: two
    // racing requests may store the same value, and the readers only ask "did it change since I last looked?".
    private long _checks;

    // 1 while the keep-awake threads are parked (KeepCpusAwake.Park); the next check wakes them.
    private int _parked;

    private readonly object _gate = new();
    private long _generation;
    private bool _stopping;

    /// <summary>Checks seen so far (approximately: racing requests may count once).</summary>
    public long Checks => Volatile.Read(ref _checks);

    /// <summary>
    /// Called by the check path (<see cref="Check.CheckAccess.AdmitAsync"/>) once per check request or stream message.
    /// </summary>
    public void OnCheck()
    {
        _checks++;
        if (_parked != 0)
        {
            Wake();
        }
    }

    /// <summary>
    /// Blocks the calling keep-awake thread until a check arrives or <see cref="Stop"/> is called, unless a check arrived
    /// since the caller's last look (<paramref name="seen"/>). Returns false once stopping.
    /// </summary>
    internal bool Park(long seen)
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return false;
            }

            Volatile.Write(ref _parked, 1);
            // Full fence: the store above must be visible before we read the counter, or a check that read _parked == 0
            // just before could be missed (Dekker). The check side has no fence on purpose (its cost is the point); a
            // check whose store is still in its CPU's store buffer can be missed, and then the next check wakes us.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _checks) != seen)
            {
                Volatile.Write(ref _parked, 0);
                return true;
            }

            var generation = _generation;
            while (generation == _generation && !_stopping)
            {
                Monitor.Wait(_gate);
            }

            return !_stopping;
        }
    }

    /// <summary>Wakes every parked keep-awake thread and makes <see cref="Park"/> return false from now on.</summary>
    internal void Stop()
    {
        lock (_gate)
        {
            _stopping = true;
            _generation++;
            Monitor.PulseAll(_gate);
        }
    }

    internal bool IsStopping => Volatile.Read(ref _stopping);

    /// <summary>
    /// Sleeps up to <paramref name="timeout"/> or until <see cref="Stop"/>; true once stopping. The pm-qos controller's
    /// wait between looks at the counter while checks flow (<see cref="KeepCpusAwakePmQos"/>): a check does not wake it,
    /// since only <see cref="Park"/>ed threads are woken.
    /// </summary>
    internal bool WaitForStop(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (!_stopping)
            {
                Monitor.Wait(_gate, timeout);
            }

            return _stopping;
        }
    }

    // Once per idle period: the first check after the threads parked takes the lock and wakes them; racing checks see
    // _parked == 0 after the exchange and go on.
    private void Wake()
    {
        if (Interlocked.Exchange(ref _parked, 0) == 0)
        {
            return;
        }

        lock (_gate)
        {
            _generation++;
            Monitor.PulseAll(_gate);
        }
    }
}
