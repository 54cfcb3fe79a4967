using OptOutRegistry.Reliability.Crash;
using Xunit.Abstractions;

namespace OptOutRegistry.Reliability.Tests;

/// <summary>
/// Short versions of the end-to-end crash harness (issue 9, deliverable 1): the real server process, SQLite and
/// PostgreSQL, a few SIGKILLs each. The long run (50 kills per store) is benchmarks/Reliability/run.sh.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private const int Kills = 3;

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Crash_ServerKilledAtRandomMoments_AcknowledgedWritesSurviveAndEverythingVerifies(string store)
    {
        var progress = new StringWriter();
        var report = await CrashHarness.RunAsync(new CrashOptions { Store = store, Kills = Kills, Clients = 4, Progress = progress });
        output.WriteLine(progress.ToString());
        output.WriteLine(report.ToMarkdown());

        Assert.True(report.Passed, string.Join("\n", report.Failures));
        Assert.Equal(Kills, report.Kills);
        Assert.Equal(Kills, report.Rounds.Count);
        // The audits must have had something to hold the server to: acknowledged writes, heads, verdicts.
        Assert.True(report.AcknowledgedRegistrations > 0, "no registration was acknowledged before any kill");
        Assert.True(report.InclusionChecks >= report.AcknowledgedRegistrations, $"{report.InclusionChecks} inclusion checks for {report.AcknowledgedRegistrations} registrations");
        Assert.True(report.ConsistencyChecks >= Kills, $"only {report.ConsistencyChecks} consistency checks");
        Assert.True(report.VerdictsCompared >= report.AcknowledgedRegistrations, $"only {report.VerdictsCompared} verdicts compared");
        // The kill must land while writes are in flight, not after the clients went quiet.
        Assert.True(report.InFlightAtKill > 0, "no write was in flight at any kill");
    }

    [Fact]
    public async Task Crash_DatabaseRolledBackAfterAKill_AuditReportsTheLostWritesAndTheInconsistentLog()
    {
        // Fault injection: after the first kill the data directory is copied; after the second it is put back, so the
        // second round's acknowledged writes vanish. An auditor that passes this would pass anything.
        var saved = Directory.CreateTempSubdirectory("optout-crash-rollback-").FullName;
        try
        {
            var report = await CrashHarness.RunAsync(new CrashOptions
            {
                Store = "sqlite",
                Kills = 2,
                Clients = 2,
                MinWriteTime = TimeSpan.FromMilliseconds(1500),
                MaxWriteTime = TimeSpan.FromMilliseconds(2000),
                AfterKill = (round, dataDirectory) =>
                {
                    if (round == 0)
                    {
                        CopyDirectory(dataDirectory, saved);
                    }
                    else
                    {
                        Directory.Delete(dataDirectory, recursive: true);
                        CopyDirectory(saved, dataDirectory);
                    }

                    return Task.CompletedTask;
                },
            });
            output.WriteLine(report.ToMarkdown());

            Assert.False(report.Passed);
            Assert.Contains(report.Failures, f => f.StartsWith("acknowledged registration", StringComparison.Ordinal) && f.Contains("is missing after the restart", StringComparison.Ordinal));
            Assert.Contains(report.Failures, f => f.Contains("was handed out before the crash, but the restarted log has only", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(saved, recursive: true);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
