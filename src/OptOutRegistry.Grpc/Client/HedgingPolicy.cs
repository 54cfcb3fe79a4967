namespace OptOutRegistry.Grpc;

/// <summary>
/// Hedging for a unary call (gRFC A6 "hedgingPolicy"; "The Tail at Scale", Dean and Barroso 2013): when the first attempt
/// has no answer after <see cref="Delay"/>, the same request goes out again, on another HTTP/2 connection where the
/// channel has (or may open) more than one; the first OK or fatal answer is the call's, the other attempts are cancelled
/// (RST_STREAM CANCEL). Only for idempotent calls such as checks: the server may run the request several times. Set
/// it per call with <see cref="CallOptions.Hedging"/> (or <c>CheckClientOptions.Hedging</c> for checks); off when null.
/// Beyond gRFC A6, hedges are budgeted (<see cref="MaxHedgesPerCall"/>), so a server that is slow for everyone is not
/// sent twice the calls. Reuse one policy object for a stream of calls: the budget lives in it.
/// </summary>
/// <example>
/// <code>
/// var hedging = new HedgingPolicy { MaxAttempts = 2, Delay = TimeSpan.FromMilliseconds(1), NonFatalStatusCodes = { StatusCode.Unavailable } };
/// var response = await channel.UnaryAsync(method, request, new CallOptions(Hedging: hedging));
/// </code>
/// </example>
public sealed class HedgingPolicy
{
    /// <summary>The most attempts gRFC A6 allows a policy (larger values are an error here rather than clamped).</summary>
    public const int MaxAttemptsLimit = 5;

    /// <summary>Attempts in all, the first included: 2..<see cref="MaxAttemptsLimit"/>. Default 2.</summary>
    public int MaxAttempts { get; set; } = 2;

    /// <summary>
    /// How long after an attempt was sent, still unanswered, the next one goes out (gRFC A6 hedgingDelay); zero sends
    /// all <see cref="MaxAttempts"/> at once. Default 1 ms.
    /// </summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Statuses that do not decide the call: such an answer sends the next attempt at once (or after the server's
    /// <c>grpc-retry-pushback-ms</c>) and the call waits for the others. Any other status ends the call with that status.
    /// Empty by default; OK cannot be listed.
    /// </summary>
    public ISet<StatusCode> NonFatalStatusCodes { get; } = new HashSet<StatusCode>();

    /// <summary>Hedges a policy may send at once when its budget is full (the bucket's size).</summary>
    public const int HedgeBurst = 10;

    private const long TokenScale = 1_000_000;

    // The hedge budget, shared by every call using this policy object: hedges left, in millionths (starts full).
    private long _budget = HedgeBurst * TokenScale;

    /// <summary>
    /// The most hedges sent per call, on average over the calls made with this policy object: each call adds this much
    /// to a budget of at most <see cref="HedgeBurst"/> hedges and each hedge takes one. When a server slows down for
    /// everyone, unbudgeted hedging would send a second call for nearly every check just when the server has least room
    /// for it ("The Tail at Scale" sends hedges only for the slowest few percent); with the budget spent, calls wait for
    /// their first attempt. Default 0.1 (one hedge per ten calls); at most <see cref="MaxAttempts"/> - 1.
    /// </summary>
    public double MaxHedgesPerCall { get; set; } = 0.1;

    /// <summary>A call made with this policy: adds its share to the budget.</summary>
    internal void OnCall()
    {
        var add = (long)(MaxHedgesPerCall * TokenScale);
        var cap = HedgeBurst * TokenScale;
        var current = Volatile.Read(ref _budget);
        while (current < cap)
        {
            var seen = Interlocked.CompareExchange(ref _budget, Math.Min(cap, current + add), current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>
    /// Whether the budget holds a hedge now. Asked before arming a call's hedging timer: with the budget spent a timer
    /// could only fire to find nothing to send, and at 10,000 calls/s those wake-ups alone cost a core on a 2-core host.
    /// </summary>
    internal bool HasHedge => Volatile.Read(ref _budget) >= TokenScale;

    /// <summary>Takes one hedge from the budget; false when it is spent (the hedge is not sent).</summary>
    internal bool TryTakeHedge()
    {
        var current = Volatile.Read(ref _budget);
        while (current >= TokenScale)
        {
            var seen = Interlocked.CompareExchange(ref _budget, current - TokenScale, current);
            if (seen == current)
            {
                return true;
            }
            current = seen;
        }
        return false;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the policy cannot be used.</summary>
    public void Validate()
    {
        if (MaxAttempts is < 2 or > MaxAttemptsLimit)
        {
            throw new ArgumentException($"HedgingPolicy.MaxAttempts must be 2..{MaxAttemptsLimit} (gRFC A6), not {MaxAttempts}.", nameof(MaxAttempts));
        }
        if (Delay < TimeSpan.Zero || Delay.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentException($"HedgingPolicy.Delay must be zero or positive and below 24 days, not {Delay}.", nameof(Delay));
        }
        if (!(MaxHedgesPerCall > 0 && MaxHedgesPerCall <= MaxAttempts - 1))
        {
            throw new ArgumentException($"HedgingPolicy.MaxHedgesPerCall must be above 0 and at most MaxAttempts - 1 ({MaxAttempts - 1}), not {MaxHedgesPerCall}.", nameof(MaxHedgesPerCall));
        }
        if (NonFatalStatusCodes.Contains(StatusCode.OK))
        {
            throw new ArgumentException("HedgingPolicy.NonFatalStatusCodes must not contain OK: an OK answer always ends the call.", nameof(NonFatalStatusCodes));
        }
        foreach (var code in NonFatalStatusCodes)
        {
            if (code is < StatusCode.OK or > StatusCode.Unauthenticated)
            {
                throw new ArgumentException($"HedgingPolicy.NonFatalStatusCodes: {(int)code} is not a gRPC status code.", nameof(NonFatalStatusCodes));
            }
        }
    }
}
