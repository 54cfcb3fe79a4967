using System.Text.Json;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Fuzz finding: IsccGenerator.GenMetaCodeV0 threw InvalidOperationException for metadata strings that are not valid
/// Unicode, and an undocumented FormatException for numbers that overflow to Infinity (now documented).
/// </summary>
public sealed class IsccMetaRegressionTests
{
    [Theory]
    [InlineData("{\"\\ud800\":1}")]
    [InlineData("\"data:applicati\\udc00on/json;base64,eyJhIjoxfQ==\"")]
    [InlineData("{\"title\":\"x\",\"n\":1.5e380}")]
    public void GenMetaCodeV0_WithMalformedMetadata_ThrowsFormatException(string meta)
    {
        using var document = JsonDocument.Parse(meta);
        Assert.Throws<FormatException>(() => IsccGenerator.GenMetaCodeV0("Title", "Description", document.RootElement));
    }

    [Fact]
    public void Canonicalize_WithUnpairedSurrogate_ThrowsFormatException()
    {
        using var document = JsonDocument.Parse("{\"a\":\"\\ud800\"}");
        Assert.Throws<FormatException>(() => JsonCanonicalizer.Canonicalize(document.RootElement));
    }
}
