using System.Text;
using OptOutRegistry.Filtering;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Fuzz finding: FieldPath.Extract, and through it <c>optout filter</c> on JSON Lines, threw InvalidOperationException
/// on a record whose URL or text field holds an unpaired surrogate escape: one bad record stopped the whole run.
/// </summary>
public sealed class FieldPathRegressionTests
{
    [Theory]
    [MemberData(nameof(BadUnicode.Escapes), MemberType = typeof(BadUnicode))]
    public void Extract_WithUnpairedSurrogateInTheField_ReturnsAnErrorNamingTheField(string escaped)
    {
        var json = Encoding.UTF8.GetBytes("{\"url\":\"https://e.com/" + escaped + "\"}");
        var error = FieldPath.Extract(json, new FieldPath("url"), null, out var url, out _);
        Assert.Null(url);
        Assert.Contains("field 'url' is not valid Unicode", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_WithUnpairedSurrogateInAPropertyName_ReturnsAnError()
    {
        var error = FieldPath.Extract("{\"\\ud800\":1,\"url\":\"https://e.com/\"}"u8, new FieldPath("url"), null, out var url, out _);
        Assert.Null(url);
        Assert.Contains("not valid Unicode", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_WithEscapedValidString_StillUnescapes()
    {
        var json = Encoding.UTF8.GetBytes("{\"url\":\"https://e.com/\\u00e9\\ud83d\\ude00\"}");
        Assert.Null(FieldPath.Extract(json, new FieldPath("url"), null, out var url, out _));
        Assert.Equal("https://e.com/é😀", url);
    }

    [Fact]
    public void Filter_JsonLinesWithABadRecord_RejectsThatRecordAndKeepsTheRest()
    {
        var input = "{\"url\":\"https://example.com/a\"}\n{\"url\":\"https://example.com/\\ud800\"}\n{\"url\":\"https://example.com/c\"}\n"u8.ToArray();
        var report = FilterRun.Run(input, RecordFormat.JsonLines);
        Assert.Equal(3, report.InputRecords);
        Assert.Equal(2, report.Kept);
        Assert.Equal(1, report.Rejected);
    }
}
