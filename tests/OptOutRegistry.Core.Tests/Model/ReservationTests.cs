using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Tests.Model;

public class ReservationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 18, 0, 0, 0, TimeSpan.Zero);
    private static readonly ReservationSelector[] Selectors = [new(Selector.Create(SelectorKind.Url, "https://example.com/a"))];

    private static Reservation Make(
        string id = "r1", string holder = "h1", DateTimeOffset? registered = null, DateTimeOffset? from = null, DateTimeOffset? until = null,
        ReservationSelector[]? selectors = null, UsageStatements? statements = null, string? policy = null,
        ReservationState state = ReservationState.Active, DateTimeOffset? changed = null, string? by = null) =>
        new(id, holder, registered ?? T0, from ?? registered ?? T0, until, selectors ?? Selectors, statements ?? UsageStatements.DisallowAll,
            policy, state, changed, by);

    public static TheoryData<string, Func<Reservation>> Invalid => new()
    {
        { "id", () => Make(id: "") },
        { "id", () => Make(id: "has space") },
        { "id", () => Make(id: new string('x', 129)) },
        { "holder_id", () => Make(holder: "") },
        { "valid_from", () => Make(registered: T0, from: T0.AddTicks(-1)) },
        { "valid_until", () => Make(until: T0) },
        { "selectors", () => Make(selectors: []) },
        { "statements", () => Make(statements: new UsageStatements([])) },
        { "policy_url", () => Make(policy: "not a url") },
        { "policy_url", () => Make(policy: "ftp://example.com/policy") },
        { "state_changed_at", () => Make(state: ReservationState.Revoked) },
        { "state_changed_at", () => Make(state: ReservationState.Revoked, changed: T0.AddTicks(-1)) },
        { "superseded_by", () => Make(state: ReservationState.Superseded, changed: T0) },
        { "superseded_by", () => Make(state: ReservationState.Revoked, changed: T0, by: "r2") },
        { "selectors[0].host_verified", () => Make(selectors: [new(Selector.Create(SelectorKind.Sha256, new string('a', 64)), true)]) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Constructor_RefusesInvalidFields_NamingTheField(string field, Func<Reservation> create) =>
        Assert.Equal(field, Assert.Throws<ModelValidationException>(create).Field);

    [Fact]
    public void Statements_RefuseTwoStatementsForOneCategory()
    {
        var e = Assert.Throws<ModelValidationException>(() => UsageStatements.Of(
            (UsageCategory.Search, UsagePermission.Allow), (UsageCategory.Search, UsagePermission.Disallow)));
        Assert.Equal("statements[1].category", e.Field);
    }

    [Fact]
    public void IsInForceAt_CoversValidFromUpToTheEarlierOfValidUntilAndTheStateChange()
    {
        var r = Make(from: T0.AddDays(1), until: T0.AddDays(10));
        Assert.False(r.IsInForceAt(T0));
        Assert.True(r.IsInForceAt(T0.AddDays(1)));
        Assert.False(r.IsInForceAt(T0.AddDays(10)));
        var revoked = r.Revoke(T0.AddDays(5));
        Assert.Equal(ReservationState.Revoked, revoked.State);
        Assert.True(revoked.IsInForceAt(T0.AddDays(5).AddTicks(-1)));
        Assert.False(revoked.IsInForceAt(T0.AddDays(5)));
        Assert.Equal(T0.AddDays(5), revoked.EffectiveUntil);
        Assert.Throws<ModelValidationException>(() => revoked.Supersede("r2", T0.AddDays(6)));
        var superseded = r.Supersede("r2", T0.AddDays(20));
        Assert.Equal("r2", superseded.SupersededBy);
        Assert.Equal(T0.AddDays(10), superseded.EffectiveUntil);
    }

    [Theory]
    [InlineData(UsageCategory.TrainGenAi, UsageCategory.TrainAi)]
    [InlineData(UsageCategory.Search, UsageCategory.All)]
    [InlineData(UsageCategory.AiUse, UsageCategory.All)]
    public void Resolve_UsesTheNearestAncestorStatement(UsageCategory purpose, UsageCategory decidedBy)
    {
        var s = UsageStatements.Of((UsageCategory.All, UsagePermission.Allow), (UsageCategory.TrainAi, UsagePermission.Disallow));
        Assert.Equal(decidedBy, s.Resolve(purpose)!.Category);
        var packed = UsageStatements.ResolvePacked(s.Packed, purpose, out var packedBy);
        Assert.Equal(decidedBy, packedBy);
        Assert.Equal(s.Resolve(purpose)!.Permission.ToVerdict(), packed);
    }

    [Theory]
    // all=allow applies to "all", but train-ai (narrower) disallows: the root is DISALLOWED, caused by train-ai.
    [InlineData("all=allow,train-ai=disallow", UsageCategory.All, Verdict.Disallowed, UsageCategory.TrainAi)]
    // The lowest narrower category in root-first order is named when several disallow.
    [InlineData("train-genai=disallow,search=disallow", UsageCategory.All, Verdict.Disallowed, UsageCategory.TrainGenAi)]
    [InlineData("ai-use=disallow,search=disallow", UsageCategory.All, Verdict.Disallowed, UsageCategory.AiUse)]
    [InlineData("all=disallow,train-genai=disallow", UsageCategory.All, Verdict.Disallowed, UsageCategory.All)]
    [InlineData("train-ai=allow,train-genai=disallow", UsageCategory.TrainAi, Verdict.Disallowed, UsageCategory.TrainGenAi)]
    [InlineData("train-ai=allow,train-genai=allow", UsageCategory.TrainAi, Verdict.Allowed, UsageCategory.TrainAi)]
    [InlineData("all=allow", UsageCategory.TrainGenAi, Verdict.Allowed, UsageCategory.All)]
    [InlineData("search=disallow", UsageCategory.TrainAi, Verdict.Unknown, UsageCategory.All)]
    public void Decide_DisallowsWhenTheApplicableOrANarrowerStatementDisallows(string statements, UsageCategory purpose, Verdict expected, UsageCategory decidedBy)
    {
        var list = statements.Split(',').Select(p =>
        {
            var kv = p.Split('=');
            Assert.True(UsageCategories.TryParse(kv[0], out var c));
            Assert.True(UsagePermissions.TryParse(kv[1], out var permission));
            return (c, permission);
        }).ToArray();
        var s = UsageStatements.Of(list);
        Assert.Equal(expected, s.Decide(purpose, out var by));
        Assert.Equal(decidedBy, by);
    }
}
