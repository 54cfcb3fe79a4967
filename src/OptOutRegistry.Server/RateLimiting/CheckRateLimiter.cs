using System.Net;
using System.Threading.RateLimiting;

namespace OptOutRegistry.Server.RateLimiting;

/// <summary>
/// Limits of the check path, in subjects per second (a 1,000-URL batch costs 1,000): one token bucket per client
/// address (IPv4 address or IPv6 /64, see <see cref="CheckRateLimiter.AddressPartition"/>) and one per API key. 0 turns a limit off. Configuration keys <c>check-rate-limit-per-address</c> and
/// <c>check-rate-limit-per-key</c>.
/// </summary>
public sealed record CheckRateLimitOptions
{
    /// <summary>Default per-address limit: 2,000,000 subjects/s, about what one server of this size can answer.</summary>
    public const int DefaultPerAddress = 2_000_000;

    /// <summary>Default per-key limit: 10,000,000 subjects/s (a key identifies an operator that may run many crawlers).</summary>
    public const int DefaultPerKey = 10_000_000;

    /// <summary>Subjects per second per client address; 0 = unlimited.</summary>
    public int PerAddressPerSecond { get; init; } = DefaultPerAddress;

    /// <summary>Subjects per second per API key; 0 = unlimited.</summary>
    public int PerKeyPerSecond { get; init; } = DefaultPerKey;
}

/// <summary>
/// Token buckets (System.Threading.RateLimiting) per address and per key. A bucket holds one second's worth of
/// subjects and refills every 100 ms, so a client may burst a full second's quota and is then paced.
/// </summary>
public sealed class CheckRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _perAddress;
    private readonly PartitionedRateLimiter<string>? _perKey;
    private readonly int _addressLimit;
    private readonly int _keyLimit;

    /// <summary>Creates the limiters.</summary>
    public CheckRateLimiter(CheckRateLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _addressLimit = options.PerAddressPerSecond;
        _keyLimit = options.PerKeyPerSecond;
        _perAddress = _addressLimit > 0 ? TokenBuckets.PerSecond(_addressLimit) : null;
        _perKey = _keyLimit > 0 ? TokenBuckets.PerSecond(_keyLimit) : null;
    }

    /// <summary>
    /// Takes <paramref name="subjects"/> permits from the caller's buckets. Returns null when allowed, else how long to
    /// wait before retrying.
    /// </summary>
    /// <param name="address">The client address (null for in-process callers).</param>
    /// <param name="keyId">
    /// The id of the caller's API key once <see cref="Auth.CallerResolver"/> has validated it; null for anonymous callers
    /// and for keys that are not valid, which share their address's bucket (a made-up key must not earn a bucket).
    /// </param>
    /// <param name="subjects">The number of subjects in the request (at least 1 permit is taken).</param>
    public TimeSpan? TryAcquire(IPAddress? address, string? keyId, int subjects)
    {
        var permits = Math.Max(1, subjects);
        if (keyId is not null && _perKey is not null)
        {
            using var lease = _perKey.AttemptAcquire(keyId, Math.Min(permits, _keyLimit));
            if (!lease.IsAcquired)
            {
                return TokenBuckets.RetryAfter(lease);
            }
        }
        else if (_perAddress is not null)
        {
            // Keyed callers are limited per key only, so many crawlers behind one NAT address with their own key are
            // not starved by an anonymous neighbour.
            var partition = AddressPartition(address);
            using var lease = _perAddress.AttemptAcquire(partition, Math.Min(permits, _addressLimit));
            if (!lease.IsAcquired)
            {
                return TokenBuckets.RetryAfter(lease);
            }
        }

        return null;
    }

    /// <summary>
    /// The per-address bucket of a client: its IPv4 address, or its IPv6 /64 prefix. A single IPv6 host is normally
    /// given a whole /64 (RFC 4291 §2.5.1 interface identifiers; RFC 8981 temporary addresses rotate within it), so
    /// limiting each IPv6 address alone would let one client escape the limit by changing its source address.
    /// IPv4-mapped IPv6 addresses count as their IPv4 address.
    /// </summary>
    public static string AddressPartition(IPAddress? address)
    {
        if (address is null)
        {
            return "local";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _perAddress?.Dispose();
        _perKey?.Dispose();
    }
}
