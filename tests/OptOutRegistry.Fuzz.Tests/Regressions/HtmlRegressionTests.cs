using OptOutRegistry.Signals.Html;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Fuzz finding (super-linear): HTML5 tree construction is O(depth) per start tag, so n nested elements cost O(n²);
/// the 4 MiB HtmlSignals accepts would have taken hours. The document is now cut at nesting depth 512.
/// </summary>
public sealed class HtmlRegressionTests
{
    [Fact]
    public void Parse_DeeplyNestedDocument_KeepsTheHeadSignalsAndCutsTheNesting()
    {
        var html = "<html><head><meta name=\"robots\" content=\"noai\"><link rel=\"license\" href=\"https://e.com/l\"></head><body>"
            + string.Concat(Enumerable.Repeat("<div>", 200_000)) + "<meta name=\"late\" content=\"x\">";
        var signals = HtmlSignals.Parse(html);
        Assert.Contains(signals.Meta, m => m.Key == "robots" && m.Value == "noai");
        Assert.Equal(["https://e.com/l"], signals.LicenseLinks);
        Assert.DoesNotContain(signals.Meta, m => m.Key == "late");
    }

    [Fact]
    public void Parse_ScriptsCommentsAndVoidElements_DoNotCountAsNesting()
    {
        // 2,000 void elements, comments and tags inside a script are not nesting: the meta at the end is still read.
        var html = "<head><script>" + string.Concat(Enumerable.Repeat("<div>", 2000)) + "</script><!--" + string.Concat(Enumerable.Repeat("<p>", 2000)) + "-->"
            + string.Concat(Enumerable.Repeat("<br><img src=x><input/>", 2000)) + string.Concat(Enumerable.Repeat("<span></span>", 2000))
            + "<meta name=\"robots\" content=\"noimageai\"></head>";
        var signals = HtmlSignals.Parse(html);
        Assert.Contains(signals.Meta, m => m.Key == "robots" && m.Value == "noimageai");
    }

    [Fact]
    public void Parse_NestingUpToTheLimit_IsParsedWhole()
    {
        var html = string.Concat(Enumerable.Repeat("<div>", HtmlSignals.MaxDepth - 10)) + "<meta name=\"robots\" content=\"noai\">";
        Assert.Contains(HtmlSignals.Parse(html).Meta, m => m.Key == "robots");
    }
}
