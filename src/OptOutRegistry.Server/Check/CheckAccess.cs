using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.RateLimiting;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Check;

/// <summary>Who may check. Configuration key <c>check-require-key</c> (default false: anonymous checks allowed).</summary>
public sealed record CheckAccessOptions
{
    /// <summary>When true, every check must carry a valid API key (holder or admin) in <c>authorization: Bearer KEY</c>.</summary>
    public bool RequireKey { get; init; }
}

/// <summary>
/// The gate in front of every check: the optional key requirement and the per-key / per-address rate limits.
/// Failures are <see cref="RpcException"/>s (UNAUTHENTICATED, RESOURCE_EXHAUSTED with a <c>retry-after-ms</c>
/// trailer), which the HTTP gateways translate to 401/429.
/// </summary>
public sealed class CheckAccess(CheckAccessOptions options, CheckRateLimiter limiter, ServerPaths paths, IServiceProvider services)
{
    /// <summary>The trailer (gRPC) carrying how long to wait before retrying, in milliseconds.</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    private static readonly TimeSpan ValidKeyCacheTime = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, DateTime> _validKeys = new(StringComparer.Ordinal);
    private string? _adminKeyId;

    /// <summary>Whether a key is required.</summary>
    public bool RequireKey => options.RequireKey;

    /// <summary>
    /// Admits a request of <paramref name="subjects"/> subjects or throws. Completes synchronously unless a key must be
    /// looked up in the store (first use of a key within 30 s).
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="subjects">How many subjects the request checks.</param>
    public ValueTask AdmitAsync(HttpContext http, int subjects)
    {
        var keyId = KeyId(http.Request.Headers.Authorization.ToString());
        if (options.RequireKey)
        {
            if (keyId is null)
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, "this registry requires an API key for checks: send 'authorization: Bearer KEY'"));
            }

            if (!_validKeys.TryGetValue(keyId, out var until) || until < DateTime.UtcNow)
            {
                return AdmitSlowAsync(http, keyId, subjects);
            }
        }

        Limit(http, keyId, subjects);
        return ValueTask.CompletedTask;
    }

    private async ValueTask AdmitSlowAsync(HttpContext http, string keyId, int subjects)
    {
        if (!await IsValidKeyAsync(keyId, http.RequestAborted))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the API key is not valid"));
        }

        _validKeys[keyId] = DateTime.UtcNow + ValidKeyCacheTime;
        Limit(http, keyId, subjects);
    }

    private void Limit(HttpContext http, string? keyId, int subjects)
    {
        if (limiter.TryAcquire(http.Connection.RemoteIpAddress, keyId, subjects) is { } retryAfter)
        {
            var ms = (long)Math.Ceiling(retryAfter.TotalMilliseconds);
            var trailers = new Metadata { { RetryAfterTrailer, ms.ToString(CultureInfo.InvariantCulture) } };
            throw new RpcException(
                new Status(StatusCode.ResourceExhausted, $"check rate limit exceeded ({(keyId is null ? "per address" : "per key")}); retry after {ms} ms"),
                trailers);
        }
    }

    private async Task<bool> IsValidKeyAsync(string keyId, CancellationToken cancellationToken)
    {
        if (AdminKeyId() is { } admin && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(admin), Encoding.ASCII.GetBytes(keyId)))
        {
            return true;
        }

        if (services.GetService<IRegistryStore>() is not { } store)
        {
            return false;
        }

        var record = await store.FindApiKeyByHashAsync(Convert.FromHexString(keyId), cancellationToken);
        return record is { IsActive: true };
    }

    private string? AdminKeyId()
    {
        if (_adminKeyId is not null)
        {
            return _adminKeyId;
        }

        // The admin key: OPTOUT_ADMIN_KEY, or the file the server generated on first start (services-common.md "Auth").
        var key = Environment.GetEnvironmentVariable("OPTOUT_ADMIN_KEY");
        var file = Path.Combine(paths.DataDirectory, "admin-key");
        if (string.IsNullOrEmpty(key) && File.Exists(file))
        {
            key = File.ReadAllText(file).Trim();
        }

        return _adminKeyId = string.IsNullOrEmpty(key) ? null : Hash(key);
    }

    /// <summary>The id of the key in an <c>authorization</c> header (<c>Bearer KEY</c>, or Spawning's <c>API KEY</c>): its SHA-256, hex.</summary>
    internal static string? KeyId(string authorization)
    {
        if (authorization.Length == 0)
        {
            return null;
        }

        var span = authorization.AsSpan().Trim();
        if (span.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            span = span[7..].Trim();
        }
        else if (span.StartsWith("API ", StringComparison.OrdinalIgnoreCase))
        {
            span = span[4..].Trim();
        }
        else
        {
            return null;
        }

        return span.IsEmpty ? null : Hash(span.ToString());
    }

    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
