using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>Short builders for the reservations a rights holder registers in these tests.</summary>
internal static class TestReservations
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 18, 0, 0, 0, TimeSpan.Zero);

    private static int s_next;

    public static ReservationSelector Sel(SelectorKind kind, string value, SelectorOptions options = SelectorOptions.None, bool verified = false) =>
        new(Selector.Create(kind, value, options), verified);

    public static ReservationSelector Url(string url, bool anyQuery = false) =>
        Sel(SelectorKind.Url, url, anyQuery ? SelectorOptions.AnyQuery : SelectorOptions.None);

    public static ReservationSelector Host(string host, bool subdomains = false, bool verified = true) =>
        Sel(SelectorKind.Host, host, subdomains ? SelectorOptions.IncludeSubdomains : SelectorOptions.None, verified);

    public static ReservationSelector Domain(string domain, bool verified = true) => Sel(SelectorKind.Domain, domain, verified: verified);

    public static ReservationSelector Prefix(string prefix, bool verified = true) => Sel(SelectorKind.Prefix, prefix, verified: verified);

    public static ReservationSelector Pattern(string pattern, bool verified = true) => Sel(SelectorKind.Pattern, pattern, verified: verified);

    public static Reservation Disallow(string holder, params ReservationSelector[] selectors) =>
        Make(holder, UsageStatements.DisallowAll, selectors);

    public static Reservation Allow(string holder, params ReservationSelector[] selectors) =>
        Make(holder, UsageStatements.Of((UsageCategory.All, UsagePermission.Allow)), selectors);

    public static Reservation Make(string holder, UsageStatements statements, ReservationSelector[] selectors,
        DateTimeOffset? registeredAt = null, DateTimeOffset? validFrom = null, DateTimeOffset? validUntil = null,
        string? id = null, string? policyUrl = null)
    {
        var registered = registeredAt ?? T0;
        return new Reservation(
            id ?? $"r{Interlocked.Increment(ref s_next)}",
            holder,
            registered,
            validFrom ?? registered,
            validUntil,
            selectors,
            statements,
            policyUrl);
    }
}
