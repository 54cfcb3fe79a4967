using System.Net;
using OptOutRegistry.Server.RateLimiting;

namespace OptOutRegistry.Security.Tests;

/// <summary>The buckets themselves: which clients share one, and what a refused request is told.</summary>
public sealed class CheckRateLimiterTests
{
    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    [InlineData("::1", "::/64")]
    public void AddressPartition_IsTheIPv4Address_OrTheIPv6Slash64(string address, string partition) =>
        Assert.Equal(partition, CheckRateLimiter.AddressPartition(IPAddress.Parse(address)));

    [Fact]
    public void RotatingIPv6AddressesInOneSlash64_ShareOneBucket_AnotherSlash64HasItsOwn()
    {
        using var limiter = new CheckRateLimiter(new CheckRateLimitOptions { PerAddressPerSecond = 100, PerKeyPerSecond = 100 });
        Assert.Null(limiter.TryAcquire(IPAddress.Parse("2001:db8:0:1::1"), null, 100));
        for (var i = 2; i < 50; i++)
        {
            var retry = limiter.TryAcquire(IPAddress.Parse($"2001:db8:0:1:{i:x}::{i:x}"), null, 100);
            Assert.NotNull(retry);
            Assert.True(retry > TimeSpan.Zero);
        }

        Assert.Null(limiter.TryAcquire(IPAddress.Parse("2001:db8:0:2::1"), null, 100));
    }

    [Fact]
    public void KeyedCallers_AreLimitedPerKey_NotByTheirAddress()
    {
        using var limiter = new CheckRateLimiter(new CheckRateLimitOptions { PerAddressPerSecond = 100, PerKeyPerSecond = 100 });
        var address = IPAddress.Parse("198.51.100.1");
        Assert.Null(limiter.TryAcquire(address, null, 100));
        Assert.NotNull(limiter.TryAcquire(address, null, 100));
        Assert.Null(limiter.TryAcquire(address, "key_A", 100));
        Assert.NotNull(limiter.TryAcquire(address, "key_A", 100));
        Assert.Null(limiter.TryAcquire(address, "key_B", 100));
    }

    [Fact]
    public void ZeroTurnsALimitOff()
    {
        using var limiter = new CheckRateLimiter(new CheckRateLimitOptions { PerAddressPerSecond = 0, PerKeyPerSecond = 0 });
        for (var i = 0; i < 100; i++)
        {
            Assert.Null(limiter.TryAcquire(IPAddress.Loopback, null, 1_000_000));
            Assert.Null(limiter.TryAcquire(IPAddress.Loopback, "key", 1_000_000));
        }
    }
}
