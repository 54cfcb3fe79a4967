using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Server.RateLimiting;

namespace OptOutRegistry.Server.Check;

/// <summary>Who may check. Configuration key <c>check-require-key</c> (default false: anonymous checks allowed).</summary>
public sealed record CheckAccessOptions
{
    /// <summary>When true, every check must carry a valid API key (holder or admin) in <c>authorization: Bearer KEY</c>.</summary>
    public bool RequireKey { get; init; }

    /// <summary>
    /// How long a check that arrives before the matcher holds the registry (<see cref="Matching.MatcherReadiness"/>) waits
    /// for it before it is answered UNAVAILABLE with a <c>retry-after-ms</c> trailer (HTTP 503 with Retry-After).
    /// Configuration key <c>check-wait-for-matcher</c>, in seconds (0 = answer UNAVAILABLE at once); default 10.
    /// </summary>
    public TimeSpan WaitForMatcher { get; init; } = DefaultWaitForMatcher;

    /// <summary>The default of <see cref="WaitForMatcher"/>.</summary>
    public static readonly TimeSpan DefaultWaitForMatcher = TimeSpan.FromSeconds(10);

    /// <summary>Parses <c>check-wait-for-matcher</c> (seconds, 0–3600); null or empty gives the default.</summary>
    /// <exception cref="FormatException">Not a number of seconds in range; the message names the option.</exception>
    public static TimeSpan ParseWaitForMatcher(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return DefaultWaitForMatcher;
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds))
        {
            throw new FormatException($"--check-wait-for-matcher: '{value}' is not a number of seconds");
        }

        if (seconds is < 0 or > 3600)
        {
            throw new FormatException($"--check-wait-for-matcher: {value} is out of range: 0 to 3600 seconds");
        }

        return TimeSpan.FromSeconds(seconds);
    }
}

/// <summary>
/// The gate in front of every check: the optional key requirement and the per-key / per-address rate limits.
/// Required keys are validated by the same <see cref="CallerResolver"/> as Registry calls, so a key revoked through
/// this process stops working for checks at once too. Failures are <see cref="RpcException"/>s (UNAUTHENTICATED,
/// RESOURCE_EXHAUSTED with a <c>retry-after-ms</c> trailer), which the HTTP gateways translate to 401/429.
/// </summary>
public sealed class CheckAccess(CheckAccessOptions options, CheckRateLimiter limiter, CallerResolver callers, Hosting.CheckActivity activity,
    Matching.MatcherReadiness readiness, Warmup.WarmUpGate warmUp)
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
        if (readiness.IsReady)
        {
            activity.OnCheck(); // --keep-cpus-awake: a counter store and one branch (Hosting/CheckActivity.cs)
            return AdmitReadyAsync(http, subjects);
        }

        return AdmitStartingAsync(http, subjects);
    }

    // Only while the server starts: a matcher that has not caught up would answer UNKNOWN for reserved works, and a cold
    // server slowly. The server's own warm-up requests (Warmup/WarmUpGate.cs) pass at once; they are not user traffic,
    // so they are neither charged to the rate limits nor counted as checks (CheckActivity: they do not wake
    // --keep-cpus-awake).
    private ValueTask AdmitStartingAsync(HttpContext http, int subjects)
    {
        if (warmUp.Admits(http))
        {
            return ValueTask.CompletedTask;
        }

        activity.OnCheck();
        return AdmitWhenReadyAsync(http, subjects);
    }

    /// <summary>
    /// Compiles the admission steps a caller's check takes and the warm-up's requests skip (the key parsing and the rate
    /// limiter: warm-up requests are not charged), so that the first caller does not wait for their JIT either.
    /// Called by <see cref="Warmup.ServerWarmUp"/>.
    /// </summary>
    internal static void PrepareAdmission()
    {
        const BindingFlags Flags = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (var name in (ReadOnlySpan<string>)[nameof(AdmitReadyAsync), nameof(KeyOf), nameof(Limit), nameof(AdmitSlowAsync), nameof(AdmitOpenSlowAsync)])
        {
            RuntimeHelpers.PrepareMethod(typeof(CheckAccess).GetMethod(name, Flags)!.MethodHandle);
        }

        RuntimeHelpers.PrepareMethod(typeof(CheckRateLimiter).GetMethod(nameof(CheckRateLimiter.TryAcquire), Flags)!.MethodHandle);
        RuntimeHelpers.PrepareMethod(typeof(CheckAccessOptions).GetProperty(nameof(CheckAccessOptions.RequireKey))!.GetMethod!.MethodHandle);
    }

    private async ValueTask AdmitWhenReadyAsync(HttpContext http, int subjects)
    {
        try
        {
            await readiness.WhenReady.WaitAsync(options.WaitForMatcher, http.RequestAborted).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var ms = 1000;
            throw new RpcException(
                new Status(StatusCode.Unavailable, $"{(readiness.IsCaughtUp ? "the server is warming up" : "the registry is still being loaded into the matcher")} (waited {options.WaitForMatcher.TotalSeconds:0.#} s); retry after {ms} ms"),
                new Metadata { { RetryAfterTrailer, ms.ToString(CultureInfo.InvariantCulture) } });
        }

        await AdmitReadyAsync(http, subjects).ConfigureAwait(false);
    }

    private ValueTask AdmitReadyAsync(HttpContext http, int subjects)
    {
        var key = KeyOf(http.Request.Headers.Authorization.ToString());
        if (!options.RequireKey)
        {
            if (key is null)
            {
                Limit(http, null, subjects);
                return ValueTask.CompletedTask;
            }

            // Open registry: a key the resolver validates earns the key's own bucket; any other key is charged to the
            // client address like an anonymous call, so rotating made-up keys cannot escape the per-address limit.
            var validating = callers.TryResolveKeyAsync(key, http.RequestAborted);
            if (validating.IsCompletedSuccessfully)
            {
                Limit(http, validating.Result?.KeyId, subjects);
                return ValueTask.CompletedTask;
            }

            return AdmitOpenSlowAsync(http, validating, subjects);
        }

        if (key is null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this registry requires an API key for checks: send 'authorization: Bearer KEY'"));
        }

        var resolving = callers.TryResolveKeyAsync(key, http.RequestAborted);
        if (resolving.IsCompletedSuccessfully)
        {
            Limit(http, (resolving.Result ?? throw new RpcException(CallerResolver.InvalidKeyStatus)).KeyId, subjects);
            return ValueTask.CompletedTask;
        }

        return AdmitSlowAsync(http, resolving, subjects);
    }

    private async ValueTask AdmitSlowAsync(HttpContext http, ValueTask<Caller?> resolving, int subjects)
    {
        var caller = await resolving ?? throw new RpcException(CallerResolver.InvalidKeyStatus);
        Limit(http, caller.KeyId, subjects);
    }

    private async ValueTask AdmitOpenSlowAsync(HttpContext http, ValueTask<Caller?> validating, int subjects)
    {
        var caller = await validating;
        Limit(http, caller?.KeyId, subjects);
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
    /// The key of an <c>authorization</c> header in a scheme we know: <c>Bearer KEY</c>, or <c>API KEY</c> as Spawning
    /// clients send it (standards.md §2.2). Null when there is no key.
    /// </summary>
    private static string? KeyOf(string authorization)
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

        return span.IsEmpty ? null : span.ToString();
    }
}
