using OptOutRegistry.Signals.C2pa;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>Fuzz finding: TrainingMining.Parse, documented "never throws", threw InvalidOperationException.</summary>
public sealed class C2paRegressionTests
{
    [Theory]
    [MemberData(nameof(BadUnicode.Escapes), MemberType = typeof(BadUnicode))]
    public void Parse_WithUnpairedSurrogate_ReturnsNoAssertionsAndAnError(string escaped)
    {
        var json = "{\"label\":\"c2pa.training-mining\",\"data\":{\"entries\":{\"c2pa.ai_training\":{\"use\":\"notAllowed\"},\"c2pa.data_mi" + escaped + "ning\":{\"use\":\"allowed\"}}}}";
        var assertions = TrainingMining.Parse(json, out var error);
        Assert.Empty(assertions);
        Assert.NotNull(error);
        Assert.Contains("not valid Unicode", error, StringComparison.Ordinal);
    }
}
