using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using OptOutRegistry.Server.Matching;

namespace OptOutRegistry.Server.Warmup;

/// <summary>
/// Lets the server's own warm-up requests (<see cref="ServerWarmUp"/>) through the readiness gate of
/// <see cref="Check.CheckAccess"/> without the rate limits. A request passes only when all of these hold:
/// <list type="bullet">
/// <item>it carries this process's warm-up token in <see cref="Header"/>: 256 random bits made at start, held only in
/// memory and sent only to the process's own listening addresses;</item>
/// <item>it comes from this machine (a loopback address, or the connection's own local address);</item>
/// <item>the server is warming up: the matcher has caught up (so even the token never gets an answer from a matcher
/// that is still loading) and the server is not ready yet. Once it is ready the token opens nothing: checks then never
/// look at it, and every request, the token's included, goes through the rate limits.</item>
/// </list>
/// </summary>
public sealed class WarmUpGate(MatcherReadiness readiness)
{
    /// <summary>The request header carrying the warm-up token.</summary>
    public const string Header = "x-optout-warm-up";

    private readonly string _token = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
    private long _admitted;

    /// <summary>This process's token (for <see cref="ServerWarmUp"/> only).</summary>
    internal string Token => _token;

    /// <summary>True when <paramref name="http"/> is the server's own warm-up request (see the class remarks).</summary>
    public bool Admits(HttpContext http)
    {
        if (!readiness.IsCaughtUp || readiness.IsReady)
        {
            return false;
        }

        if (!http.Request.Headers.TryGetValue(Header, out var values) || values.Count != 1 || values[0] is not { } presented)
        {
            return false;
        }

        if (!FromThisMachine(http.Connection.RemoteIpAddress, http.Connection.LocalIpAddress))
        {
            return false;
        }

        // Constant time: the comparison's duration tells a prober nothing about how much of a guess was right.
        if (!CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(presented.AsSpan()), MemoryMarshal.AsBytes(_token.AsSpan())))
        {
            return false;
        }

        Interlocked.Increment(ref _admitted);
        return true;
    }

    /// <summary>Warm-up requests let through so far (they are not counted anywhere else).</summary>
    public long Admitted => Interlocked.Read(ref _admitted);

    private static bool FromThisMachine(IPAddress? remote, IPAddress? local)
    {
        if (remote is null)
        {
            return false;
        }

        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }

        if (local is { IsIPv4MappedToIPv6: true })
        {
            local = local.MapToIPv4();
        }

        return IPAddress.IsLoopback(remote) || remote.Equals(local);
    }
}
