using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.Tests;

/// <summary>
/// One purpose rule everywhere (UsageStatements): a site's signals and the registry's matcher answer every combination
/// of per-category statements and every purpose the same way, so SiteSignalsResolver never combines two readings.
/// </summary>
public class PurposeRuleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 18, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void SignalsAndMatcher_AgreeOnEveryCombinationOfStatementsAndPurpose()
    {
        var checkedCombinations = 0;
        // 3⁵ assignments of (none, allow, disallow) to the five categories.
        for (var code = 0; code < 243; code++)
        {
            var prefs = default(UsagePreferences);
            var statements = new List<UsageStatement>();
            var rest = code;
            foreach (var category in UsageCategories.TopologicalOrder)
            {
                var v = (Verdict)(rest % 3);
                rest /= 3;
                prefs[category] = v;
                if (v != Verdict.Unknown)
                {
                    statements.Add(new UsageStatement(category, v == Verdict.Allowed ? UsagePermission.Allow : UsagePermission.Disallow));
                }
            }

            MatcherIndex? index = null;
            if (statements.Count > 0)
            {
                index = MatcherIndex.Build(
                [
                    new Reservation("r1", "h1", T0, T0, null, [new ReservationSelector(Selector.Create(SelectorKind.Url, "https://example.kz/a"))],
                        new UsageStatements(statements)),
                ]);
            }

            foreach (var purpose in UsageCategories.TopologicalOrder)
            {
                var signals = prefs.ForPurpose(purpose, out var signalsBy);
                var registry = index?.CheckUrl("https://example.kz/a", purpose, T0.AddDays(1)) ?? Verdict.Unknown;
                Assert.True(signals == registry, $"{prefs} for {purpose.ToWireName()}: signals {signals}, registry {registry}");
                if (index is not null && registry != Verdict.Unknown)
                {
                    var match = Assert.Single(index.Check(CheckQuery.Url("https://example.kz/a", purpose, T0.AddDays(1))).Matches);
                    Assert.Equal(signalsBy, match.DecidingCategory);
                }

                checkedCombinations++;
            }
        }

        Assert.Equal(243 * 5, checkedCombinations);
    }

    [Theory]
    // A narrower disallow restricts the broader purpose; a narrower allow does not grant it.
    [InlineData(UsageCategory.TrainGenAi, Verdict.Disallowed, UsageCategory.TrainAi, Verdict.Disallowed)]
    [InlineData(UsageCategory.TrainGenAi, Verdict.Disallowed, UsageCategory.All, Verdict.Disallowed)]
    [InlineData(UsageCategory.TrainGenAi, Verdict.Allowed, UsageCategory.TrainAi, Verdict.Unknown)]
    [InlineData(UsageCategory.Search, Verdict.Allowed, UsageCategory.All, Verdict.Unknown)]
    [InlineData(UsageCategory.TrainAi, Verdict.Disallowed, UsageCategory.Search, Verdict.Unknown)]
    public void ASignalForOneCategory_AnswersABroaderOrSiblingPurpose(UsageCategory category, Verdict says, UsageCategory purpose, Verdict expected)
    {
        var prefs = default(UsagePreferences).With(category, says);
        Assert.Equal(expected, prefs.ForPurpose(purpose));
    }
}
