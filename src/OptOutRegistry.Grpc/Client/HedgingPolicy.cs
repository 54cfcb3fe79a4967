namespace OptOutRegistry.Grpc;

/// <summary>
/// Hedging for a unary call (gRFC A6 "hedgingPolicy"; "The Tail at Scale", Dean and Barroso 2013): when the first attempt
/// has no answer after <see cref="Delay"/>, the same request goes out again, on another HTTP/2 connection where the
/// channel has (or may open) more than one; the first OK or fatal answer is the call's, the other attempts are cancelled
/// (RST_STREAM CANCEL). Only for idempotent calls such as checks: the server may run the request several times. Set
/// it per call with <see cref="CallOptions.Hedging"/> (or <c>CheckClientOptions.Hedging</c> for checks); off when null.
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
