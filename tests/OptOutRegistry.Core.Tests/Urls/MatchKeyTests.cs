using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>Match keys as a rights holder and a crawler would check them: which URLs are the same, which are not, and why a URL is refused.</summary>
public sealed class MatchKeyTests
{
    [Theory]
    // http and https are the same resource; case of scheme and host does not matter.
    [InlineData("https://example.com/photos/cat.jpg", "example.com/photos/cat.jpg")]
    [InlineData("http://example.com/photos/cat.jpg", "example.com/photos/cat.jpg")]
    [InlineData("HTTPS://EXAMPLE.com/photos/cat.jpg", "example.com/photos/cat.jpg")]
    // www is a different host from the apex (a domain selector covers both; a url selector does not).
    [InlineData("https://www.example.com/photos/cat.jpg", "www.example.com/photos/cat.jpg")]
    // Default ports dropped, other ports kept.
    [InlineData("https://example.com:443/a", "example.com/a")]
    [InlineData("http://example.com:80/a", "example.com/a")]
    [InlineData("https://example.com:8443/a", "example.com:8443/a")]
    [InlineData("http://example.com:0080/a", "example.com/a")]
    // Empty path is "/"; trailing dot of the host dropped; credentials dropped; fragment dropped.
    [InlineData("https://example.com", "example.com/")]
    [InlineData("https://example.com./a", "example.com/a")]
    [InlineData("https://user:secret@example.com/a", "example.com/a")]
    [InlineData("https://example.com/a#section-2", "example.com/a")]
    // Dot segments and backslashes.
    [InlineData("https://example.com/a/./b/../c", "example.com/a/c")]
    [InlineData("https://example.com/a/%2e%2E/c", "example.com/c")]
    [InlineData("https:\\\\example.com\\a\\b", "example.com/a/b")]
    // Percent-encoding: unreserved decoded, hex upper-cased, reserved kept encoded, spaces encoded, stray % escaped.
    [InlineData("https://example.com/%7Euser/%41bc", "example.com/~user/Abc")]
    [InlineData("https://example.com/a%2fb", "example.com/a%2Fb")]
    [InlineData("https://example.com/a b", "example.com/a%20b")]
    [InlineData("https://example.com/a%20b", "example.com/a%20b")]
    [InlineData("https://example.com/100%", "example.com/100%25")]
    [InlineData("https://example.com/caf%c3%a9", "example.com/caf%C3%A9")]
    [InlineData("https://example.com/café", "example.com/caf%C3%A9")]
    // Query kept as is (order matters), unreserved decoded; an empty query is dropped.
    [InlineData("https://example.com/s?b=2&a=1", "example.com/s?b=2&a=1")]
    [InlineData("https://example.com/s?q=%7e&x=a b", "example.com/s?q=~&x=a%20b")]
    [InlineData("https://example.com/s?it's", "example.com/s?it%27s")]
    [InlineData("https://example.com/s?", "example.com/s")]
    [InlineData("https://example.com/s?#frag", "example.com/s")]
    // IDN hosts in Cyrillic (Kazakh and Russian domains), paths in Cyrillic.
    [InlineData("https://пример.рф/", "xn--e1afmkfd.xn--p1ai/")]
    [InlineData("https://ПРИМЕР.РФ/", "xn--e1afmkfd.xn--p1ai/")]
    [InlineData("http://xn--e1afmkfd.xn--p1ai/", "xn--e1afmkfd.xn--p1ai/")]
    [InlineData("https://сайт.қаз/кітап", "xn--80aswg.xn--80ao21a/%D0%BA%D1%96%D1%82%D0%B0%D0%BF")]
    [InlineData("https://kitap.kz/%D0%BA%D1%96%D1%82%D0%B0%D0%BF", "kitap.kz/%D0%BA%D1%96%D1%82%D0%B0%D0%BF")]
    [InlineData("https://kitap.kz/%d0%ba%d1%96%d1%82%d0%b0%d0%bf", "kitap.kz/%D0%BA%D1%96%D1%82%D0%B0%D0%BF")]
    [InlineData("https://bücher.de/", "xn--bcher-kva.de/")]
    // IP literals in canonical form.
    [InlineData("http://0x7f.1/", "127.0.0.1/")]
    [InlineData("http://[0:0::1]:8080/", "[::1]:8080/")]
    // The URL standard skips any number of slashes after a special scheme (browsers agree).
    [InlineData("http:///example.com/path", "example.com/path")]
    // Surrounding whitespace, tabs and newlines are removed as browsers do.
    [InlineData("  https://exa\tmple.com/a\n ", "example.com/a")]
    public void GetMatchKey_Url_GivesCanonicalKey(string url, string expected) =>
        Assert.Equal(expected, UrlCanonicalizer.GetMatchKey(url));

