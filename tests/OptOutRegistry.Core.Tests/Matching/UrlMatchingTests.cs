using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>What a rights holder expects a URL registration to cover, and not to cover.</summary>
public class UrlMatchingTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(30);

    private static Verdict Check(MatcherIndex index, string url, UsageCategory purpose = UsageCategory.TrainAi) =>
        index.CheckUrl(url, purpose, Now);

    private static void AssertCoverage(Reservation reservation, string url, bool covered)
    {
        var index = MatcherIndex.Build([reservation]);
        Assert.Equal(covered ? Verdict.Disallowed : Verdict.Unknown, Check(index, url));

        // The provenance path must agree with the fast path.
        var result = index.Check(CheckQuery.Url(url, UsageCategory.TrainAi, Now));
        Assert.Equal(covered ? Verdict.Disallowed : Verdict.Unknown, result.Verdict);
        Assert.Equal(covered, result.Matches.Count > 0);
    }

    [Theory]
    // www is a different host from the apex (DESIGN.md "The model").
    [InlineData("https://example.com/a.jpg", "https://example.com/a.jpg", true)]
    [InlineData("https://example.com/a.jpg", "https://www.example.com/a.jpg", false)]
    [InlineData("https://www.example.com/a.jpg", "https://example.com/a.jpg", false)]
    // Scheme-insensitive: http ≡ https.
    [InlineData("https://example.com/a.jpg", "http://example.com/a.jpg", true)]
    [InlineData("http://example.com/a.jpg", "HTTPS://EXAMPLE.COM/a.jpg", true)]
    // Default ports dropped, other ports distinct.
    [InlineData("https://example.com/a.jpg", "https://example.com:443/a.jpg", true)]
    [InlineData("https://example.com/a.jpg", "http://example.com:80/a.jpg", true)]
    [InlineData("https://example.com/a.jpg", "https://example.com:8443/a.jpg", false)]
    [InlineData("https://example.com:8443/a.jpg", "https://Example.com:8443/a.jpg", true)]
    [InlineData("https://example.com:8443/a.jpg", "https://example.com/a.jpg", false)]
    // Path case matters; host case does not.
    [InlineData("https://example.com/a.jpg", "https://example.com/A.jpg", false)]
    // Fragments dropped; dot segments resolved.
    [InlineData("https://example.com/a.jpg", "https://example.com/a.jpg#top", true)]
    [InlineData("https://example.com/a/b.jpg", "https://example.com/a/x/../b.jpg", true)]
    [InlineData("https://example.com/a/b.jpg", "https://example.com/a/./b.jpg", true)]
    // Percent-encoding normalised both ways: a UTF-8 path written raw or encoded is one URL.
    [InlineData("https://example.com/café.jpg", "https://example.com/caf%C3%A9.jpg", true)]
    [InlineData("https://example.com/caf%c3%a9.jpg", "https://example.com/café.jpg", true)]
    [InlineData("https://example.com/a%20b.jpg", "https://example.com/a b.jpg", true)]
    // Exact query by default.
    [InlineData("https://example.com/a?x=1", "https://example.com/a?x=1", true)]
    [InlineData("https://example.com/a?x=1", "https://example.com/a?x=2", false)]
    [InlineData("https://example.com/a?x=1", "https://example.com/a", false)]
    [InlineData("https://example.com/a", "https://example.com/a?x=1", false)]
    // A registration without scheme is read as a URL too.
    [InlineData("example.com/a.jpg", "https://example.com/a.jpg", true)]
    public void UrlSelector_CoversExactlyTheCanonicalUrl(string registered, string checkedUrl, bool covered) =>
        AssertCoverage(Disallow("holder", Url(registered)), checkedUrl, covered);

    [Theory]
    [InlineData("https://example.com/a", true)]
    [InlineData("https://example.com/a?x=1", true)]
    [InlineData("https://example.com/a?", true)]
    [InlineData("https://example.com/a/b", false)]
    [InlineData("https://example.com/ab", false)]
    public void UrlSelectorWithAnyQuery_CoversEveryQueryString(string checkedUrl, bool covered) =>
        AssertCoverage(Disallow("holder", Url("https://example.com/a?utm=1", anyQuery: true)), checkedUrl, covered);

    [Theory]
    [InlineData("example.com", false, "https://example.com/x", true)]
    [InlineData("example.com", false, "https://www.example.com/x", false)]
    [InlineData("example.com", false, "https://example.com:8080/x", true)]
    [InlineData("example.com", true, "https://www.example.com/x", true)]
    [InlineData("example.com", true, "https://a.b.example.com/x", true)]
    [InlineData("example.com", true, "https://notexample.com/x", false)]
    [InlineData("example.com", true, "https://example.com.evil.org/x", false)]
    [InlineData("www.example.com", true, "https://example.com/x", false)]
    public void HostSelector_CoversTheHostAndOptionallySubdomains(string host, bool subdomains, string url, bool covered) =>
        AssertCoverage(Disallow("holder", Host(host, subdomains)), url, covered);

    [Theory]
    [InlineData("example.co.uk", "https://example.co.uk/", true)]
    [InlineData("example.co.uk", "https://www.example.co.uk/a", true)]
    [InlineData("example.co.uk", "https://deep.er.example.co.uk:8443/a?b", true)]
    [InlineData("example.co.uk", "https://other.co.uk/", false)]
    [InlineData("example.co.uk", "https://co.uk/", false)]
    public void DomainSelector_CoversTheRegistrableDomainAndAllSubdomains(string domain, string url, bool covered) =>
        AssertCoverage(Disallow("holder", Domain(domain)), url, covered);

    [Theory]
    // Russian (.рф): registered in Unicode, checked in punycode, upper case, or with www under a domain selector.
    [InlineData("https://пример.рф/фото/1.jpg", "https://xn--e1afmkfd.xn--p1ai/%D1%84%D0%BE%D1%82%D0%BE/1.jpg", true)]
    [InlineData("https://xn--e1afmkfd.xn--p1ai/a", "https://ПРИМЕР.РФ/a", true)]
    [InlineData("https://пример.рф/a", "https://www.пример.рф/a", false)]
    // Kazakh: Cyrillic second-level under .kz and under the Kazakh IDN TLD .қаз (xn--80ao21a).
    [InlineData("https://алматы.kz/news/1", "https://xn--80aa6ae5a6c.kz/news/1", true)]
    [InlineData("https://мысал.қаз/сурет.png", "http://XN--80AWBU3C.XN--80AO21A/%D1%81%D1%83%D1%80%D0%B5%D1%82.png", true)]
    [InlineData("https://мысал.қаз/a", "https://мысал.kz/a", false)]
    public void IdnHosts_MatchInUnicodeAndPunycode(string registered, string checkedUrl, bool covered) =>
        AssertCoverage(Disallow("holder", Url(registered)), checkedUrl, covered);

    [Theory]
    [InlineData("пример.рф", "https://www.пример.рф/a", true)]
    [InlineData("пример.рф", "https://xn--e1afmkfd.xn--p1ai/", true)]
    [InlineData("мысал.қаз", "https://blog.xn--80awbu3c.xn--80ao21a/a", true)]
    [InlineData("алматы.kz", "https://shop.алматы.kz/", true)]
    [InlineData("алматы.kz", "https://алматы.com/", false)]
    public void IdnDomainSelector_CoversSubdomains(string domain, string url, bool covered) =>
        AssertCoverage(Disallow("holder", Domain(domain)), url, covered);

    [Theory]
    [InlineData("https://example.com/gallery/a.jpg", true)]
    [InlineData("https://example.com/gallery/", true)]
    [InlineData("https://example.com/gallery/x/y?z=1", true)]
    [InlineData("https://example.com/gallery", false)]
    [InlineData("https://example.com/galleryx", false)]
    [InlineData("https://example.com/Gallery/a.jpg", false)]
    [InlineData("https://www.example.com/gallery/a.jpg", false)]
    [InlineData("https://example.com:8080/gallery/a.jpg", false)]
    public void PrefixSelector_CoversPathsStartingWithThePrefix(string url, bool covered) =>
        AssertCoverage(Disallow("holder", Prefix("example.com/gallery/")), url, covered);

    [Theory]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/photos/a.jpg", true)]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/photos/2024/b.jpg", true)]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/photos/a.jpg?size=l", false)]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/photos/a.jpeg", false)]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/photos/a.JPG", false)]
    [InlineData("example.com/photos/*.jpg$", "https://example.com/other/a.jpg", false)]
    [InlineData("example.com/photos/*.jpg", "https://example.com/photos/a.jpg?size=l", true)]
    [InlineData("example.com/*/private/", "https://example.com/u/alice/private/x", true)]
    [InlineData("example.com/*/private/", "https://example.com/private/x", false)]
    [InlineData("example.com/*.pdf$", "https://example.com/a.pdf.pdf", true)]
    [InlineData("example.com/*.pdf$", "https://example.com/.pdf", true)]
    [InlineData("example.com/a*b*c$", "https://example.com/abc", true)]
    [InlineData("example.com/a*b*c$", "https://example.com/acb", false)]
    [InlineData("example.com/*/confidential-files/*.doc", "https://example.com/x/confidential-files/a.docx", true)]
    [InlineData("example.com/*/confidential-files/*.doc", "https://example.com/x/confidential-file/a.doc", false)]
    [InlineData("example.com/*?session=", "https://example.com/a/b?session=1", true)]
    [InlineData("example.com/*?session=", "https://example.com/a/b?sessions=1", false)]
    [InlineData("example.com/fish$", "https://example.com/fish", true)]
    [InlineData("example.com/fish$", "https://example.com/fish/", false)]
    // A literal '*' is written %2A (TDMRep/robots convention) and is not a wildcard.
    [InlineData("example.com/a%2Ab", "https://example.com/a%2Ab", true)]
    [InlineData("example.com/a%2Ab", "https://example.com/axb", false)]
    public void PatternSelector_FollowsRfc9309Wildcards(string pattern, string url, bool covered) =>
        AssertCoverage(Disallow("holder", Pattern(pattern)), url, covered);

    [Fact]
    public void PatternSelector_PathologicalPattern_FinishesWithoutBacktracking()
    {
        // With backtracking, 16 stars against 20,000 'a's would take longer than the universe has existed.
        var pattern = "example.com/" + string.Concat(Enumerable.Repeat("*a", 16)) + "*b$";
        var index = MatcherIndex.Build([Disallow("holder", Pattern(pattern))]);
        var url = "https://example.com/" + new string('a', 20_000);
        Assert.Equal(Verdict.Unknown, index.CheckUrl(url.AsSpan(0, 8000), UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Disallowed, index.CheckUrl("https://example.com/" + new string('a', 7000) + "b", UsageCategory.TrainAi, Now));
    }

    [Fact]
    public void LongNonAsciiUrl_LongerThanTheStackBuffer_IsStillMatched()
    {
        // 2,000 Cyrillic letters become 12,000 characters of percent-encoding in the match key.
        var url = "https://пример.рф/" + string.Concat(Enumerable.Repeat("фото", 500));
        var index = MatcherIndex.Build([Disallow("holder", Url(url))]);
        Assert.Equal(Verdict.Disallowed, index.CheckUrl(url, UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Unknown, index.CheckUrl(url + "x", UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Disallowed, index.Check(CheckQuery.Url(url, UsageCategory.TrainAi, Now)).Verdict);
    }

    [Fact]
    public void InvalidUrl_IsRefusedWithAReason()
    {
        var index = MatcherIndex.Build([Disallow("holder", Host("example.com"))]);
        Assert.False(index.TryCheckUrl("ftp://example.com/a", UsageCategory.TrainAi, Now, out var verdict, out var error));
        Assert.Equal(Verdict.Unknown, verdict);
        Assert.Equal(OptOutRegistry.Core.Urls.UrlError.UnsupportedScheme, error);
        var e = Assert.Throws<ModelValidationException>(() => index.Check(CheckQuery.Url("http://exa mple.com/", UsageCategory.TrainAi, Now)));
        Assert.Equal("subject", e.Field);
    }
}
