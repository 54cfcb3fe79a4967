using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>
/// The match key on the check hot path: raw URL string → canonical key, on a realistic crawl mix
/// (see <see cref="UrlMix"/>), next to what a .NET user would otherwise reach for: <see cref="Uri"/>
/// (which neither follows the WHATWG standard nor drops the scheme, and allocates) and this library's
/// allocating <see cref="WhatwgUrl"/> object API. Each invocation processes all <see cref="UrlMix.Count"/> URLs.
/// Run: <c>dotnet run -c Release --project benchmarks/OptOutRegistry.Benchmarks.Core -- --filter *UrlCanonicalizer*</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ShortInProcessConfig))]
public class UrlCanonicalizerBenchmarks
{
    private readonly char[] _destination = new char[UrlCanonicalizer.MaxUrlLength * 2];
    private string[] _mixed = null!;
    private string[] _ascii = null!;
    private string[] _idn = null!;
    private HashSet<string> _rawSet = null!;

    [GlobalSetup]
    public void Setup()
    {
        _mixed = UrlMix.Create(UrlMix.Count, idnShare: 0.05);
        _ascii = UrlMix.Create(UrlMix.Count, idnShare: 0);
        _idn = UrlMix.Create(UrlMix.Count, idnShare: 1);
        _rawSet = new HashSet<string>(UrlMix.Create(100_000, idnShare: 0.05, seed: 7), StringComparer.Ordinal);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = UrlMix.Count, Description = "TryWriteMatchKey, mix (5% IDN)")]
    public int MatchKeyMixed() => Keys(_mixed);

    [Benchmark(OperationsPerInvoke = UrlMix.Count, Description = "TryWriteMatchKey, ASCII only")]
    public int MatchKeyAscii() => Keys(_ascii);

    [Benchmark(OperationsPerInvoke = UrlMix.Count, Description = "TryWriteMatchKey, Cyrillic IDN hosts")]
    public int MatchKeyIdn() => Keys(_idn);

    [Benchmark(OperationsPerInvoke = UrlMix.Count, Description = "WhatwgUrl.TryParse + Href, mix")]
    public int WhatwgObject()
    {
        var total = 0;
        foreach (var url in _mixed)
        {
            if (WhatwgUrl.TryParse(url, null, out var parsed, out _))
            {
                total += parsed.Href.Length;
            }
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = UrlMix.Count, Description = "yardstick: HashSet<string>.Contains(raw URL), 100k set, mix")]
    public int RawHashSet()
    {
        var total = 0;
        foreach (var url in _mixed)
        {
            if (_rawSet.Contains(url))
            {
                total++;
            }
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = UrlMix.Count, Description = "peer: new Uri + GetComponents(HostAndPort|PathAndQuery), mix")]
    public int SystemUri()
    {
        var total = 0;
        foreach (var url in _mixed)
        {
            if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
            {
                total += uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.UriEscaped).Length;
            }
        }

        return total;
    }

    private int Keys(string[] urls)
    {
        var total = 0;
        foreach (var url in urls)
        {
            if (UrlCanonicalizer.TryWriteMatchKey(url, _destination, out var written, out _, out _))
            {
                total += written;
            }
        }

        return total;
    }
}

/// <summary>
/// One short in-process job: no separate benchmark build (which timed out on the shared, loaded build machine),
/// 3 warm-up and 10 measured iterations.
/// </summary>
public sealed class ShortInProcessConfig : ManualConfig
{
    public ShortInProcessConfig() =>
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithStrategy(RunStrategy.Throughput)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(10));
}

/// <summary>
/// A deterministic crawl-like URL mix: news/shop/blog/CDN URLs on .com/.org/.kz/.co.uk/.рф/.қаз hosts, 1-6 path
/// segments, 40% with a query, 10% with a fragment, 10% mixed-case hosts, 10% with percent-escapes, 5% with an
/// explicit port (half of them default), 3% with dot segments.
/// </summary>
public static class UrlMix
{
    /// <summary>URLs per invocation.</summary>
    public const int Count = 4096;

    private static readonly string[] s_asciiHosts =
    [
        "www.example.com", "news.example.co.uk", "shop.example.kz", "cdn.images-example.net", "blog.example.org",
        "example.com", "media.tengrinews.kz", "static.example-cdn.com", "en.wikipedia.org", "github.com",
    ];

    private static readonly string[] s_idnHosts = ["пример.рф", "www.кітап.қаз", "жаңалықтар.kz", "магазин.рф", "сайт.қаз"];

    private static readonly string[] s_words =
    [
        "news", "2025", "11", "photos", "gallery", "article", "world", "sport", "images", "product", "category",
        "story-title-goes-here", "index.html", "cat.jpg", "video", "api", "v1", "items", "user", "profile",
    ];

    public static string[] Create(int count, double idnShare, int seed = 20261122)
    {
        var random = new Random(seed);
        var urls = new string[count];
        var sb = new StringBuilder(256);
        for (var i = 0; i < count; i++)
        {
            sb.Clear();
            sb.Append(random.Next(4) == 0 ? "http://" : "https://");
            var host = random.NextDouble() < idnShare ? s_idnHosts[random.Next(s_idnHosts.Length)] : s_asciiHosts[random.Next(s_asciiHosts.Length)];
            sb.Append(random.Next(10) == 0 ? host.ToUpperInvariant() : host);
            var r = random.Next(40);
            if (r == 0)
            {
                sb.Append(":443");
            }
            else if (r == 1)
            {
                sb.Append(":8080");
            }

            var segments = 1 + random.Next(6);
            for (var s = 0; s < segments; s++)
            {
                sb.Append('/').Append(s_words[random.Next(s_words.Length)]);
                if (random.Next(30) == 0)
                {
                    sb.Append("/./x/..");
                }

                if (random.Next(10) == 0)
                {
                    sb.Append("%7e%2Fa%20b");
                }
            }

            if (random.Next(5) < 2)
            {
                sb.Append("?id=").Append(random.Next(100000)).Append("&utm_source=feed&q=a%20b");
            }

            if (random.Next(10) == 0)
            {
                sb.Append("#section-").Append(random.Next(10));
            }

            urls[i] = sb.ToString();
        }

        return urls;
    }
}
