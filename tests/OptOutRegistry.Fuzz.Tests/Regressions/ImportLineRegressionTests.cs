using OptOutRegistry.Client;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>Fuzz finding: RegistryImportFormat.ParseLine threw InvalidOperationException instead of ImportFormatException.</summary>
public sealed class ImportLineRegressionTests
{
    [Theory]
    [MemberData(nameof(BadUnicode.Escapes), MemberType = typeof(BadUnicode))]
    public void ParseLine_WithUnpairedSurrogateInAValue_ThrowsImportFormatExceptionForTheLine(string escaped)
    {
        var line = "{\"url\":\"https://exam" + escaped + "ple.com/a.jpg\",\"disallow\":[\"train-ai\"]}";
        var ex = Assert.Throws<ImportFormatException>(() => RegistryImportFormat.ParseLine(line, "test"));
        Assert.StartsWith("line:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseLine_WithUnpairedSurrogateInAKey_ThrowsImportFormatException()
    {
        var line = "{\"pattern\":{\"host\":\"example.com\",\"path\":\"/p/*\"},\"disallow\":[\"all\"],\"allo\\ud800w\":[\"search\"]}";
        Assert.Throws<ImportFormatException>(() => RegistryImportFormat.ParseLine(line, "test"));
    }

    [Fact]
    public void ParseLine_WithValidLine_StillParses()
    {
        var request = RegistryImportFormat.ParseLine("{\"url\":\"https://example.com/a.jpg\",\"disallow\":[\"train-ai\"]}", "test");
        Assert.Equal("https://example.com/a.jpg", request.Spec.Selectors[0].Url);
    }
}
