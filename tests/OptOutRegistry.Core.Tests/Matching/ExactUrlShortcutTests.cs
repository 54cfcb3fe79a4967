using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>
/// The fast URL check ends early when an exact url selector disallows, and then reads validity and statements stored
/// inline with the URL's hash slot instead of the reservation record. These tests pin the cases where that shortcut
/// must not change an answer: validity instants inside the first day, revocation and supersession after the index was
/// built, reservations from before 2000, and matches that outrank or must not be outranked by the exact URL.
/// The reference is <see cref="MatcherIndex.Check"/>, whose provenance path takes no shortcut.
/// </summary>
public class ExactUrlShortcutTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(30);

    private static Verdict Batch(MatcherIndex index, string url, UsageCategory purpose, DateTimeOffset asOf)
    {
        var verdicts = new Verdict[1];
        index.CheckUrls([url], purpose, asOf, verdicts, new UrlError[1]);
        return verdicts[0];
    }

    private static void AssertAllForms(MatcherIndex index, Verdict expected, string url, UsageCategory purpose, DateTimeOffset asOf)
    {
        Assert.Equal(expected, index.CheckUrl(url, purpose, asOf));
        Assert.Equal(expected, Batch(index, url, purpose, asOf));
        Assert.Equal(expected, index.Check(CheckQuery.Url(url, purpose, asOf)).Verdict);
    }

    [Theory]
    [InlineData(0)] // midnight: the inline day bound is the instant itself
    [InlineData(1)] // one tick after midnight: the whole first day goes to the record
    [InlineData(10 * TimeSpan.TicksPerHour)]
    [InlineData(TimeSpan.TicksPerDay - 1)]
    public void ValidFromInsideADay_IsExactToTheTick(long ticksIntoDay)
    {
        var from = T0.AddDays(3).AddTicks(ticksIntoDay);
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], validFrom: from)]);

        AssertAllForms(index, Verdict.Unknown, "https://example.com/a", UsageCategory.TrainAi, from.AddTicks(-1));
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, from);
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, from.AddDays(1));
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, Now);
    }

    [Fact]
    public void RevokeAfterBuild_EndsTheShortcutAtTheInstant()
    {
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], id: "r1")]);
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, Now);

        var revokedAt = Now.AddHours(-5);
        index.Apply(ReservationChange.Revoke("r1", revokedAt));

        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, revokedAt.AddTicks(-1));
        AssertAllForms(index, Verdict.Unknown, "https://example.com/a", UsageCategory.TrainAi, revokedAt);
        AssertAllForms(index, Verdict.Unknown, "https://example.com/a", UsageCategory.TrainAi, Now);
    }

    [Fact]
    public void SupersedeByAnAllow_TurnsTheExactUrlAround()
    {
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], id: "v1")]);
        var at = Now.AddDays(-1);
        index.Apply(ReservationChange.Supersede("v1", at,
            Make("h", UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)), [Url("https://example.com/a")], registeredAt: at, id: "v2")));

        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, at.AddTicks(-1));
        AssertAllForms(index, Verdict.Allowed, "https://example.com/a", UsageCategory.TrainAi, at);
        AssertAllForms(index, Verdict.Allowed, "https://example.com/a", UsageCategory.TrainAi, Now);
    }

    [Fact]
    public void AddedLaterWithAnEnd_IsNotTrustedInline()
    {
        var index = MatcherIndex.Build([]);
        index.Apply(ReservationChange.Add(Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], validUntil: T0.AddDays(10))));

        AssertAllForms(index, Verdict.Disallowed, "https://example.com/a", UsageCategory.TrainAi, T0.AddDays(10).AddTicks(-1));
        AssertAllForms(index, Verdict.Unknown, "https://example.com/a", UsageCategory.TrainAi, T0.AddDays(10));
    }

    [Fact]
    public void ReservationsFromBefore2000_AreInForce()
    {
        var from = new DateTimeOffset(1999, 6, 1, 12, 0, 0, TimeSpan.Zero);
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/old")], registeredAt: from)]);

        AssertAllForms(index, Verdict.Unknown, "https://example.com/old", UsageCategory.All, from.AddTicks(-1));
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/old", UsageCategory.All, from);
        AssertAllForms(index, Verdict.Disallowed, "https://example.com/old", UsageCategory.All, Now);
    }

    public static TheoryData<string, UsageCategory, Verdict> Combinations => new()
    {
        // Another holder's allow on the same URL does not outweigh a disallow (most restrictive across holders).
        { "https://example.com/both", UsageCategory.TrainAi, Verdict.Disallowed },
        // The exact URL only disallows train-ai; for search the other holder's allow stands.
        { "https://example.com/both", UsageCategory.Search, Verdict.Allowed },
        // An any-query selector is less specific than the same holder's exact URL with the query: allowed.
        { "https://example.com/q?x=1", UsageCategory.All, Verdict.Allowed },
        { "https://example.com/q?x=2", UsageCategory.All, Verdict.Disallowed },
        { "https://example.com/q", UsageCategory.All, Verdict.Disallowed },
        // The exact URL's allow outranks the same holder's prefix disallow …
        { "https://example.net/private/open.jpg", UsageCategory.All, Verdict.Allowed },
        // … and its disallow is final even though the holder's domain selector allows.
        { "https://example.net/public/closed.jpg", UsageCategory.All, Verdict.Disallowed },
        // A genai-only disallow restricts train-ai (a narrower category's disallow) but says nothing about search.
        { "https://example.org/genai", UsageCategory.TrainAi, Verdict.Disallowed },
        { "https://example.org/genai", UsageCategory.Search, Verdict.Unknown },
        { "https://example.org/genai", UsageCategory.TrainGenAi, Verdict.Disallowed },
    };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void ExactUrlDisallow_DecidesOnlyWhenNothingCanOutrankIt(string url, UsageCategory purpose, Verdict expected)
    {
        var index = MatcherIndex.Build(
        [
            Make("photographer", UsageStatements.Of((UsageCategory.TrainAi, UsagePermission.Disallow)), [Url("https://example.com/both")]),
            Allow("agency", Url("https://example.com/both")),
            Allow("news", Url("https://example.com/q?x=1")),
            Disallow("news", Url("https://example.com/q", anyQuery: true)),
            Disallow("archive", Prefix("example.net/private/"), Url("https://example.net/public/closed.jpg")),
            Allow("archive", Url("https://example.net/private/open.jpg"), Domain("example.net")),
            Make("studio", UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow)), [Url("https://example.org/genai")]),
        ]);

        AssertAllForms(index, expected, url, purpose, Now);
    }

    [Theory]
    // Few hosts with many rules each, and many hosts with a few each.
    [InlineData(5, 300, false)]
    [InlineData(30, 400, false)]
    [InlineData(60, 300, false)]
    // The same, half of the reservations added after the build (by Apply: rule lists not compacted).
    [InlineData(30, 400, true)]
    public void RandomRegistries_FastFormsAgreeWithTheProvenancePath(int hostCount, int reservationCount, bool halfAddedLater)
    {
        // Many holders on shared hosts so that exact URLs, prefixes, patterns, hosts and domains of different holders
        // overlap, with validity windows, revocations after the build and every purpose. The reference is the
        // provenance path, which walks every rule list and reads every record.
        var random = new Random(11);
        string[] bases = ["example.com", "www.example.com", "shop.example.com", "example.kz", "news.example.kz"];
        var hosts = Enumerable.Range(0, hostCount).Select(i => i < bases.Length ? bases[i] : $"h{i}.{bases[i % bases.Length]}").ToArray();
        string[] paths = ["/a", "/a/b", "/a/b.pdf", "/c?x=1", "/c", "/img/1.png", "/img/2.jpg"];
        var reservations = new List<Reservation>();
        for (var i = 0; i < reservationCount; i++)
        {
            var host = hosts[random.Next(hosts.Length)];
            var path = paths[random.Next(paths.Length)];
            var selector = random.Next(12) switch
            {
                < 5 => Url($"https://{host}{path}", anyQuery: random.Next(6) == 0),
                5 => Prefix(host + path.Split('?')[0][..Math.Min(path.Split('?')[0].Length, 2 + random.Next(3))]),
                6 => Pattern(host + "/*.png$"),
                7 => Host(host, subdomains: random.Next(2) == 0),
                8 when random.Next(hostCount / 5) == 0 => Domain("example." + (host.EndsWith(".kz", StringComparison.Ordinal) ? "kz" : "com")),
                _ => Url($"https://{host}{path}"),
            };
            var statements = random.Next(4) switch
            {
                0 => UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)),
                1 => UsageStatements.Of((UsageCategory.TrainAi, UsagePermission.Disallow), (UsageCategory.Search, UsagePermission.Allow)),
                2 => UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow)),
                _ => UsageStatements.DisallowAll,
            };
            var registered = T0.AddHours(random.Next(24 * 20));
            var from = registered.AddMinutes(random.Next(2) * random.Next(3000));
            DateTimeOffset? until = random.Next(5) == 0 ? from.AddHours(random.Next(1, 24 * 10)) : null;
            reservations.Add(Make($"holder{random.Next(6)}", statements, [selector], registeredAt: registered,
                validFrom: from, validUntil: until, id: $"x{i}"));
        }

        var later = halfAddedLater ? reservations.Count / 2 : reservations.Count;
        var index = MatcherIndex.Build(reservations.Take(later));
        foreach (var r in reservations.Skip(later))
        {
            index.Apply(ReservationChange.Add(r));
        }

        for (var i = 0; i < reservations.Count; i += 7)
        {
            if (reservations[i].ValidUntil is null)
            {
                index.Apply(ReservationChange.Revoke(reservations[i].Id, reservations[i].ValidFrom.AddHours(random.Next(24 * 15))));
            }
        }

        var purposes = new[] { UsageCategory.All, UsageCategory.TrainAi, UsageCategory.TrainGenAi, UsageCategory.Search };
        var compared = 0;
        var disallowed = 0;
        var samples = Math.Max(2, 60 / hosts.Length);
        foreach (var host in hosts)
        {
            foreach (var path in paths)
            {
                var url = $"https://{host}{path}";
                for (var k = 0; k < samples; k++)
                {
                    var asOf = T0.AddMinutes(random.Next(-60 * 24 * 5, 60 * 24 * 40));
                    var purpose = purposes[random.Next(purposes.Length)];
                    var expected = index.Check(CheckQuery.Url(url, purpose, asOf)).Verdict;
                    Assert.Equal(expected, index.CheckUrl(url, purpose, asOf));
                    Assert.Equal(expected, Batch(index, url, purpose, asOf));
                    compared++;
                    disallowed += expected == Verdict.Disallowed ? 1 : 0;
                }
            }
        }

        // The table must exercise both outcomes, or it proves nothing about the shortcut.
        Assert.Equal(hosts.Length * paths.Length * samples, compared);
        Assert.InRange(disallowed, compared / 10, compared * 9 / 10);
    }
}
