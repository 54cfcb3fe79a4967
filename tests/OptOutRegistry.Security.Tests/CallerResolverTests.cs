using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Storage;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// How keys are looked up: the store only ever sees the SHA-256 of a key (never the key), unknown keys are remembered
/// in a bounded negative cache for <see cref="CallerResolver.NegativeCacheLifetime"/>, valid ones for
/// <see cref="CallerResolver.CacheLifetime"/>.
/// </summary>
public sealed class CallerResolverTests : IDisposable
{
    private const string ValidKey = "oor_valid-key-for-the-resolver-tests-000000000";
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "optout-sec-resolver-" + Guid.NewGuid().ToString("N"));
    private readonly ManualTime _time = new();
    private readonly KeyStore _calls;
    private readonly CallerResolver _resolver;

    public CallerResolverTests()
    {
        var store = DispatchProxy.Create<IRegistryStore, KeyStore>();
        _calls = (KeyStore)(object)store;
        _resolver = new CallerResolver(store, AdminKey.Load(_dataDirectory, "admin-key-for-resolver-tests"), _time);
    }

    [Fact]
    public async Task StoreSeesOnlyTheSha256_NeverTheKey()
    {
        var caller = await _resolver.TryResolveKeyAsync(ValidKey, CancellationToken.None);
        Assert.Equal(CallerKind.Holder, caller!.Kind);
        var asked = Assert.Single(_calls.Hashes);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(ValidKey)), asked);
        Assert.Equal(32, asked.Length);
    }

    [Fact]
    public async Task UnknownKey_IsLookedUpOnce_ThenRefusedFromTheNegativeCache_UntilItExpires()
    {
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(await _resolver.TryResolveKeyAsync("oor_made-up", CancellationToken.None));
        }

        Assert.Single(_calls.Hashes);
        await Assert.ThrowsAsync<RpcException>(() => _resolver.ResolveAsync("Bearer oor_made-up", CancellationToken.None));
        Assert.Single(_calls.Hashes);

        _time.Advance(CallerResolver.NegativeCacheLifetime + TimeSpan.FromSeconds(1));
        Assert.Null(await _resolver.TryResolveKeyAsync("oor_made-up", CancellationToken.None));
        Assert.Equal(2, _calls.Hashes.Count);
    }

    [Fact]
    public async Task NegativeCache_IsBounded_ByMaxCacheEntries()
    {
        for (var i = 0; i <= CallerResolver.MaxCacheEntries; i++)
        {
            Assert.Null(await _resolver.TryResolveKeyAsync("oor_rotating-" + i, CancellationToken.None));
        }

        var field = typeof(CallerResolver).GetField("_unknown", BindingFlags.NonPublic | BindingFlags.Instance)!;
        var count = (int)field.FieldType.GetProperty("Count")!.GetValue(field.GetValue(_resolver))!;
        Assert.InRange(count, 1, CallerResolver.MaxCacheEntries);
    }

    [Fact]
    public async Task ValidKey_IsCached_ForCacheLifetime()
    {
        for (var i = 0; i < 10; i++)
        {
            Assert.NotNull(await _resolver.TryResolveKeyAsync(ValidKey, CancellationToken.None));
        }

        Assert.Single(_calls.Hashes);
        _time.Advance(CallerResolver.CacheLifetime + TimeSpan.FromSeconds(1));
        Assert.NotNull(await _resolver.TryResolveKeyAsync(ValidKey, CancellationToken.None));
        Assert.Equal(2, _calls.Hashes.Count);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer ")]
    [InlineData("Bearer oor_made-up")]
    public async Task BadHeaders_AreUnauthenticated_WithOneMessage(string header)
    {
        var ex = await Assert.ThrowsAsync<RpcException>(() => _resolver.ResolveAsync(header, CancellationToken.None));
        Assert.Equal(CallerResolver.InvalidKeyStatus, ex.Status);
    }

    [Fact]
    public async Task OverlongKey_IsRefused_WithoutAStoreLookup()
    {
        Assert.Null(await _resolver.TryResolveKeyAsync(new string('k', ApiKeys.MaxKeyLength + 1), CancellationToken.None));
        Assert.Empty(_calls.Hashes);
    }

    [Fact]
    public async Task AdminKey_IsRecognised_WithoutAStoreLookup()
    {
        Assert.Equal(CallerKind.Admin, (await _resolver.TryResolveKeyAsync("admin-key-for-resolver-tests", CancellationToken.None))!.Kind);
        Assert.Empty(_calls.Hashes);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    /// <summary>A store that knows one key and records every hash it is asked for; any other member fails the test.</summary>
    public class KeyStore : DispatchProxy
    {
        public List<byte[]> Hashes { get; } = [];

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IRegistryStore.FindApiKeyByHashAsync))
            {
                throw new InvalidOperationException($"the resolver called {targetMethod?.Name}");
            }

            var hash = (byte[])args![0]!;
            Hashes.Add(hash);
            var known = SHA256.HashData(Encoding.UTF8.GetBytes(ValidKey));
            ApiKeyRecord? record = hash.AsSpan().SequenceEqual(known)
                ? new ApiKeyRecord("key_1", "hld_1", known, ValidKey[..12], null, DateTimeOffset.UnixEpoch, null)
                : null;
            return Task.FromResult(record);
        }
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

/// <summary>The admin key file: created owner-only, refused when others can read it, never empty.</summary>
public sealed class AdminKeyTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "optout-sec-admin-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void FirstStart_CreatesAnOwnerOnlyFile_WithAnOorKey_AndMatchesItsHashOnly()
    {
        var key = AdminKey.Load(_directory, null);
        var path = Path.Combine(_directory, AdminKey.FileName);
        var text = File.ReadAllText(path).Trim();
        Assert.StartsWith(ApiKeys.KeyPrefix, text, StringComparison.Ordinal);
        Assert.True(key.Matches(ApiKeys.Hash(text)));
        Assert.False(key.Matches(ApiKeys.Hash(text + "x")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void GroupReadableFile_IsRefused_NamingTheFix()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        AdminKey.Load(_directory, null);
        var path = Path.Combine(_directory, AdminKey.FileName);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var ex = Assert.Throws<UnauthorizedAccessException>(() => AdminKey.Load(_directory, null));
        Assert.Contains("chmod 600", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyFile_IsRefused_SayingHowToRegenerate()
    {
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, AdminKey.FileName);
        File.WriteAllText(path, "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var ex = Assert.Throws<FormatException>(() => AdminKey.Load(_directory, null));
        Assert.Contains("delete it", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvironmentKey_IsUsed_AndNoFileIsWritten()
    {
        var key = AdminKey.Load(_directory, "  from-the-environment  ");
        Assert.True(key.Matches(ApiKeys.Hash("from-the-environment")));
        Assert.Null(key.FilePath);
        Assert.False(File.Exists(Path.Combine(_directory, AdminKey.FileName)));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
