using System.Globalization;
using System.Threading.RateLimiting;
using OptOutRegistry.Grpc;

namespace OptOutRegistry.Server.RateLimiting;

/// <summary>
/// Request-rate limits of the Registry and Feed services, per client address (an IPv4 address or an IPv6 /64, as
/// <see cref="CheckRateLimiter.AddressPartition"/>). Checks are limited by subjects instead (<see cref="CheckRateLimitOptions"/>).
/// 0 turns a limit off. Configuration keys <c>registry-rate-limit-per-address</c> and <c>feed-rate-limit-per-address</c>.
/// </summary>
public sealed record RequestRateLimitOptions
{
    /// <summary>
    /// Default Registry limit: 1,000 calls/s per address. Far above what a holder's tools need (an import is one call
    /// however many reservations it carries), far below what would let one address tie up the single SQLite writer.
    /// </summary>
    public const int DefaultRegistryPerAddress = 1_000;

    /// <summary>
    /// Default Feed limit: 1,000 calls/s per address. A replica or offline checker makes a handful of calls (a snapshot,
    /// then one long <c>WatchEvents</c> stream); an auditor fetching one inclusion proof per receipt makes many small ones.
    /// </summary>
    public const int DefaultFeedPerAddress = 1_000;

    /// <summary>Registry calls per second per client address; 0 = unlimited.</summary>
    public int RegistryPerAddressPerSecond { get; init; } = DefaultRegistryPerAddress;

    /// <summary>Feed calls per second per client address; 0 = unlimited.</summary>
    public int FeedPerAddressPerSecond { get; init; } = DefaultFeedPerAddress;
}

/// <summary>
/// Answers Registry and Feed calls over their address's limit with RESOURCE_EXHAUSTED and a <c>retry-after-ms</c>
/// entry, as a gRPC trailers-only response, before the call reaches the service (so a flood costs no store work and
/// no key lookup). A call counts once however long it streams. Buckets hold one second's worth and refill every 100 ms.
/// </summary>
public sealed class RequestRateLimiter : IDisposable
{
    /// <summary>The gRPC path prefix of the Registry service.</summary>
    public const string RegistryPrefix = "/optout.v1.Registry/";

    /// <summary>The gRPC path prefix of the Feed service.</summary>
    public const string FeedPrefix = "/optout.v1.Feed/";

    private readonly PartitionedRateLimiter<string>? _registry;
    private readonly PartitionedRateLimiter<string>? _feed;

    /// <summary>Creates the limiters.</summary>
    public RequestRateLimiter(RequestRateLimitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _registry = options.RegistryPerAddressPerSecond > 0 ? TokenBuckets.PerSecond(options.RegistryPerAddressPerSecond) : null;
        _feed = options.FeedPerAddressPerSecond > 0 ? TokenBuckets.PerSecond(options.FeedPerAddressPerSecond) : null;
    }

    /// <summary>
    /// Takes one permit for a call to <paramref name="path"/> from <paramref name="address"/>. Returns null when the call
    /// may go ahead (or the path is not limited here), else the service's name and how long to wait.
    /// </summary>
    public (string Service, TimeSpan RetryAfter)? TryAcquire(string path, System.Net.IPAddress? address)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (limiter, service) = path.StartsWith(RegistryPrefix, StringComparison.Ordinal) ? (_registry, "registry")
            : path.StartsWith(FeedPrefix, StringComparison.Ordinal) ? (_feed, "feed")
            : (null, null);
        if (limiter is null)
        {
            return null;
        }

        using var lease = limiter.AttemptAcquire(CheckRateLimiter.AddressPartition(address), 1);
        return lease.IsAcquired ? null : (service!, TokenBuckets.RetryAfter(lease));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _registry?.Dispose();
        _feed?.Dispose();
    }
}

/// <summary>Registration and the middleware of <see cref="RequestRateLimiter"/>.</summary>
public static class RequestRateLimitExtensions
{
    /// <summary>Adds the limiter with its options from configuration (docs/limits.md).</summary>
    public static IServiceCollection AddRequestRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(new RequestRateLimitOptions
        {
            RegistryPerAddressPerSecond = NonNegative(configuration, "registry-rate-limit-per-address", RequestRateLimitOptions.DefaultRegistryPerAddress),
            FeedPerAddressPerSecond = NonNegative(configuration, "feed-rate-limit-per-address", RequestRateLimitOptions.DefaultFeedPerAddress),
        });
        services.AddSingleton<RequestRateLimiter>();
        return services;
    }

    /// <summary>Puts the limiter in front of the Registry and Feed endpoints.</summary>
    public static void UseRequestRateLimits(this IApplicationBuilder app)
    {
        var limiter = app.ApplicationServices.GetRequiredService<RequestRateLimiter>();
        var exhausted = ((int)StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture);
        app.Use(async (context, next) =>
        {
            if (limiter.TryAcquire(context.Request.Path.Value ?? string.Empty, context.Connection.RemoteIpAddress) is { } refused)
            {
                // A gRPC trailers-only response (PROTOCOL-HTTP2.md "Responses"): status, message and retry hint in the headers.
                var ms = (long)Math.Ceiling(refused.RetryAfter.TotalMilliseconds);
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = exhausted;
                context.Response.Headers["grpc-message"] = Uri.EscapeDataString($"{refused.Service} rate limit exceeded (per address); retry after {ms} ms");
                context.Response.Headers[Check.CheckAccess.RetryAfterTrailer] = ms.ToString(CultureInfo.InvariantCulture);
                return;
            }

            await next(context);
        });
    }

    private static int NonNegative(IConfiguration configuration, string key, int fallback)
    {
        var value = configuration.GetValue(key, fallback);
        return value >= 0 ? value : throw new ArgumentException($"--{key}: must be 0 (off) or a positive number of calls per second, got {value}");
    }
}

/// <summary>The token buckets every limiter of the server uses: one second's quota, refilled in tenths.</summary>
internal static class TokenBuckets
{
    public static PartitionedRateLimiter<string> PerSecond(int perSecond) =>
        PartitionedRateLimiter.Create<string, string>(partition => RateLimitPartition.GetTokenBucketLimiter(partition, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = Math.Max(1, perSecond / 10),
                ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

    public static TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) && retryAfter > TimeSpan.Zero
            ? retryAfter
            : TimeSpan.FromMilliseconds(100);
}
