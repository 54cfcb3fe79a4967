using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Tests.Model;

public class SelectorTests
{
    [Theory]
    [InlineData(SelectorKind.Url, "HTTPS://Example.COM:443/a/../b?x=1#f", "example.com/b?x=1")]
    [InlineData(SelectorKind.Url, "example.com/b", "example.com/b")]
    [InlineData(SelectorKind.Url, "https://пример.рф/фото", "xn--e1afmkfd.xn--p1ai/%D1%84%D0%BE%D1%82%D0%BE")]
    [InlineData(SelectorKind.Prefix, "Example.com/gallery/", "example.com/gallery/")]
    [InlineData(SelectorKind.Prefix, "example.com", "example.com/")]
    [InlineData(SelectorKind.Prefix, "example.com:8080/x", "example.com:8080/x")]
    [InlineData(SelectorKind.Pattern, "example.com/photos/*.jpg$", "example.com/photos/*.jpg$")]
    [InlineData(SelectorKind.Host, "Blog.Example.COM", "blog.example.com")]
    [InlineData(SelectorKind.Host, "мысал.қаз", "xn--80awbu3c.xn--80ao21a")]
    [InlineData(SelectorKind.Domain, "example.co.uk", "example.co.uk")]
    [InlineData(SelectorKind.Domain, "ПРИМЕР.РФ", "xn--e1afmkfd.xn--p1ai")]
    [InlineData(SelectorKind.Sha256, "SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData(SelectorKind.Identifier, "ISBN 0-306-40615-2", "isbn:9780306406157")]
    public void Create_NormalisesTheValue(SelectorKind kind, string value, string text) =>
        Assert.Equal(text, Selector.Create(kind, value).Text);

    [Theory]
    [InlineData(SelectorKind.Domain, "co.uk", "public suffix")]
    [InlineData(SelectorKind.Domain, "github.io", "public suffix")]
    [InlineData(SelectorKind.Domain, "рф", "public suffix")]
    [InlineData(SelectorKind.Domain, "қаз", "public suffix")]
    [InlineData(SelectorKind.Domain, "kz", "public suffix")]
    [InlineData(SelectorKind.Domain, "www.example.co.uk", "'example.co.uk'")]
    [InlineData(SelectorKind.Domain, "192.168.0.1", "IP address")]
    [InlineData(SelectorKind.Host, "example.com/path", "bare host")]
    [InlineData(SelectorKind.Host, "example.com:8080", "bare host")]
    [InlineData(SelectorKind.Host, "exa mple.com", "not a valid host")]
    [InlineData(SelectorKind.Url, "ftp://example.com/a", "not a valid URL")]
    [InlineData(SelectorKind.Url, "https://", "not a valid URL")]
    [InlineData(SelectorKind.Pattern, "example.com/a$b", "'$' may only end")]
    [InlineData(SelectorKind.Pattern, "example.com/a#b", "'#'")]
    [InlineData(SelectorKind.Sha256, "abc", "64 hex digits")]
    [InlineData(SelectorKind.Sha256, "zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "not hex")]
    [InlineData(SelectorKind.Identifier, "isbn:9780306406158", "")]
    [InlineData(SelectorKind.Iscc, "ISCC:!!!", "base32")]
    [InlineData(SelectorKind.Url, "", "empty")]
    public void Create_RefusesInvalidValues_NamingTheFieldAndReason(SelectorKind kind, string value, string reason)
    {
        var e = Assert.Throws<ModelValidationException>(() => Selector.Create(kind, value));
        Assert.Equal("value", e.Field);
        Assert.Contains(reason, e.Reason);
    }

    [Theory]
    [InlineData(SelectorKind.Host, "com")]
    [InlineData(SelectorKind.Host, "github.io")]
    public void HostWithSubdomains_OnAPublicSuffix_IsRefused(SelectorKind kind, string host)
    {
        var e = Assert.Throws<ModelValidationException>(() => Selector.Create(kind, host, SelectorOptions.IncludeSubdomains));
        Assert.Contains("public suffix", e.Reason);
        Assert.Equal("com", Selector.Create(kind, "com").Text);
    }

    [Theory]
    [InlineData(SelectorKind.Prefix, SelectorOptions.AnyQuery)]
    [InlineData(SelectorKind.Url, SelectorOptions.IncludeSubdomains)]
    [InlineData(SelectorKind.Domain, SelectorOptions.IncludeSubdomains)]
    public void Options_ThatDoNotApply_AreRefused(SelectorKind kind, SelectorOptions options)
    {
        var e = Assert.Throws<ModelValidationException>(() => Selector.Create(kind, "example.com", options));
        Assert.Equal("options", e.Field);
    }

    [Fact]
    public void UrlWithAnyQuery_DropsTheQuery()
    {
        var s = Selector.Create(SelectorKind.Url, "https://example.com/a?utm=1", SelectorOptions.AnyQuery);
        Assert.Equal("example.com/a", s.Text);
        Assert.True(s.AnyQuery);
    }

    [Fact]
    public void Parse_ReadsWireKindNames()
    {
        Assert.Equal(SelectorKind.Domain, Selector.Parse("DOMAIN", "example.com").Kind);
        Assert.Equal("kind", Assert.Throws<ModelValidationException>(() => Selector.Parse("regex", "x")).Field);
    }

    [Fact]
    public void Equality_IsByKindOptionsAndCanonicalText() =>
        Assert.Equal(Selector.Create(SelectorKind.Url, "http://EXAMPLE.com/a"), Selector.Create(SelectorKind.Url, "https://example.com:443/a"));
}
