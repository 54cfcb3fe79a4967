using System.Globalization;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Server.RateLimiting;

namespace OptOutRegistry.Server.Check;

/// <summary>Who may check. Configuration key <c>check-require-key</c> (default false: anonymous checks allowed).</summary>
public sealed record CheckAccessOptions
{
    /// <summary>When true, every check must carry a valid API key (holder or admin) in <c>authorization: Bearer KEY</c>.</summary>
    public bool RequireKey { get; init; }
}

/// <summary>
/// The gate in front of every check: the optional key requirement and the per-key / per-address rate limits.
/// Required keys are validated by the same <see cref="CallerResolver"/> as Registry calls, so a key revoked through
/// this process stops working for checks at once too. Failures are <see cref="RpcException"/>s (UNAUTHENTICATED,
/// RESOURCE_EXHAUSTED with a <c>retry-after-ms</c> trailer), which the HTTP gateways translate to 401/429.
/// </summary>
public sealed class CheckAccess(CheckAccessOptions options, CheckRateLimiter limiter, CallerResolver callers)
{
    /// <summary>The trailer (gRPC) carrying how long to wait before retrying, in milliseconds.</summary>
    public const string RetryAfterTrailer = "retry-after-ms";

    /// <summary>Whether a key is required.</summary>
    public bool RequireKey => options.RequireKey;

    /// <summary>
    /// Admits a request of <paramref name="subjects"/> subjects or throws. Completes synchronously unless a required key
    /// must be looked up in the store (the resolver caches keys it has seen recently).
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="subjects">How many subjects the request checks.</param>
    public ValueTask AdmitAsync(HttpContext http, int subjects)
    {
        var authorization = http.Request.Headers.Authorization.ToString();
        if (!options.RequireKey)
        {
            // Open registry: the key is not validated, it only names the caller's rate-limit bucket.
            Limit(http, KeyId(authorization), subjects);
            return ValueTask.CompletedTask;
        }

        if (AsBearer(authorization) is not { } bearer)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this registry requires an API key for checks: send 'authorization: Bearer KEY'"));
        }

        var resolving = callers.ResolveAsync(bearer, http.RequestAborted);
        if (resolving.IsCompletedSuccessfully)
        {
            Limit(http, resolving.Result.KeyId, subjects);
            return ValueTask.CompletedTask;
        }

        return AdmitSlowAsync(http, resolving, subjects);
    }

    private async ValueTask AdmitSlowAsync(HttpContext http, Task<Caller> resolving, int subjects)
    {
        var caller = await resolving;
        Limit(http, caller.KeyId, subjects);
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

    /// <summary>
    /// The header as <c>Bearer KEY</c>, the form <see cref="CallerResolver"/> takes; Spawning clients send <c>API KEY</c>.
    /// Null when there is no key in a scheme we know.
    /// </summary>
    private static string? AsBearer(string authorization)
    {
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

        return span.IsEmpty ? null : "Bearer " + span.ToString();
    }

    /// <summary>The rate-limit bucket of an unvalidated key: its SHA-256, hex (the key itself is never kept).</summary>
    internal static string? KeyId(string authorization) =>
        AsBearer(authorization) is { } bearer ? Convert.ToHexStringLower(ApiKeys.Hash(bearer[7..])) : null;
}
