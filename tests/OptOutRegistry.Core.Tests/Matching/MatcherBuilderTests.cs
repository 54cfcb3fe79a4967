using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Matching.Internal;
using OptOutRegistry.Core.Model;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>
/// The bulk build from prepared rows (<see cref="PreparedSelector"/>, <see cref="PreparedReservation"/>,
/// <see cref="MatcherBuilder"/>) against the model path (<see cref="Selector.Create(SelectorKind, string, SelectorOptions, Domains.PublicSuffixList?)"/>,
/// <see cref="Reservation"/>, <see cref="MatcherIndex.Build"/>): same keys, same refusals, same matcher.
/// </summary>
public sealed class MatcherBuilderTests
{
    [Theory]
    [InlineData("https://example.com/a", false)]
    [InlineData("HTTPS://Example.COM:443/a/./b/../c?q=1#frag", false)]
    [InlineData("http://example.com:80/", false)]
    [InlineData("http://example.com:8080/x?y", false)]
    [InlineData("example.com/no-scheme", false)]
    [InlineData("  https://example.com/trimmed  ", false)]
    [InlineData("https://example.com/search?q=1&r=2", true)]
    [InlineData("https://example.com/search", true)]
    [InlineData("https://Bücher.example/страница?ä=ö", false)]
    [InlineData("https://example.com/%7euser/%41", false)]
    [InlineData("https://[2001:db8::1]/v6", false)]
    [InlineData("https://192.168.0.1/v4", false)]
    [InlineData("https://example.com.", false)]
    [InlineData("https://example.com/" + "long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-long-segment-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ-ÄÖÜ", false)]
    public void TryPrepare_Url_SameKeyAsTheSelector(string value, bool anyQuery)
    {
        var options = anyQuery ? SelectorOptions.AnyQuery : SelectorOptions.None;
        var selector = Selector.Create(SelectorKind.Url, value, options);

        Assert.True(PreparedSelector.TryPrepare(SelectorKind.Url, value, options, hostVerified: true, out var prepared, out _, out var error), error);

        Assert.Equal(KeyHasher.Hash(selector.Text), prepared.KeyHash);
        Assert.Equal(KeyHasher.HostHash(selector.Authority!), prepared.AuthorityHash);
        Assert.Equal(anyQuery, prepared.AnyQuery);
        Assert.True(prepared.HostVerified);
        Assert.Null(prepared.Selector);
    }

    [Theory]
    [InlineData(SelectorKind.Url, "", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Url, "   ", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Url, "http://exa mple.com/", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Url, "ftp://example.com/x", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Url, "http://[::1/unclosed", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Url, "https://example.com/x", SelectorOptions.IncludeSubdomains, "options")]
    [InlineData(SelectorKind.Host, "example.com", SelectorOptions.AnyQuery, "options")]
    [InlineData(SelectorKind.Domain, "www.example.com", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Sha256, "abc", SelectorOptions.None, "value")]
    [InlineData(SelectorKind.Pattern, "example.com/a$b", SelectorOptions.None, "value")]
    public void TryPrepare_Invalid_RefusedAsTheSelectorIs(SelectorKind kind, string value, SelectorOptions options, string field)
    {
        Assert.False(Selector.TryCreate(kind, value, options, null, out _, out var expectedField, out _));

        Assert.False(PreparedSelector.TryPrepare(kind, value, options, false, out var prepared, out var actualField, out var error));

        Assert.Equal(field, expectedField);
        Assert.Equal(field, actualField);
        Assert.False(string.IsNullOrEmpty(error));
        Assert.False(prepared.IsValid);
    }