    [Theory]
    [InlineData("https://example.com/a", "https://www.example.com/a")]
    [InlineData("https://example.com/a", "https://example.com:8080/a")]
    [InlineData("https://example.com/a/b", "https://example.com/a%2Fb")]
    [InlineData("https://example.com/a?x=1", "https://example.com/a")]
    [InlineData("https://example.com/a?x=1&y=2", "https://example.com/a?y=2&x=1")]
    [InlineData("https://example.com/A", "https://example.com/a")]
    [InlineData("https://example.com/a+b", "https://example.com/a%20b")]
    public void GetMatchKey_DifferentResources_GiveDifferentKeys(string a, string b) =>
        Assert.NotEqual(UrlCanonicalizer.GetMatchKey(a), UrlCanonicalizer.GetMatchKey(b));

    [Theory]
    [InlineData("", UrlError.Empty)]
    [InlineData("   ", UrlError.Empty)]
    [InlineData("ftp://example.com/file", UrlError.UnsupportedScheme)]
    [InlineData("mailto:someone@example.com", UrlError.UnsupportedScheme)]
    [InlineData("data:text/plain,hello", UrlError.UnsupportedScheme)]
    [InlineData("file:///etc/passwd", UrlError.UnsupportedScheme)]
    [InlineData("/relative/path", UrlError.MissingScheme)]
    [InlineData("example.com/path", UrlError.MissingScheme)]
    [InlineData("http://", UrlError.MissingHost)]
    [InlineData("https://:443/path", UrlError.MissingHost)]
    [InlineData("https://user@/path", UrlError.MissingHost)]
    [InlineData("https://exa mple.com/", UrlError.InvalidCharacter)]
    [InlineData("https://exa<mple.com/", UrlError.InvalidCharacter)]
    [InlineData("https://example.com:99999/", UrlError.InvalidPort)]
    [InlineData("https://example.com:8o/", UrlError.InvalidPort)]
    [InlineData("https://[::1/", UrlError.InvalidIpv6Address)]
    [InlineData("https://[1:2:3]/", UrlError.InvalidIpv6Address)]
    [InlineData("https://1.2.3.256/", UrlError.InvalidIpv4Address)]
    [InlineData("https://example.0x/", UrlError.InvalidIpv4Address)]
    [InlineData("https://xn--a.ß/", UrlError.InvalidHost)]
    [InlineData("https://\u200d.example/", UrlError.InvalidHost)]
    [InlineData("https://%C0%80.com/", UrlError.InvalidPercentEncoding)]
    public void TryWriteMatchKey_BadUrl_IsRefusedWithReason(string url, UrlError expected)
    {
        Span<char> destination = stackalloc char[256];
        Assert.False(UrlCanonicalizer.TryWriteMatchKey(url, destination, out var written, out _, out var error));
        Assert.Equal(expected, error);
        Assert.Equal(0, written);
        var ex = Assert.Throws<UrlFormatException>(() => UrlCanonicalizer.GetMatchKey(url));
        Assert.Equal(expected, ex.Error);
        Assert.Equal(UrlErrors.Describe(expected), ex.Reason);
    }

