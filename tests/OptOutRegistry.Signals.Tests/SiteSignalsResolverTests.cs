using System.Text;
using Microsoft.AspNetCore.Http;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Resolution;

namespace OptOutRegistry.Signals.Tests;

/// <summary>
/// The resolver against a real local site (Kestrel on loopback): fetch semantics of RFC 9309 §2.3, caching,
/// every signal on the wire, hostile inputs. Nothing here may crash or hang.
/// </summary>
public sealed class SiteSignalsResolverTests : IAsyncLifetime
{
    private static readonly SiteSignalsOptions FastOptions = new() { RequestTimeout = TimeSpan.FromSeconds(3) };
    private TestSite _site = null!;

    public async Task InitializeAsync() => _site = await TestSite.StartAsync();

    public async Task DisposeAsync() => await _site.DisposeAsync();

    private async Task<SiteDecision> Resolve(string path, string agent = "GPTBot", UsageCategory purpose = UsageCategory.TrainAi,
        IRegistryVerdictSource? registry = null, SiteSignalsOptions? options = null)
    {
        using var resolver = new SiteSignalsResolver(options: options ?? FastOptions, registry: registry);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await resolver.ResolveAsync(_site.Url(path), agent, purpose, cts.Token);
    }

    private static SignalContribution Only(SiteDecision d, SignalMechanism m) => Assert.Single(d.Contributions, c => c.Mechanism == m);

    [Fact]
    public async Task RobotsDisallowsAgent_Disallowed_AndPageIsNotFetched()
    {
        _site.Text("/robots.txt", "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n");
        _site.Text("/page", "<html></html>", "text/html");
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Contains("line 2", Only(d, SignalMechanism.RobotsTxt).Detail);
        Assert.Equal(0, _site.Hits("/page"));
    }