    [Fact]
    public void TryPrepare_UrlLongerThanTheLimit_Refused()
    {
        var value = "https://example.com/" + new string('a', Selector.MaxValueLength);
        Assert.False(PreparedSelector.TryPrepare(SelectorKind.Url, value, SelectorOptions.None, false, out _, out var field, out var error));
        Assert.Equal("value", field);
        Assert.Contains("longer than", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryPrepare_ContentKindVerified_FlagDropped()
    {
        Assert.True(PreparedSelector.TryPrepare(SelectorKind.Sha256, new string('a', 64), SelectorOptions.None, true, out var prepared, out _, out _));
        Assert.False(prepared.HostVerified);
        Assert.NotNull(prepared.Selector);
    }

    public static TheoryData<string> InvalidReservations() =>
    [
        "id", "holder_id", "valid_from", "valid_until", "statements", "state_changed_at:active", "state_changed_at:missing",
        "state_changed_at:early", "superseded_by:missing", "superseded_by:revoked", "state",
    ];

    [Theory]
    [MemberData(nameof(InvalidReservations))]
    public void TryCreate_Invalid_RefusedWithTheFieldTheConstructorNames(string variant)
    {
        string id = "r1", holder = "h1";
        long registered = T0.UtcTicks, from = T0.UtcTicks;
        long? until = null, changed = null;
        var state = ReservationState.Active;
        string? supersededBy = null;
        ushort statements = UsageStatements.DisallowAll.Packed;
        switch (variant)
        {
            case "id": id = "has space"; break;
            case "holder_id": holder = string.Empty; break;
            case "valid_from": from = registered - 1; break;
            case "valid_until": until = from; break;
            case "statements": statements = 0; break;
            case "state_changed_at:active": changed = registered; break;
            case "state_changed_at:missing": state = ReservationState.Revoked; break;
            case "state_changed_at:early": state = ReservationState.Revoked; changed = registered - 1; break;
            case "superseded_by:missing": state = ReservationState.Superseded; changed = registered; break;
            case "superseded_by:revoked": state = ReservationState.Revoked; changed = registered; supersededBy = "r2"; break;
            case "state": state = (ReservationState)7; changed = registered; break;
        }

        var ok = PreparedReservation.TryCreate(id, holder, registered, from, until, state, changed, supersededBy, statements, null, out _, out var field, out var error);
        var thrown = Record.Exception(() => new Reservation(id, holder, new DateTimeOffset(registered, TimeSpan.Zero), new DateTimeOffset(from, TimeSpan.Zero),
            until is { } u ? new DateTimeOffset(u, TimeSpan.Zero) : null, [Url("https://example.com/")],
            statements == 0 ? new UsageStatements([]) : UsageStatements.DisallowAll, null, state,
            changed is { } c ? new DateTimeOffset(c, TimeSpan.Zero) : null, supersededBy));

        Assert.False(ok);
        var expected = Assert.IsType<ModelValidationException>(thrown);
        Assert.Equal(expected.Field, field);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData(UsageCategory.All, UsagePermission.Disallow, UsageCategory.Search, UsagePermission.Allow, true)]
    [InlineData(UsageCategory.TrainAi, UsagePermission.Disallow, UsageCategory.TrainAi, UsagePermission.Allow, false)]
    [InlineData(UsageCategory.All, (UsagePermission)0, UsageCategory.Search, UsagePermission.Allow, false)]
    [InlineData((UsageCategory)9, UsagePermission.Allow, UsageCategory.Search, UsagePermission.Allow, false)]
    public void TryAddStatement_PacksAsUsageStatements(UsageCategory c1, UsagePermission p1, UsageCategory c2, UsagePermission p2, bool valid)
    {
        ushort packed = 0;
        var ok = PreparedReservation.TryAddStatement(ref packed, c1, p1, out _) & PreparedReservation.TryAddStatement(ref packed, c2, p2, out _);
        Assert.Equal(valid, ok);
        if (valid)
        {
            Assert.Equal(new UsageStatements([new UsageStatement(c1, p1), new UsageStatement(c2, p2)]).Packed, packed);
        }
        else
        {
            Assert.ThrowsAny<ModelValidationException>(() => new UsageStatements([new UsageStatement(c1, p1), new UsageStatement(c2, p2)]));
        }
    }

    private static IReadOnlyList<Reservation> Mixed()
    {
        var changed = T0.AddDays(30);
        var list = new List<Reservation>
        {
            Disallow("h1", Url("https://example.com/a/b?x=1"), Url("https://example.com/any", anyQuery: true)),
            Allow("h2", Url("https://example.com/a/b?x=1")),
            Disallow("h1", Prefix("example.com/photos/"), Pattern("example.com/img/*.jpg$")),
            Disallow("h3", Host("blog.example.org", subdomains: true)),
            Disallow("h3", Domain("example.net")),
            Disallow("h4", Sel(SelectorKind.Sha256, new string('b', 64)), Sel(SelectorKind.Identifier, "isbn:978-0-306-40615-7")),
            Make("h5", UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow), (UsageCategory.Search, UsagePermission.Allow)),
                [Url("https://policy.example/x")], validUntil: T0.AddDays(60), policyUrl: "https://policy.example/terms"),
            Disallow("h6", Url("https://revoked.example/x")).Revoke(changed),
            Disallow("h6", Url("https://superseded.example/x")).Supersede("replacement", changed),
            Make("h6", UsageStatements.DisallowAll, [Url("https://late.example/x")], validFrom: T0.AddDays(10)),
        };
        return list;
    }

