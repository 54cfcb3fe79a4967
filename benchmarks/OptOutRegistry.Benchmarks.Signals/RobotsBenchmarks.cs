using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptOutRegistry.Signals.Robots;

namespace OptOutRegistry.Benchmarks.Signals;

/// <summary>The benchmark data: a 200-line robots.txt with AI groups and 1,000 paths, shared with protego_bench.py.</summary>
public static class BenchData
{
    /// <summary>Agents cycled over the paths, as in protego_bench.py: half of the checks fall to the 150-rule '*' group.</summary>
    public static readonly string[] Agents = ["GPTBot", "Googlebot", "ExampleCrawler", "ExampleCrawler"];

    public const string Origin = "https://www.example-news.test";

    public static byte[] Robots { get; } = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "robots-200.txt"));

    public static string[] Paths { get; } =
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "paths.txt")).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public static string[] Urls { get; } = Array.ConvertAll(Paths, p => Origin + p);

    /// <summary>The path and query of an absolute URL, sliced without allocating (what a crawler holding URL strings does).</summary>
    public static ReadOnlySpan<char> PathOf(string url)
    {
        var afterScheme = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var slash = url.IndexOf('/', afterScheme);
        return slash < 0 ? "/" : url.AsSpan(slash);
    }
}

/// <summary>robots.txt parse time and IsAllowed throughput (per check).</summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class RobotsBenchmarks
{
    private RobotsTxt _robots = null!;
    private string[] _paths = null!;
    private string[] _urls = null!;

    [GlobalSetup]
    public void Setup()
    {
        _robots = RobotsTxt.Parse(BenchData.Robots);
        _paths = BenchData.Paths;
        _urls = BenchData.Urls;
    }

    [Benchmark(Description = "Parse 200-line robots.txt")]
    public RobotsTxt Parse() => RobotsTxt.Parse(BenchData.Robots);

    [Benchmark(Description = "IsAllowed(path, agent), per check", OperationsPerInvoke = 1000)]
    public int IsAllowedPath()
    {
        var allowed = 0;
        var paths = _paths;
        var agents = BenchData.Agents;
        for (var i = 0; i < paths.Length; i++)
        {
            if (_robots.IsAllowed(paths[i], agents[i & 3]))
            {
                allowed++;
            }
        }

        return allowed;
    }

    [Benchmark(Description = "IsAllowed(full URL → path slice, agent), per check", OperationsPerInvoke = 1000)]
    public int IsAllowedUrl()
    {
        var allowed = 0;
        var urls = _urls;
        var agents = BenchData.Agents;
        for (var i = 0; i < urls.Length; i++)
        {
            if (_robots.IsAllowed(BenchData.PathOf(urls[i]), agents[i & 3]))
            {
                allowed++;
            }
        }

        return allowed;
    }
}

/// <summary>A plain stopwatch loop measured exactly like protego_bench.py, for the side-by-side ratio in run.sh.</summary>
public static class QuickRun
{
    public static void Run(double seconds)
    {
        var robotsBytes = BenchData.Robots;

        // Warm up the JIT before timing, as Python's loop has no JIT to warm.
        for (var i = 0; i < 2000; i++)
        {
            RobotsTxt.Parse(robotsBytes);
        }

        var sw = System.Diagnostics.Stopwatch.StartNew();
        var n = 0;
        while (sw.Elapsed.TotalSeconds < 1.0)
        {
            RobotsTxt.Parse(robotsBytes);
            n++;
        }

        var parseUs = sw.Elapsed.TotalMicroseconds / n;
        var robots = RobotsTxt.Parse(robotsBytes);
        var urls = BenchData.Urls;
        var agents = BenchData.Agents;
        var answers = new StringBuilder(urls.Length);
        var allowed = 0;
        for (var i = 0; i < urls.Length; i++)
        {
            var ok = robots.IsAllowed(BenchData.PathOf(urls[i]), agents[i % agents.Length]);
            allowed += ok ? 1 : 0;
            answers.Append(ok ? '1' : '0');
        }

        for (var w = 0; w < 200; w++)
        {
            Loop(robots, urls, agents);
        }

        long checks = 0;
        sw.Restart();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            checks += Loop(robots, urls, agents);
        }

        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(answers.ToString())))[..16];
        Console.WriteLine($"dotnet.parse_us={parseUs:F1}");
        Console.WriteLine($"dotnet.checks_per_s={checks / sw.Elapsed.TotalSeconds:F0}");
        Console.WriteLine($"dotnet.allowed={allowed}/{urls.Length}");
        Console.WriteLine($"dotnet.answers_sha256={digest}");
    }

    private static int Loop(RobotsTxt robots, string[] urls, string[] agents)
    {
        var n = 0;
        for (var i = 0; i < urls.Length; i++)
        {
            n += robots.IsAllowed(BenchData.PathOf(urls[i]), agents[i & 3]) ? 1 : 0;
        }

        return urls.Length + (n & 0);
    }
}
