namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// The lean generator's hedging bookkeeping, apart from its sockets: per call, where its attempts went (connection,
/// stream slot), when it was answered and by which attempt. The first attempt to end is the call's answer (counted
/// once, its latency from that moment); the other attempt is then to be cancelled; an attempt ending after the call
/// was answered is dropped and counted as late. Hedge figures count the measured calls only (index ≥ the warm-up).
/// </summary>
internal sealed class HedgeBook
{
    private readonly int _measuredFrom;
    private readonly int[] _primaryConnection;
    private readonly int[] _primarySlot;
    private readonly int[] _hedgeConnection;
    private readonly int[] _hedgeSlot;

    public HedgeBook(int calls, int measuredFrom)
    {
        _measuredFrom = measuredFrom;
        Done = new long[calls];
        _primaryConnection = new int[calls];
        _primarySlot = new int[calls];
        _hedgeConnection = new int[calls];
        _hedgeSlot = new int[calls];
        Array.Fill(_hedgeConnection, -1);
    }

    /// <summary>When each call was answered (Stopwatch ticks; 0: not yet).</summary>
    public long[] Done { get; }

    /// <summary>Calls answered.</summary>
    public int Completed { get; private set; }

    /// <summary>Hedges sent for measured calls.</summary>
    public int MeasuredHedgesSent { get; private set; }

    /// <summary>Measured calls whose hedge answered first.</summary>
    public int MeasuredHedgesWon { get; private set; }

    /// <summary>Attempts of measured calls that ended after their call had been answered (dropped, never counted twice).</summary>
    public int MeasuredLateAnswers { get; private set; }

    public bool IsDone(int call) => Done[call] != 0;

    /// <summary>Whether <paramref name="call"/> has a hedge in flight or answered.</summary>
    public bool IsHedged(int call) => _hedgeConnection[call] >= 0;

    public void OnSent(int call, int connection, int slot)
    {
        _primaryConnection[call] = connection;
        _primarySlot[call] = slot;
    }

    public void OnHedgeSent(int call, int connection, int slot)
    {
        if (IsDone(call) || IsHedged(call))
        {
            throw new InvalidOperationException($"Call {call} is {(IsDone(call) ? "answered" : "hedged")} already: no second hedge.");
        }

        _hedgeConnection[call] = connection;
        _hedgeSlot[call] = slot;
        if (call >= _measuredFrom)
        {
            MeasuredHedgesSent++;
        }
    }

    /// <summary>
    /// An attempt of <paramref name="call"/> (on <paramref name="connection"/>, <paramref name="slot"/>) ended at
    /// <paramref name="now"/>. True when it is the call's answer, with the other attempt to cancel (-1 when there is
    /// none); false when the call was answered already (the attempt is dropped).
    /// </summary>
    public bool OnAnswer(int call, int connection, int slot, long now, out int cancelConnection, out int cancelSlot)
    {
        cancelConnection = -1;
        cancelSlot = -1;
        var isHedge = _hedgeConnection[call] == connection && _hedgeSlot[call] == slot;
        if (!isHedge && (_primaryConnection[call] != connection || _primarySlot[call] != slot))
        {
            throw new InvalidOperationException($"Stream slot {slot} on connection {connection} is not an attempt of call {call}.");
        }

        if (IsDone(call))
        {
            if (call >= _measuredFrom)
            {
                MeasuredLateAnswers++;
            }

            return false;
        }

        Done[call] = now;
        Completed++;
        if (isHedge)
        {
            if (call >= _measuredFrom)
            {
                MeasuredHedgesWon++;
            }

            cancelConnection = _primaryConnection[call];
            cancelSlot = _primarySlot[call];
        }
        else if (IsHedged(call))
        {
            cancelConnection = _hedgeConnection[call];
            cancelSlot = _hedgeSlot[call];
        }

        return true;
    }
}