    private static bool TryPrepare(Reservation r, out PreparedReservation prepared, List<PreparedSelector> selectors)
    {
        selectors.Clear();
        foreach (var s in r.Selectors)
        {
            if (s.Selector.Kind == SelectorKind.Url)
            {
                var value = "http://" + s.Selector.Text;
                Assert.True(PreparedSelector.TryPrepare(SelectorKind.Url, value, s.Selector.Options, s.HostVerified, out var p, out _, out var e), e);
                selectors.Add(p);
            }
            else
            {
                selectors.Add(PreparedSelector.From(s.Selector, s.HostVerified));
            }
        }

        return PreparedReservation.TryCreate(r.Id, r.HolderId, r.RegisteredAt.UtcTicks, r.ValidFrom.UtcTicks, r.ValidUntil?.UtcTicks, r.State,
            r.StateChangedAt?.UtcTicks, r.SupersededBy, r.Statements.Packed, r.PolicyUrl, out prepared, out _, out _);
    }

    [Fact]
    public void Builder_MixedKindsAndStates_SameMatcherAsBuild()
    {
        var reservations = Mixed();
        var expected = MatcherIndex.Build(reservations);
        var builder = new MatcherBuilder();
        var selectors = new List<PreparedSelector>();
        foreach (var r in reservations)
        {
            Assert.True(TryPrepare(r, out var prepared, selectors));
            Assert.True(builder.TryAdd(prepared, selectors.ToArray(), out var field, out var error), $"{field}: {error}");
        }

        var actual = builder.Complete();

        Assert.Equal(expected.GetStatistics().SelectorsByKind, actual.GetStatistics().SelectorsByKind);
        Assert.Equal(expected.ReservationCount, actual.ReservationCount);
        string[] urls =
        [
            "https://example.com/a/b?x=1", "http://example.com/any?z=2", "https://example.com/photos/p.png", "https://example.com/img/x/y.jpg",
            "https://a.blog.example.org/", "https://www.example.net/x", "https://policy.example/x", "https://revoked.example/x",
            "https://superseded.example/x", "https://late.example/x", "https://nowhere.example/",
        ];
        foreach (var at in new[] { T0, T0.AddDays(20), T0.AddDays(45), T0.AddDays(90) })
        {
            foreach (var purpose in UsageCategories.TopologicalOrder)
            {
                foreach (var url in urls)
                {
                    var a = expected.Check(CheckQuery.Url(url, purpose, at));
                    var b = actual.Check(CheckQuery.Url(url, purpose, at));
                    Assert.Equal(a.Verdict, b.Verdict);
                    Assert.Equal(a.Matches, b.Matches);
                }

                Assert.Equal(expected.CheckSha256(Convert.FromHexString(new string('b', 64)), purpose, at),
                    actual.CheckSha256(Convert.FromHexString(new string('b', 64)), purpose, at));
            }
        }

        // The index stays writable after a bulk build, as after Build.
        actual.Apply(ReservationChange.Revoke(reservations[0].Id, T0.AddDays(40)));
        Assert.Equal(Verdict.Unknown, actual.CheckUrl("https://example.com/any", UsageCategory.TrainAi, T0.AddDays(41)));
    }

    [Fact]
    public void Builder_Refusals_LeaveNothingBehind()
    {
        var builder = new MatcherBuilder();
        var selectors = new List<PreparedSelector>();
        var r = Make("h1", UsageStatements.DisallowAll, [Url("https://example.com/x")], policyUrl: "https://example.com/p");
        Assert.True(TryPrepare(r, out var prepared, selectors));
        Assert.True(PreparedReservation.TryCreate("bad-policy", "h1", T0.UtcTicks, T0.UtcTicks, null, ReservationState.Active, null, null,
            UsageStatements.DisallowAll.Packed, "mailto:someone@example.com", out var badPolicy, out _, out _));

        Assert.False(builder.TryAdd(badPolicy, selectors.ToArray(), out var field, out _));
        Assert.Equal("policy_url", field);
        Assert.False(builder.TryAdd(prepared, [], out field, out _));
        Assert.Equal("selectors", field);
        Assert.Throws<ArgumentException>(() => builder.TryAdd(prepared, [default], out _, out _));
        Assert.Throws<ArgumentException>(() => builder.TryAdd(default, selectors.ToArray(), out _, out _));
        Assert.True(builder.TryAdd(prepared, selectors.ToArray(), out _, out _));
        Assert.Throws<ModelValidationException>(() => builder.TryAdd(prepared, selectors.ToArray(), out _, out _));

        var matcher = builder.Complete();
        Assert.Equal(1, matcher.ReservationCount);
        Assert.Equal(Verdict.Disallowed, matcher.CheckUrl("https://example.com/x", UsageCategory.TrainAi, T0));
        Assert.Throws<ObjectDisposedException>(() => builder.Complete());
    }
}
