using OptOutRegistry.Core.Identifiers;

namespace OptOutRegistry.Core.Tests.Identifiers;

/// <summary>Identifiers as rights holders type them, and what the registry stores for each.</summary>
public sealed class StandardIdentifierTests
{
    [Theory]
    // ISBN: hyphens/spaces, ISBN-10 → ISBN-13, X check digit, labels.
    [InlineData("isbn:9780306406157", "isbn:9780306406157")]
    [InlineData("ISBN 978-0-306-40615-7", "isbn:9780306406157")]
    [InlineData("isbn:0-306-40615-2", "isbn:9780306406157")]
    [InlineData("ISBN-10: 0 306 40615 2", "isbn:9780306406157")]
    [InlineData("ISBN-13: 978-0-306-40615-7", "isbn:9780306406157")]
    [InlineData("isbn:080442957X", "isbn:9780804429573")]
    [InlineData("isbn:0-8044-2957-x", "isbn:9780804429573")]
    [InlineData("urn:isbn:9780306406157", "isbn:9780306406157")]
    // ISSN: check character X, canonical hyphenated form.
    [InlineData("issn:0378-5955", "issn:0378-5955")]
    [InlineData("ISSN 03785955", "issn:0378-5955")]
    [InlineData("issn:2434-561x", "issn:2434-561X")]
    // ISMN: 979-0 and the old M- form.
    [InlineData("ismn:979-0-2600-0043-8", "ismn:9790260000438")]
    [InlineData("ISMN M-2306-7118-7", "ismn:9790230671187")]
    // ISRC: upper-case without hyphens.
    [InlineData("isrc:US-RC1-76-07839", "isrc:USRC17607839")]
    [InlineData("ISRC usrc17607839", "isrc:USRC17607839")]
    // ISWC: T-123.456.789-C.
    [InlineData("iswc:T-034.524.680-1", "iswc:T0345246801")]
    [InlineData("ISWC t0345246801", "iswc:T0345246801")]
    // ISNI: ISO 7064 MOD 11-2, X check character, URL form.
    [InlineData("isni:0000 0001 2103 2683", "isni:0000000121032683")]
    [InlineData("ISNI 000000011690159X", "isni:000000011690159X")]
    [InlineData("isni:https://isni.org/isni/0000000121032683", "isni:0000000121032683")]
    // DOI: case-insensitive, every common spelling.
    [InlineData("doi:10.1000/xyz123", "doi:10.1000/xyz123")]
    [InlineData("DOI:10.1000/XYZ123", "doi:10.1000/xyz123")]
    [InlineData("doi: 10.1038/NPHYS1170", "doi:10.1038/nphys1170")]
    [InlineData("https://doi.org/10.1038/nphys1170", "doi:10.1038/nphys1170")]
    [InlineData("http://dx.doi.org/10.1038/nphys1170", "doi:10.1038/nphys1170")]
    [InlineData("https://doi.org/10.1002/(SICI)1097-4571(199806)49:8%3C693::AID-ASI1%3E3.0.CO;2-0", "doi:10.1002/(sici)1097-4571(199806)49:8<693::aid-asi1>3.0.co;2-0")]
    [InlineData("10.1000.10/abc", "doi:10.1000.10/abc")]
    public void Parse_AcceptedSpelling_NormalisesToCanonicalText(string input, string expected)
    {
        Assert.True(StandardIdentifier.TryParse(input, out var id, out var error), error);
        Assert.Equal(expected, id.ToString());
        Assert.Equal(id, StandardIdentifier.Parse(expected));
    }

