using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>DESIGN.md combination rules: most specific within a holder, most restrictive across holders; time; categories.</summary>
public class CombinationTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(30);

    [Theory]
    // Holder disallows the domain but allows one URL, a prefix and a pattern (carve-outs).
    [InlineData("https://example.com/press/kit.jpg", Verdict.Allowed)]
    [InlineData("https://example.com/press/other.jpg", Verdict.Disallowed)]
    [InlineData("https://example.com/public/a.html", Verdict.Allowed)]
    [InlineData("https://example.com/public/secret/a.html", Verdict.Disallowed)]
    [InlineData("https://www.example.com/public/a.html", Verdict.Disallowed)]
    [InlineData("https://example.com/thumbs/a.png", Verdict.Allowed)]
    [InlineData("https://example.com/thumbs/a.jpg", Verdict.Disallowed)]
    [InlineData("https://blog.example.com/", Verdict.Allowed)]
    [InlineData("https://blog.example.com/drafts/1", Verdict.Disallowed)]
    public void WithinOneHolder_TheMostSpecificSelectorWins(string url, Verdict expected)
    {
        var index = MatcherIndex.Build(
        [
            Disallow("publisher", Domain("example.com")),
            Allow("publisher", Url("https://example.com/press/kit.jpg")),
            Allow("publisher", Prefix("example.com/public/")),
            Disallow("publisher", Prefix("example.com/public/secret/")),
            Allow("publisher", Pattern("example.com/thumbs/*.png$")),
            Allow("publisher", Host("blog.example.com")),
            Disallow("publisher", Prefix("blog.example.com/drafts/")),
        ]);

        Assert.Equal(expected, index.CheckUrl(url, UsageCategory.TrainAi, Now));
        Assert.Equal(expected, index.Check(CheckQuery.Url(url, UsageCategory.TrainAi, Now)).Verdict);
    }

    [Fact]
    public void AcrossHolders_TheMostRestrictiveWins_AndBothAreReported()
    {
        var index = MatcherIndex.Build(
        [
            Make("photographer", UsageStatements.DisallowAll, [Url("https://news.example/p/1.jpg")], id: "r-photo",
                policyUrl: "https://photographer.example/licence"),
            Make("newspaper", UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)), [Host("news.example", verified: true)], id: "r-news"),
        ]);

        var result = index.Check(CheckQuery.Url("https://news.example/p/1.jpg", UsageCategory.TrainGenAi, Now));
        Assert.Equal(Verdict.Disallowed, result.Verdict);
        Assert.Equal(2, result.Matches.Count);
        var photo = Assert.Single(result.Matches, m => m.ReservationId == "r-photo");
        Assert.Equal("photographer", photo.HolderId);
        Assert.Equal(SelectorKind.Url, photo.SelectorKind);
        Assert.Equal("news.example/p/1.jpg", photo.SelectorText);
        Assert.False(photo.HostVerified);
        Assert.Equal("https://photographer.example/licence", photo.PolicyUrl);
        Assert.Equal(UsageCategory.All, photo.DecidingCategory);
        Assert.Equal(UsagePermission.Disallow, photo.Permission);
        Assert.True(photo.IsDeciding);
        var news = Assert.Single(result.Matches, m => m.ReservationId == "r-news");
        Assert.Equal(SelectorKind.Host, news.SelectorKind);
        Assert.Equal("news.example", news.SelectorText);
        Assert.True(news.HostVerified);
        Assert.Null(news.PolicyUrl);
        Assert.Equal(UsagePermission.Allow, news.Permission);

        // The newspaper's own URLs stay allowed.
        Assert.Equal(Verdict.Allowed, index.CheckUrl("https://news.example/p/2.jpg", UsageCategory.TrainGenAi, Now));
    }

    [Fact]
    public void CarveOut_IsReportedAsOverridden()
    {
        var index = MatcherIndex.Build(
        [
            Make("h", UsageStatements.DisallowAll, [Domain("example.com")], id: "broad"),
            Make("h", UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)), [Url("https://example.com/ok")], id: "narrow"),
        ]);

        var result = index.Check(CheckQuery.Url("https://example.com/ok", UsageCategory.Search, Now));
        Assert.Equal(Verdict.Allowed, result.Verdict);
        Assert.True(Assert.Single(result.Matches, m => m.ReservationId == "narrow").IsDeciding);
        var broad = Assert.Single(result.Matches, m => m.ReservationId == "broad");
        Assert.False(broad.IsDeciding);
        Assert.Equal(SelectorKind.Domain, broad.SelectorKind);
        Assert.Equal("example.com", broad.SelectorText);
    }

    [Fact]
    public void AReservationSilentOnThePurpose_DoesNotCarveOut()
    {
        // The URL reservation only allows search; for training the domain reservation still decides.
        var index = MatcherIndex.Build(
        [
            Disallow("h", Domain("example.com")),
            Make("h", UsageStatements.Of((UsageCategory.Search, UsagePermission.Allow)), [Url("https://example.com/a")]),
        ]);

        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Allowed, index.CheckUrl("https://example.com/a", UsageCategory.Search, Now));
    }

    [Theory]
    // all=disallow reaches every category.
    [InlineData("all=disallow", UsageCategory.TrainGenAi, Verdict.Disallowed)]
    [InlineData("all=disallow", UsageCategory.Search, Verdict.Disallowed)]
    // train-ai=disallow reaches train-genai (inherited) and the root (narrower disallow), not its siblings.
    [InlineData("train-ai=disallow", UsageCategory.TrainGenAi, Verdict.Disallowed)]
    [InlineData("train-ai=disallow", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("train-ai=disallow", UsageCategory.AiUse, Verdict.Unknown)]
    [InlineData("train-ai=disallow", UsageCategory.Search, Verdict.Unknown)]
    [InlineData("train-ai=disallow", UsageCategory.All, Verdict.Disallowed)]
    // A train-genai reservation restricts a check for train-ai and for all: those uses may include generative training.
    [InlineData("train-genai=disallow", UsageCategory.TrainGenAi, Verdict.Disallowed)]
    [InlineData("train-genai=disallow", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("train-genai=disallow", UsageCategory.All, Verdict.Disallowed)]
    [InlineData("train-genai=disallow", UsageCategory.AiUse, Verdict.Unknown)]
    [InlineData("search=disallow", UsageCategory.All, Verdict.Disallowed)]
    // A child's own statement beats its parent's for the child.
    [InlineData("all=disallow,search=allow", UsageCategory.Search, Verdict.Allowed)]
    [InlineData("all=disallow,search=allow", UsageCategory.AiUse, Verdict.Disallowed)]
    [InlineData("all=disallow,train-ai=allow", UsageCategory.TrainGenAi, Verdict.Allowed)]
    [InlineData("all=disallow,train-ai=allow", UsageCategory.TrainAi, Verdict.Allowed)]
    // ALLOWED only when the applicable statement allows and nothing narrower disallows.
    [InlineData("all=allow,train-genai=disallow", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("all=allow,train-genai=disallow", UsageCategory.TrainGenAi, Verdict.Disallowed)]
    [InlineData("all=allow,train-genai=disallow", UsageCategory.All, Verdict.Disallowed)]
    [InlineData("all=allow,train-genai=disallow", UsageCategory.Search, Verdict.Allowed)]
    [InlineData("all=allow,train-ai=disallow,train-genai=allow", UsageCategory.TrainGenAi, Verdict.Allowed)]
    [InlineData("all=allow,train-ai=disallow,train-genai=allow", UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData("train-genai=allow", UsageCategory.TrainAi, Verdict.Unknown)]
    [InlineData("search=allow", UsageCategory.All, Verdict.Unknown)]
    [InlineData("ai-use=disallow", UsageCategory.TrainGenAi, Verdict.Unknown)]
    public void Categories_InheritFromTheirParent_AndNarrowerDisallowsRestrict(string statements, UsageCategory purpose, Verdict expected)
    {
        var list = statements.Split(',').Select(s =>
        {
            var kv = s.Split('=');
            Assert.True(UsageCategories.TryParse(kv[0], out var c));
            Assert.True(UsagePermissions.TryParse(kv[1], out var p));
            return (c, p);
        }).ToArray();
        var index = MatcherIndex.Build([Make("h", UsageStatements.Of(list), [Url("https://example.com/a")])]);
        Assert.Equal(expected, index.CheckUrl("https://example.com/a", purpose, Now));
        Assert.Equal(expected, index.Check(CheckQuery.Url("https://example.com/a", purpose, Now)).Verdict);
        Assert.Equal(expected, UsageStatements.Of(list).Decide(purpose, out _));
    }

    [Theory]
    [InlineData(UsageCategory.TrainAi, UsageCategory.TrainGenAi)]
    [InlineData(UsageCategory.All, UsageCategory.TrainGenAi)]
    [InlineData(UsageCategory.TrainGenAi, UsageCategory.TrainGenAi)]
    public void ANarrowerDisallow_IsNamedInTheProvenance(UsageCategory purpose, UsageCategory deciding)
    {
        var index = MatcherIndex.Build(
        [
            Make("author", UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow)), [Url("https://example.kz/books/abai.pdf")], id: "r-genai"),
        ]);

        var result = index.Check(CheckQuery.Url("https://example.kz/books/abai.pdf", purpose, Now));
        Assert.Equal(Verdict.Disallowed, result.Verdict);
        var match = Assert.Single(result.Matches);
        Assert.Equal("r-genai", match.ReservationId);
        Assert.Equal(deciding, match.DecidingCategory);
        Assert.Equal(UsagePermission.Disallow, match.Permission);
        Assert.True(match.IsDeciding);
    }

    [Fact]
    public void ANarrowerDisallow_IsStillCarvedOutByAMoreSpecificAllowOfTheSameHolder()
    {
        // The holder reserves generative training on the domain but allows everything on one URL: the URL's statement
        // is its holder's most specific one, and it allows train-ai with nothing narrower disallowed there.
        var index = MatcherIndex.Build(
        [
            Make("h", UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow)), [Domain("example.com")]),
            Make("h", UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)), [Url("https://example.com/free")]),
        ]);

        Assert.Equal(Verdict.Allowed, index.CheckUrl("https://example.com/free", UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/other", UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/other", UsageCategory.Search, Now));
    }

    [Fact]
    public void ValidityWindow_IsInclusiveAtTheStartAndExclusiveAtTheEnd()
    {
        var from = T0.AddDays(1);
        var until = T0.AddDays(10);
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], T0, from, until)]);

        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/a", UsageCategory.All, T0));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/a", UsageCategory.All, from.AddTicks(-1)));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.All, from));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.All, until.AddTicks(-1)));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/a", UsageCategory.All, until));

        // Instants in other offsets are the same instants.
        var fromInAlmaty = from.ToOffset(TimeSpan.FromHours(5));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.All, fromInAlmaty));
    }

    [Fact]
    public void Revoke_EndsTheReservationAtTheInstant_AndKeepsHistory()
    {
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Domain("example.com")], id: "r1")]);
        var revokedAt = T0.AddDays(5);
        index.Apply(ReservationChange.Revoke("r1", revokedAt));

        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/", UsageCategory.All, revokedAt.AddTicks(-1)));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/", UsageCategory.All, revokedAt));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/", UsageCategory.All, Now));
        var e = Assert.Throws<ModelValidationException>(() => index.Apply(ReservationChange.Revoke("r1", Now)));
        Assert.Equal("reservation_id", e.Field);
        Assert.Contains("already revoked", e.Message);
    }

    [Fact]
    public void Supersede_SwitchesFromTheOldToTheNewReservationAtTheInstant()
    {
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], id: "v1")]);
        var at = T0.AddDays(7);
        var v2 = Make("h", UsageStatements.Of((UsageCategory.TrainAi, UsagePermission.Disallow), (UsageCategory.Search, UsagePermission.Allow)),
            [Url("https://example.com/a"), Url("https://example.com/b")], registeredAt: at, id: "v2");
        index.Apply(ReservationChange.Supersede("v1", at, v2));

        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.Search, at.AddTicks(-1)));
        Assert.Equal(Verdict.Allowed, index.CheckUrl("https://example.com/a", UsageCategory.Search, at));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/b", UsageCategory.TrainAi, at.AddTicks(-1)));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/b", UsageCategory.TrainAi, at));
        var result = index.Check(CheckQuery.Url("https://example.com/a", UsageCategory.Search, Now));
        Assert.Equal("v2", Assert.Single(result.Matches).ReservationId);
    }

    [Fact]
    public void Build_ReplaysReservationsInAnyState()
    {
        var active = Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], id: "a");
        var revoked = Make("h", UsageStatements.DisallowAll, [Url("https://example.com/b")], id: "b").Revoke(T0.AddDays(2));
        var superseded = Make("h", UsageStatements.DisallowAll, [Url("https://example.com/c")], id: "c").Supersede("a", T0.AddDays(3));
        var index = MatcherIndex.Build([active, revoked, superseded]);

        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/b", UsageCategory.All, T0.AddDays(1)));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/b", UsageCategory.All, T0.AddDays(2)));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/c", UsageCategory.All, T0.AddDays(3).AddTicks(-1)));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/c", UsageCategory.All, T0.AddDays(3)));
        Assert.Equal(3, index.ReservationCount);
    }

    [Fact]
    public void BadWrites_AreRefusedAndChangeNothing()
    {
        var index = MatcherIndex.Build([Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], id: "a")]);
        Assert.Equal("id", Assert.Throws<ModelValidationException>(() =>
            index.Apply(ReservationChange.Add(Make("h", UsageStatements.DisallowAll, [Url("https://example.com/z")], id: "a")))).Field);
        Assert.Equal("reservation_id", Assert.Throws<ModelValidationException>(() =>
            index.Apply(ReservationChange.Revoke("missing", Now))).Field);

        // Superseding with a replacement whose id is taken leaves the original in force.
        Assert.Throws<ModelValidationException>(() => index.Apply(ReservationChange.Supersede("a", Now,
            Make("h", UsageStatements.DisallowAll, [Url("https://example.com/a")], registeredAt: Now, id: "a"))));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.All, Now.AddDays(1)));
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/z", UsageCategory.All, Now));
    }

    [Fact]
    public void NowIsTakenFromTheConfiguredClock()
    {
        var clock = new ManualClock(T0.AddDays(-1));
        var index = MatcherIndex.Build([Disallow("h", Url("https://example.com/a"))], new MatcherOptions { TimeProvider = clock });
        Assert.Equal(Verdict.Unknown, index.CheckUrl("https://example.com/a", UsageCategory.All));
        clock.Now = T0;
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/a", UsageCategory.All));
    }

    [Fact]
    public void ManyHoldersOnOneUrl_AreAllCombined()
    {
        // More holders than the allocation-free accumulator keeps inline.
        var list = new List<Reservation>();
        for (var i = 0; i < 20; i++)
        {
            list.Add(Allow($"holder{i}", Url("https://example.com/shared")));
        }

        list.Add(Disallow("holder-last", Url("https://example.com/shared")));
        var index = MatcherIndex.Build(list);
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/shared", UsageCategory.All, Now));
        Assert.Equal(21, index.Check(CheckQuery.Url("https://example.com/shared", UsageCategory.All, Now)).Matches.Count);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