    [Fact]
    public void TryWriteMatchKey_TooLong_IsRefused()
    {
        var url = "https://example.com/" + new string('a', UrlCanonicalizer.MaxUrlLength);
        Assert.False(UrlCanonicalizer.TryWriteMatchKey(url, new char[20000], out _, out _, out var error));
        Assert.Equal(UrlError.TooLong, error);
        Assert.Contains("8192", UrlErrors.Describe(error), StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_EveryError_HasAReason()
    {
        foreach (var error in Enum.GetValues<UrlError>())
        {
            var reason = UrlErrors.Describe(error);
            Assert.False(string.IsNullOrWhiteSpace(reason));
            Assert.NotEqual("the URL is invalid", reason);
        }
    }

    [Theory]
    [InlineData("https://Example.com:8080/a/b?x=1#f", "example.com:8080/a/b?x=1", 11, 16, 16, 20)]
    [InlineData("http://example.com/", "example.com/", 11, 11, 11, -1)]
    [InlineData("http://example.com/p?", "example.com/p", 11, 11, 11, -1)]
    public void TryWriteMatchKey_Parts_LocateHostPortPathQuery(string url, string key, int hostLength, int portEnd, int pathStart, int queryStart)
    {
        Span<char> destination = stackalloc char[256];
        Assert.True(UrlCanonicalizer.TryWriteMatchKey(url, destination, out var written, out var parts, out var error));
        Assert.Equal(UrlError.None, error);
        Assert.Equal(key, destination[..written].ToString());
        Assert.Equal(new MatchKeyParts(hostLength, portEnd, pathStart, queryStart), parts);
        Assert.Equal('/', destination[parts.PathStart]);
    }

    [Theory]
    [InlineData("https://example.com/100%/a?b%")]
    [InlineData("https://example.com/a%7e%7e%7e?q=%41%41")]
    [InlineData("https://example.com/plain/path?and=query")]
    [InlineData("https://example.com")]
    [InlineData("https://Пример.рф/%")]
    public void TryWriteMatchKey_EveryDestinationSize_FitsExactlyOrRefusesCleanly(string url)
    {
        var expected = UrlCanonicalizer.GetMatchKey(url);
        for (var size = 0; size <= expected.Length + 4; size++)
        {
            var destination = new char[size];
            var ok = UrlCanonicalizer.TryWriteMatchKey(url, destination, out var written, out _, out var error);
            if (size >= expected.Length)
            {
                Assert.True(ok, $"size {size}: {error}");
                Assert.Equal(expected, new string(destination, 0, written));
            }
            else
            {
                Assert.False(ok);
                Assert.Equal(UrlError.DestinationTooSmall, error);
            }
        }
    }

    [Fact]
    public void TryWriteMatchKey_DestinationTooSmall_IsRefused()
    {
        Span<char> destination = stackalloc char[10];
        Assert.False(UrlCanonicalizer.TryWriteMatchKey("https://example.com/long/path", destination, out _, out _, out var error));
        Assert.Equal(UrlError.DestinationTooSmall, error);
    }

    [Fact]
    public void TryWriteMatchKey_AsciiUrls_AllocateNothing()
    {
        string[] urls =
        [
            "https://www.example.com/photos/2024/cat.jpg?size=large&v=2#top",
            "http://EXAMPLE.org:8080/a/./b/../c/%7euser/index.html",
            "https://news.example.co.uk/world/2025/11/22/story-title-goes-here",
            "https://cdn.example.net/img/a%2fb/c.png?sig=abc%3d%3d",
            "http://127.0.0.1:3000/api/v1/items?id=42",
        ];
        var destination = new char[1024];
        foreach (var url in urls)
        {
            Assert.True(UrlCanonicalizer.TryWriteMatchKey(url, destination, out _, out _, out _));
        }

        // The least of three rounds: a per-call allocation shows in every round, while the runtime's own one-off work on
        // this thread (tiered compilation starting its background worker, seen once in a clean-clone run) does not repeat.
        var least = long.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                foreach (var url in urls)
                {
                    UrlCanonicalizer.TryWriteMatchKey(url, destination, out _, out _, out _);
                }
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, least);
    }

    [Theory]
    [InlineData("WWW.Example.COM.", "www.example.com")]
    [InlineData("ПРИМЕР.РФ", "xn--e1afmkfd.xn--p1ai")]
    [InlineData("сайт.қаз", "xn--80aswg.xn--80ao21a")]
    [InlineData("  blog.example.kz  ", "blog.example.kz")]
    [InlineData("192.168.000.001", "192.168.0.1")]
    [InlineData("[::FFFF:1.2.3.4]", "[::ffff:102:304]")]
    public void NormalizeHost_SelectorHost_IsCanonical(string host, string expected)
    {
        Assert.Equal(expected, UrlCanonicalizer.NormalizeHost(host));

        // The normalised host is exactly the host part of the key of any URL on it.
        Span<char> destination = stackalloc char[256];
        Assert.True(UrlCanonicalizer.TryWriteMatchKey("https://" + host.Trim() + "/x", destination, out var written, out var parts, out _));
        Assert.Equal(expected, destination[..parts.HostLength].ToString());
        Assert.Equal(expected + "/x", destination[..written].ToString());
    }

    [Theory]
    [InlineData("", UrlError.Empty)]
    [InlineData("example.com:8080", UrlError.InvalidCharacter)]
    [InlineData("example.com/path", UrlError.InvalidCharacter)]
    [InlineData("exa mple.com", UrlError.InvalidCharacter)]
    [InlineData("xn--a.ß", UrlError.InvalidHost)]
    [InlineData("999.1.1.1", UrlError.InvalidIpv4Address)]
    public void NormalizeHost_BadHost_IsRefusedWithReason(string host, UrlError expected)
    {
        var ex = Assert.Throws<UrlFormatException>(() => UrlCanonicalizer.NormalizeHost(host));
        Assert.Equal(expected, ex.Error);
    }

    [Theory]
    [InlineData("/a/./b/../c?x=%7e#frag", "/a/c?x=~")]
    [InlineData("gallery/", "/gallery/")]
    [InlineData("", "/")]
    [InlineData("/photos/*.jpg$", "/photos/*.jpg$")]
    [InlineData("/Мақала/", "/%D0%9C%D0%B0%D2%9B%D0%B0%D0%BB%D0%B0/")]
    [InlineData("/a%2fb", "/a%2Fb")]
    public void NormalizePath_SelectorPath_MatchesKeyPathRule(string path, string expected)
    {
        Assert.Equal(expected, UrlCanonicalizer.NormalizePath(path));
        var trimmed = path.Split('#')[0];
        var key = UrlCanonicalizer.GetMatchKey("https://example.com" + (trimmed.StartsWith('/') ? trimmed : "/" + trimmed));
        Assert.Equal("example.com" + expected, key);
    }

    [Fact]
    public void TryWriteMatchKey_IdnHostsFromManyThreads_GiveTheSameKeys()
    {
        // ICU's UTS #46 object is shared by all threads; it must be safe to use concurrently.
        string[] urls = ["https://пример.рф/a", "https://сайт.қаз/b", "https://bücher.de/c", "https://ПРИМЕР.РФ/a"];
        var expected = urls.Select(UrlCanonicalizer.GetMatchKey).ToArray();
        Parallel.For(0, 8, worker =>
        {
            var destination = new char[256];
            for (var i = 0; i < 5000; i++)
            {
                var k = i % urls.Length;
                Assert.True(UrlCanonicalizer.TryWriteMatchKey(urls[k], destination, out var written, out _, out _));
                Assert.Equal(expected[k], new string(destination, 0, written));
            }
        });
    }
}