    [Theory]
    [InlineData("isbn:978-0-306-40615-8", "ISBN check digit is 8, expected 7")]
    [InlineData("isbn:0-306-40615-3", "ISBN-10 check digit is 3, expected 2")]
    [InlineData("isbn:97803064061", "ISBN must have 10 or 13 digits, got 11")]
    [InlineData("isbn:978-0-306-4O615-7", "ISBN contains 'O', which is not a digit")]
    [InlineData("isbn:9771234567003", "ISBN-13 must start with 978 or 979, got 977")]
    [InlineData("isbn:9790260000438", "979-0 is the ISMN prefix")]
    [InlineData("issn:0378-5954", "ISSN check digit is 4, expected 5")]
    [InlineData("issn:0378-595", "ISSN must have 8 characters")]
    [InlineData("ismn:9780306406157", "ISMN must start with 979-0")]
    [InlineData("ismn:979-0-2600-0043-9", "ISMN check digit is 9, expected 8")]
    [InlineData("isrc:US-RC1-76-0783", "ISRC must have 12 characters")]
    [InlineData("isrc:1S-RC1-76-07839", "ISRC must start with a two-letter country code")]
    [InlineData("isrc:US-RC1-7A-07839", "ISRC year and designation")]
    [InlineData("iswc:T-034.524.680-2", "ISWC check digit is 2, expected 1")]
    [InlineData("iswc:034.524.680-1", "ISWC must start with T")]
    [InlineData("isni:0000000121032684", "ISNI check character is 4, expected 3")]
    [InlineData("isni:000000012103268", "ISNI must have 16 characters")]
    [InlineData("doi:11.1000/xyz", "DOI must start with the directory indicator 10.")]
    [InlineData("doi:10.1000", "DOI must have a '/'")]
    [InlineData("doi:10.1000/", "DOI suffix after '/' is empty")]
    [InlineData("doi:10.abc/xyz", "DOI registrant code 'abc'")]
    [InlineData("doi:10.1000/a b", "DOI suffix contains a control or whitespace character")]
    [InlineData("asin:B000123", "unknown identifier scheme")]
    [InlineData("9780306406157", "unknown identifier scheme")]
    [InlineData("isbn9780306406157", "expected ':' after the scheme name")]
    [InlineData("", "identifier is empty")]
    [InlineData("isbn:", "ISBN value is empty")]
    public void Parse_InvalidIdentifier_IsRefusedWithReason(string input, string reason)
    {
        Assert.False(StandardIdentifier.TryParse(input, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        var ex = Assert.Throws<FormatException>(() => StandardIdentifier.Parse(input));
        Assert.Equal(error, ex.Message);
    }

    [Fact]
    public void Isbn10AndIsbn13OfTheSameBook_AreEqual() =>
        Assert.Equal(StandardIdentifier.Parse("ISBN 0-306-40615-2"), StandardIdentifier.Parse("isbn:978-0-306-40615-7"));

    [Fact]
    public void DoiFormsOfTheSameArticle_AreEqual()
    {
        var a = StandardIdentifier.Parse("https://doi.org/10.1038/NPHYS1170");
        var b = StandardIdentifier.Parse("doi:10.1038/nphys1170");
        Assert.Equal(a, b);
        Assert.Equal(IdentifierScheme.Doi, a.Scheme);
        Assert.Equal("10.1038/nphys1170", a.Value);
    }

    [Theory]
    [InlineData(IdentifierScheme.Isbn, "0-306-40615-2", "isbn:9780306406157")]
    [InlineData(IdentifierScheme.Doi, "10.1000/ABC", "doi:10.1000/abc")]
    [InlineData(IdentifierScheme.Isrc, "gb-aaa-25-00001", "isrc:GBAAA2500001")]
    public void TryParse_WithKnownScheme_ParsesBareValue(IdentifierScheme scheme, string value, string expected)
    {
        Assert.True(StandardIdentifier.TryParse(scheme, value, out var id, out var error), error);
        Assert.Equal(expected, id.ToString());
    }

    [Fact]
    public void TryParse_RandomText_NeverThrows()
    {
        const string alphabet = "0123456789Xx-. :/%isbnISSNmrcwdoiT10hpts\u00AD\uD800";
        string[] prefixes = ["isbn:", "issn:", "ismn:", "isrc:", "iswc:", "isni:", "doi:", "https://doi.org/", "10.", "ISMN M", ""];
        var random = new Random(7);
        for (var n = 0; n < 20000; n++)
        {
            var chars = new char[random.Next(0, 20)];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            var input = prefixes[random.Next(prefixes.Length)] + new string(chars);
            if (StandardIdentifier.TryParse(input, out var id, out var error))
            {
                // Whatever is accepted round-trips through its canonical text.
                Assert.Equal(id, StandardIdentifier.Parse(id.ToString()));
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
            }
        }
    }
}
