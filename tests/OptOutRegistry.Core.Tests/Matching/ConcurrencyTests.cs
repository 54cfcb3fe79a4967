using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>Readers never block, never allocate, and see every write once Apply returns.</summary>
public class ConcurrencyTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(1);

    [Fact]
    public async Task Writes_AreVisibleWhenApplyReturns_WhileReadersRun()
    {
        var index = MatcherIndex.Build([Disallow("seed", Domain("seed.example"))]);
        using var stop = new CancellationTokenSource();
        var failures = 0;
        long checks = 0;
        // The writes start only once both readers are running: on an idle machine the thread pool may otherwise
        // schedule them after the 20,000 writes are already done, and nothing would run concurrently.
        using var readersRunning = new CountdownEvent(2);
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var signalled = false;
            while (!stop.IsCancellationRequested)
            {
                // A seed URL must stay covered through every table growth.
                if (index.CheckUrl("https://www.seed.example/x", UsageCategory.TrainAi, Now) != Verdict.Disallowed)
                {
                    Interlocked.Increment(ref failures);
                }

                index.CheckUrl("https://h123.example/p/5", UsageCategory.TrainAi, Now);
                Interlocked.Increment(ref checks);
                if (!signalled)
                {
                    signalled = true;
                    readersRunning.Signal();
                }
            }
        })).ToArray();

        Assert.True(readersRunning.Wait(TimeSpan.FromSeconds(30)), "the reader threads did not start");

        // 20,000 writes force several growths of every table under the readers.
        for (var i = 0; i < 20_000; i++)
        {
            var r = Disallow($"h{i % 50}", Url($"https://h{i}.example/p/{i % 10}"), Prefix($"h{i}.example/dir{i % 3}/"));
            index.Apply(ReservationChange.Add(r));
            Assert.Equal(Verdict.Disallowed, index.CheckUrl($"https://h{i}.example/p/{i % 10}", UsageCategory.TrainAi, Now));
            Assert.Equal(Verdict.Disallowed, index.CheckUrl($"https://h{i}.example/dir{i % 3}/file", UsageCategory.TrainAi, Now));
        }

        stop.Cancel();
        await Task.WhenAll(readers);
        Assert.Equal(0, failures);
        Assert.True(checks > 0);
        Assert.Equal(40_001, index.SelectorCount);
    }

    /// <summary>
    /// The matcher's own work (suffix walk, probes, rule scans, combination) allocates nothing: a check allocates
    /// exactly what canonicalising the URL alone allocates (0 bytes is the target for both; the canonicaliser is
    /// measured separately so that this test pins the matcher).
    /// </summary>
    [Fact]
    public void CheckUrl_AllocatesNothingBeyondCanonicalisation()
    {
        var list = new List<Reservation>();
        for (var i = 0; i < 1000; i++)
        {
            list.Add(Disallow($"h{i % 10}", Url($"https://site{i}.example/a/{i}.jpg"), Prefix($"site{i}.example/gallery/"),
                Pattern($"site{i}.example/*.pdf$")));
        }

        list.Add(Disallow("d", Domain("example.org")));
        var index = MatcherIndex.Build(list);
        string[] urls =
        [
            "https://site5.example/a/5.jpg", "https://site5.example/gallery/x.png", "https://site5.example/x/y.pdf",
            "https://www.example.org/x?y=1", "https://unknown.example/a", "http://SITE7.example:80/a/./7.jpg#frag",
        ];

        var key = new char[4096];
        foreach (var url in urls)
        {
            // Warm up both paths past tiered compilation: a method re-jitted while a loop runs can allocate on this
            // thread and be charged to whichever loop happens to be measured.
            for (var i = 0; i < 300; i++)
            {
                index.CheckUrl(url, UsageCategory.TrainAi, Now);
                UrlCanonicalizer.TryWriteMatchKey(url, key, out _, out _, out _);
            }
        }

        foreach (var url in urls)
        {
            // Least of three rounds each, for the same reason.
            long canonicalisation = long.MaxValue, check = long.MaxValue;
            for (var round = 0; round < 3; round++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < 1000; i++)
                {
                    UrlCanonicalizer.TryWriteMatchKey(url, key, out _, out _, out _);
                }

                canonicalisation = Math.Min(canonicalisation, GC.GetAllocatedBytesForCurrentThread() - before);
                before = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < 1000; i++)
                {
                    index.CheckUrl(url, UsageCategory.TrainAi, Now);
                }

                check = Math.Min(check, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            Assert.True(check == canonicalisation, $"{url}: 1000 checks allocated {check} bytes, canonicalising alone {canonicalisation}");
        }
    }
}
