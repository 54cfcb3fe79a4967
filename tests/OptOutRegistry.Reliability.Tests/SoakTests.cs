using OptOutRegistry.Reliability.Soak;
using Xunit.Abstractions;

namespace OptOutRegistry.Reliability.Tests;

/// <summary>
/// The short soak (issue 9, deliverable 2): ~45 s of mixed load against one real server process. The long run
/// (10 minutes) is benchmarks/Reliability/run.sh.
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Soak_45SecondsOfMixedLoad_NoErrorsFlatMemoryStableP99()
    {
        var progress = new StringWriter();
        var report = await SoakHarness.RunAsync(new SoakOptions
        {
            Duration = TimeSpan.FromSeconds(45),
            SampleInterval = TimeSpan.FromSeconds(5),
            WarmUp = TimeSpan.FromSeconds(15),
            SeedReservations = 200,
            Workers = 4,
            Progress = progress,
        });
        output.WriteLine(progress.ToString());
        output.WriteLine(report.ToMarkdown());

        // Passed = zero errors (every verdict checked too), RSS after warm-up within 1.5x or +128 MiB at the end, and the
        // last third's p99 within 5x of the first third's (or under 50 ms).
        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.Empty(report.Errors);
        Assert.Equal(0, report.RateLimited);
        Assert.True(report.Checks > 0 && report.StreamChecks > 0 && report.StreamChecks < report.Checks,
            $"{report.Checks} checks, {report.StreamChecks} of them on streams: both kinds must have run");
        Assert.True(report.Registrations > 0 && report.Revocations > 0, $"{report.Registrations} registrations, {report.Revocations} revocations");
        Assert.InRange(report.Samples.Count, 9, 11);
        Assert.All(report.Samples, s => Assert.True(s.RssBytes > 0, $"no RSS at {s.ElapsedSeconds} s"));
        // The GC heap comes from the runtime's counters over EventPipe: it must have reported by the end.
        Assert.True(report.GcHeap.End is > 0, $"GC heap unavailable: {report.GcHeapUnavailable}");
    }
}