    [Fact]
    public async Task Robots404_EverythingAllowed_NoStatementIsUnknown()
    {
        _site.Text("/page", "<html></html>", "text/html");
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Unknown, d.Decision);
        Assert.Contains("404", Only(d, SignalMechanism.RobotsTxt).Detail);
        Assert.Equal(1, _site.Hits("/page"));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(429)]
    public async Task RobotsServerError_CompleteDisallow(int status)
    {
        _site.Status("/robots.txt", status);
        var d = await Resolve("/page", purpose: UsageCategory.Search);
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Contains("unreachable", Only(d, SignalMechanism.RobotsTxt).Detail);
    }

    [Fact]
    public async Task RobotsTimeout_CompleteDisallow()
    {
        _site.Map("/robots.txt", async ctx =>
        {
            await Task.Delay(TimeSpan.FromSeconds(20), ctx.RequestAborted).ContinueWith(_ => { });
        });
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Contains("timed out", Only(d, SignalMechanism.RobotsTxt).Detail);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"took {sw.Elapsed}");
    }

    [Fact]
    public async Task RobotsNetworkError_CompleteDisallow()
    {
        _site.Map("/robots.txt", ctx =>
        {
            ctx.Abort();
            return Task.CompletedTask;
        });
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
    }

    [Fact]
    public async Task RobotsRedirectedFiveTimes_IsFollowed()
    {
        _site.Redirect("/robots.txt", "/r1");
        for (var i = 1; i < 5; i++)
        {
            _site.Redirect($"/r{i}", $"/r{i + 1}", i % 2 == 0 ? 301 : 307);
        }

        _site.Text("/r5", "User-agent: *\nDisallow: /private/\n");
        var d = await Resolve("/private/x");
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Contains("5 redirect", Only(d, SignalMechanism.RobotsTxt).Detail);
    }

    [Fact]
    public async Task RobotsRedirectLoop_TreatedAsUnavailable()
    {
        _site.Redirect("/robots.txt", "/loop");
        _site.Redirect("/loop", "/robots.txt");
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Unknown, d.Decision);
        Assert.Contains("more than 5 redirects", Only(d, SignalMechanism.RobotsTxt).Detail);
    }

    [Fact]
    public async Task RobotsRedirectCrossHost_IsFollowed()
    {
        await using var other = await TestSite.StartAsync();
        other.Text("/robots.txt", "User-agent: GPTBot\nDisallow: /\n");
        _site.Redirect("/robots.txt", other.Url("/robots.txt").ToString());
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
    }

    [Fact]
    public async Task RobotsOversized_PrefixIsParsed()
    {
        var sb = new StringBuilder("User-agent: *\nDisallow: /private/\n");
        while (sb.Length < 1024 * 1024)
        {
            sb.Append("Disallow: /filler/").Append(sb.Length).Append('\n');
        }

        _site.Text("/robots.txt", sb.ToString());
        var d = await Resolve("/private/x");
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Contains("first", Only(d, SignalMechanism.RobotsTxt).Detail);
    }

    [Fact]
    public async Task RobotsBinaryGarbage_NoRules()
    {
        var garbage = new byte[200_000];
        new Random(7).NextBytes(garbage);
        _site.Bytes("/robots.txt", garbage, "application/octet-stream");
        var d = await Resolve("/page");
        Assert.NotEqual(Verdict.Disallowed, d.Decision);
    }

    [Fact]
    public async Task RobotsHugeSingleLine_DoesNotHang()
    {
        _site.Text("/robots.txt", "User-agent: *\nDisallow: /" + new string('*', 400_000) + "x");
        var d = await Resolve("/" + new string('a', 2000));
        Assert.NotNull(d);
    }

    [Fact]
    public async Task Robots_IsCachedPerOrigin()
    {
        _site.Text("/robots.txt", "User-agent: *\nAllow: /\n");
        using var resolver = new SiteSignalsResolver(options: FastOptions);
        for (var i = 0; i < 5; i++)
        {
            await resolver.ResolveAsync(_site.Url($"/p{i}"), "GPTBot", UsageCategory.TrainAi);
        }

        Assert.Equal(1, _site.Hits("/robots.txt"));
        Assert.Equal(1, _site.Hits("/.well-known/tdmrep.json"));
    }

    [Fact]
    public async Task Robots_CacheExpires()
    {
        _site.Text("/robots.txt", "User-agent: *\nAllow: /\n");
        var time = new ManualTime();
        using var resolver = new SiteSignalsResolver(options: FastOptions, time: time);
        await resolver.ResolveAsync(_site.Url("/a"), "GPTBot", UsageCategory.TrainAi);
        time.Advance(TimeSpan.FromHours(25));
        await resolver.ResolveAsync(_site.Url("/b"), "GPTBot", UsageCategory.TrainAi);
        Assert.Equal(2, _site.Hits("/robots.txt"));
    }

    [Fact]
    public async Task Robots_UnreachableAfterSuccess_UsesStaleCopy()
    {
        _site.Text("/robots.txt", "User-agent: *\nAllow: /\n");
        var time = new ManualTime();
        using var resolver = new SiteSignalsResolver(options: FastOptions, time: time);
        await resolver.ResolveAsync(_site.Url("/a"), "GPTBot", UsageCategory.TrainAi);
        _site.Status("/robots.txt", 503);
        time.Advance(TimeSpan.FromHours(25));
        var d = await resolver.ResolveAsync(_site.Url("/b"), "GPTBot", UsageCategory.TrainAi);
        Assert.Equal(Verdict.Unknown, d.Decision);
        Assert.Contains("using the copy", Only(d, SignalMechanism.RobotsTxt).Detail);
    }

    [Fact]
    public async Task ControlToken_GoogleExtendedGovernsGooglebotTraining()
    {
        _site.Text("/robots.txt", "User-agent: Google-Extended\nDisallow: /\n\nUser-agent: *\nAllow: /\n");
        Assert.Equal(Verdict.Disallowed, (await Resolve("/p", "Googlebot", UsageCategory.TrainAi)).Decision);
        Assert.Equal(Verdict.Unknown, (await Resolve("/p", "Googlebot", UsageCategory.Search)).Decision);
    }

    [Fact]
    public async Task RobotsContentUsage_ForNamedAgent_Allowed()
    {
        _site.Text("/robots.txt", "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n\nUser-Agent: GPTBot\nAllow: /\nContent-Usage: train-ai=y\n");
        Assert.Equal(Verdict.Allowed, (await Resolve("/p", "GPTBot")).Decision);
        Assert.Equal(Verdict.Disallowed, (await Resolve("/p", "CCBot")).Decision);
    }

    [Fact]
    public async Task TdmrepFile_ReservesAllMining()
    {
        _site.Text("/.well-known/tdmrep.json", """[{"location":"/","tdm-reservation":1,"tdm-policy":"https://example.com/policy.json"}]""", "application/json");
        var train = await Resolve("/article");
        Assert.Equal(Verdict.Disallowed, train.Decision);
        Assert.Contains("policy https://example.com/policy.json", Only(train, SignalMechanism.Tdmrep).Detail);
        Assert.Equal(Verdict.Disallowed, (await Resolve("/article", purpose: UsageCategory.Search)).Decision);
    }

    [Fact]
    public async Task TdmrepFile_NoMatchingLocation_Unknown()
    {
        _site.Text("/.well-known/tdmrep.json", """[{"location":"/articles/","tdm-reservation":1}]""", "application/json");
        var d = await Resolve("/shop/item");
        Assert.Equal(Verdict.Unknown, d.Decision);
        Assert.Contains("no rule matches", Only(d, SignalMechanism.Tdmrep).Detail);
    }

    [Fact]
    public async Task Tdmrep_HeaderSupersedesFile_HtmlSupersedesHeader()
    {
        _site.Text("/.well-known/tdmrep.json", """[{"location":"/","tdm-reservation":1}]""", "application/json");
        _site.Text("/header0", "plain", "text/plain", ("tdm-reservation", "0"));
        _site.Text("/html1", "<html><head><meta name=\"tdm-reservation\" content=\"1\"></head></html>", "text/html", ("tdm-reservation", "0"));
        Assert.Equal(Verdict.Allowed, (await Resolve("/header0")).Decision);
        Assert.Equal(Verdict.Disallowed, (await Resolve("/html1")).Decision);
    }

    [Fact]
    public async Task TdmrepDeepJson_DoesNotCrash()
    {
        _site.Text("/.well-known/tdmrep.json", new string('[', 50_000) + new string(']', 50_000), "application/json");
        var d = await Resolve("/p");
        Assert.Contains("JSON", Only(d, SignalMechanism.Tdmrep).Detail);
    }

    [Fact]
    public async Task TdmrepOversized_IsRejected()
    {
        _site.Text("/.well-known/tdmrep.json", "[" + string.Join(",", Enumerable.Repeat("""{"location":"/x","tdm-reservation":1}""", 20_000)) + "]", "application/json");
        var d = await Resolve("/p");
        Assert.Contains("larger than", Only(d, SignalMechanism.Tdmrep).Detail);
    }

    [Theory]
    [InlineData("X-Robots-Tag", "noai", Verdict.Disallowed)]
    [InlineData("X-Robots-Tag", "otherbot: noai", Verdict.Unknown)]
    [InlineData("Content-Usage", "train-ai=n", Verdict.Disallowed)]
    [InlineData("Content-Usage", "train-ai=y", Verdict.Allowed)]
    [InlineData("Content-Usage", "TRAIN-AI=n", Verdict.Unknown)]
    [InlineData("Content-Signal", "ai-train=no", Verdict.Disallowed)]
    [InlineData("tdm-reservation", "1", Verdict.Disallowed)]
    public async Task ResponseHeader_Signal(string name, string value, Verdict expected)
    {
        _site.Text("/img.jpg", "jpeg", "image/jpeg", (name, value));
        Assert.Equal(expected, (await Resolve("/img.jpg")).Decision);
    }

    [Fact]
    public async Task MultipleXRobotsTagHeaders_Combine()
    {
        _site.Map("/img.png", async ctx =>
        {
            ctx.Response.ContentType = "image/png";
            ctx.Response.Headers.Append("X-Robots-Tag", "noarchive");
            ctx.Response.Headers.Append("X-Robots-Tag", "gptbot: noimageai");
            await ctx.Response.WriteAsync("png");
        });
        Assert.Equal(Verdict.Disallowed, (await Resolve("/img.png")).Decision);
    }

    [Fact]
    public async Task HtmlMetaNoai_Disallowed_AndRslLinksListed()
    {
        _site.Text("/page", "<html><head><meta name=\"robots\" content=\"NoAI\"><link rel=\"license\" href=\"https://e.com/l.xml\"></head></html>", "text/html; charset=utf-8",
            ("Link", "<https://e.com/rsl.xml>; rel=\"license\"; type=\"application/rsl+xml\""));
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Equal(2, d.Contributions.Count(c => c.Mechanism == SignalMechanism.RslLicense));
    }

    [Fact]
    public async Task HtmlInvalidUtf8AndHugePage_DoNotCrash()
    {
        var bytes = new List<byte>("<html><head><meta name=\"robots\" content=\"noai\">"u8.ToArray());
        bytes.AddRange(new byte[] { 0xC3, 0x28, 0xFF, 0xFE });
        bytes.AddRange(Encoding.UTF8.GetBytes(new string('x', 6 * 1024 * 1024)));
        _site.Bytes("/page", [.. bytes], "text/html");
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Disallowed, d.Decision);
    }

    [Fact]
    public async Task PageServerError_SignalsFromRobotsStillApply()
    {
        _site.Text("/robots.txt", "User-agent: *\nContent-Usage: train-ai=n\n");
        _site.Status("/page", 500);
        Assert.Equal(Verdict.Disallowed, (await Resolve("/page")).Decision);
    }

    [Fact]
    public async Task PageRedirectLoop_DoesNotHang()
    {
        _site.Redirect("/page", "/page");
        var d = await Resolve("/page");
        Assert.Equal(Verdict.Unknown, d.Decision);
    }

    [Fact]
    public async Task Registry_MostRestrictiveWithSignals()
    {
        _site.Text("/robots.txt", "User-agent: GPTBot\nAllow: /\n");
        var d = await Resolve("/p", registry: new FixedRegistry(Verdict.Disallowed));
        Assert.Equal(Verdict.Disallowed, d.Decision);
        Assert.Equal(Verdict.Allowed, Only(d, SignalMechanism.RobotsTxt).Verdict);
        Assert.Equal(Verdict.Disallowed, Only(d, SignalMechanism.Registry).Verdict);
    }

    [Fact]
    public async Task Registry_Failure_IsUnknownNotACrash()
    {
        var d = await Resolve("/p", registry: new ThrowingRegistry());
        Assert.Contains("not reachable", Only(d, SignalMechanism.Registry).Detail);
    }

    [Fact]
    public async Task PoliteConcurrency_AtMostTwoRequestsPerHost()
    {
        var current = 0;
        var max = 0;
        _site.Map("/slow", async ctx =>
        {
            var n = Interlocked.Increment(ref current);
            InterlockedMax(ref max, n);
            await Task.Delay(100);
            Interlocked.Decrement(ref current);
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.WriteAsync("ok");
        });
        using var resolver = new SiteSignalsResolver(options: FastOptions with { RequestTimeout = TimeSpan.FromSeconds(10) });
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => resolver.ResolveAsync(_site.Url("/slow?i=" + i), "GPTBot", UsageCategory.TrainAi)));
        Assert.InRange(max, 1, 2);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private sealed class FixedRegistry(Verdict verdict) : IRegistryVerdictSource
    {
        public ValueTask<RegistryVerdict> CheckAsync(string url, UsageCategory purpose, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new RegistryVerdict(verdict, "reservation r-1 (url selector)"));
    }

    private sealed class ThrowingRegistry : IRegistryVerdictSource
    {
        public ValueTask<RegistryVerdict> CheckAsync(string url, UsageCategory purpose, CancellationToken cancellationToken) =>
            throw new HttpRequestException("connection refused");
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
