using System.Collections.Concurrent;
using OptOutRegistry.Grpc;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Server.Auth;

/// <summary>
/// Resolves <c>authorization: Bearer KEY</c> to a <see cref="Caller"/>. A missing header is anonymous; a malformed
/// header, an unknown key or a revoked key is UNAUTHENTICATED with one message for all three (no hint which).
/// Keys are never compared as text: the store is asked for the SHA-256 of the key (an indexed lookup of a hash, so the
/// time it takes says nothing about any stored key's characters) and the admin key's hash is compared with
/// <see cref="System.Security.Cryptography.CryptographicOperations.FixedTimeEquals"/>. Resolved holder keys are cached
/// for <see cref="CacheLifetime"/> and a revocation through this process evicts its entry at once; keys the store does
/// not know are remembered for <see cref="NegativeCacheLifetime"/> so a client repeating a bad key costs no store lookup.
/// </summary>
public sealed class CallerResolver
{
    /// <summary>How long a resolved holder key is trusted without asking the store again.</summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(5);

    /// <summary>How long a key the store does not know (or knows as revoked) is refused without asking the store again.</summary>
    public static readonly TimeSpan NegativeCacheLifetime = TimeSpan.FromSeconds(30);

    /// <summary>The status of every authentication failure.</summary>
    public static readonly Status InvalidKeyStatus = new(StatusCode.Unauthenticated, "The API key is missing, malformed, unknown or revoked.");

    /// <summary>Most entries of each cache; a full cache is emptied (bounded memory whatever keys clients invent).</summary>
    public const int MaxCacheEntries = 10_000;

    private readonly IRegistryStore _store;
    private readonly AdminKey _adminKey;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (Caller Caller, long ExpiresTicks)> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _unknown = new(StringComparer.Ordinal);

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

        return await TryResolveKeyAsync(authorization[scheme.Length..].Trim(), cancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(InvalidKeyStatus);
    }

    /// <summary>
    /// The caller a bare key (without its scheme) belongs to, or null when the key is malformed, unknown or revoked.
    /// Completes synchronously when the key was seen within the cache lifetimes. Used where an invalid key must not
    /// fail the request but must not earn the caller anything either (checks on an open registry).
    /// </summary>
    public ValueTask<Caller?> TryResolveKeyAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0 || key.Length > ApiKeys.MaxKeyLength)
        {
            return ValueTask.FromResult<Caller?>(null);
        }

        var hash = ApiKeys.Hash(key);
        if (_adminKey.Matches(hash))
        {
            return ValueTask.FromResult<Caller?>(Caller.Admin);
        }

        var cacheKey = Convert.ToBase64String(hash);
        var now = _time.GetUtcNow().UtcTicks;
        if (_cache.TryGetValue(cacheKey, out var cached) && cached.ExpiresTicks > now)
        {
            return ValueTask.FromResult<Caller?>(cached.Caller);
        }

        if (_unknown.TryGetValue(cacheKey, out var refusedUntil) && refusedUntil > now)
        {
            return ValueTask.FromResult<Caller?>(null);
        }

        return LookUpAsync(hash, cacheKey, now, cancellationToken);
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

    private async ValueTask<Caller?> LookUpAsync(byte[] hash, string cacheKey, long now, CancellationToken cancellationToken)
    {
        var record = await _store.FindApiKeyByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        if (record is null || !record.IsActive)
        {
            _cache.TryRemove(cacheKey, out _);
            if (_unknown.Count >= MaxCacheEntries)
            {
                _unknown.Clear();
            }

            _unknown[cacheKey] = now + NegativeCacheLifetime.Ticks;
            return null;
        }

        var caller = new Caller(CallerKind.Holder, record.HolderId, record.KeyId);
        if (_cache.Count >= MaxCacheEntries)
        {
            _cache.Clear();
        }

        _cache[cacheKey] = (caller, now + CacheLifetime.Ticks);
        return caller;
    }
}
