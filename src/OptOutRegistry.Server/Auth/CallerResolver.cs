using System.Collections.Concurrent;
using OptOutRegistry.Grpc;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Auth;

/// <summary>
/// Resolves <c>authorization: Bearer KEY</c> to a <see cref="Caller"/>. A missing header is anonymous; a malformed
/// header, an unknown key or a revoked key is UNAUTHENTICATED with one message for all three (no hint which).
/// Keys are compared by SHA-256 (the admin key in constant time); resolved holder keys are cached for a few seconds,
/// and a revocation through this process evicts its entry at once.
/// </summary>
public sealed class CallerResolver
{
    /// <summary>How long a resolved holder key is trusted without asking the store again.</summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);

    /// <summary>The status of every authentication failure.</summary>
    public static readonly Status InvalidKeyStatus = new(StatusCode.Unauthenticated, "The API key is missing, malformed, unknown or revoked.");

    private const int MaxCacheEntries = 10_000;
    private readonly IRegistryStore _store;
    private readonly AdminKey _adminKey;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Caller Caller, long ExpiresTicks)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the resolver.</summary>
    public CallerResolver(IRegistryStore store, AdminKey adminKey, TimeProvider? time = null)
    {
        _store = store;
        _adminKey = adminKey;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The caller of <paramref name="context"/>.</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED: a key was given but is not valid.</exception>
    public Task<Caller> ResolveAsync(ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var header = context.RequestHeaders.GetValue("authorization");
        return ResolveAsync(header, context.CancellationToken);
    }

    /// <summary>The caller for an <c>authorization</c> header value (null: anonymous).</summary>
    /// <exception cref="RpcException">UNAUTHENTICATED: a key was given but is not valid.</exception>
    public async Task<Caller> ResolveAsync(string? authorization, CancellationToken cancellationToken)
    {
        if (authorization is null)
        {
            return Caller.Anonymous;
        }

        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new RpcException(InvalidKeyStatus);
        }

        var key = authorization[scheme.Length..].Trim();
        if (key.Length == 0 || key.Length > ApiKeys.MaxKeyLength)
        {
            throw new RpcException(InvalidKeyStatus);
        }

        var hash = ApiKeys.Hash(key);
        if (_adminKey.Matches(hash))
        {
            return Caller.Admin;
        }

        var cacheKey = Convert.ToBase64String(hash);
        var now = _time.GetUtcNow().UtcTicks;
        if (_cache.TryGetValue(cacheKey, out var cached) && cached.ExpiresTicks > now)
        {
            return cached.Caller;
        }

        var record = await _store.FindApiKeyByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (record is null || !record.IsActive)
        {
            _cache.TryRemove(cacheKey, out _);
            throw new RpcException(InvalidKeyStatus);
        }

        var caller = new Caller(CallerKind.Holder, record.HolderId, record.KeyId);
        if (_cache.Count >= MaxCacheEntries)
        {
            _cache.Clear();
        }

        _cache[cacheKey] = (caller, now + CacheLifetime.Ticks);
        return caller;
    }

    /// <summary>Forgets cached resolutions of a key (called when it is revoked).</summary>
    public void Evict(string keyId)
    {
        foreach (var entry in _cache)
        {
            if (string.Equals(entry.Value.Caller.KeyId, keyId, StringComparison.Ordinal))
            {
                _cache.TryRemove(entry.Key, out _);
            }
        }
    }
}
