using System.Text;
using OptOutRegistry.Signals.Agents;

namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>Fuzz finding: AiAgentCatalog.Load threw InvalidOperationException instead of FormatException.</summary>
public sealed class AgentListRegressionTests
{
    [Theory]
    [MemberData(nameof(BadUnicode.Escapes), MemberType = typeof(BadUnicode))]
    public void Load_WithUnpairedSurrogateInToken_ThrowsFormatExceptionNamingTheProblem(string escaped)
    {
        var json = "{\"version\":\"1\",\"agents\":[{\"token\":\"" + escaped + "\",\"purpose\":\"training\"}]}";
        var ex = Assert.Throws<FormatException>(() => AiAgentCatalog.Load(new MemoryStream(Encoding.UTF8.GetBytes(json))));
        Assert.Contains("not valid UTF-8 or has an unpaired surrogate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WithInvalidUtf8InToken_ThrowsFormatException()
    {
        // The fuzzer's input: a 0xEC byte inside "Google-Extended".
        var bytes = Encoding.UTF8.GetBytes("{\"agents\":[{\"token\":\"Google-Ext#ended\"}]}");
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xEC;
        Assert.Throws<FormatException>(() => AiAgentCatalog.Load(new MemoryStream(bytes)));
    }

    [Fact]
    public void Load_WithValidList_StillReadsIt()
    {
        var json = "{\"version\":\"7\",\"agents\":[{\"token\":\"GPTBot\",\"purpose\":\"training\"}]}";
        var catalog = AiAgentCatalog.Load(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        Assert.Equal("7", catalog.Version);
        Assert.True(catalog.TryGet("GPTBot", out _));
    }
}
