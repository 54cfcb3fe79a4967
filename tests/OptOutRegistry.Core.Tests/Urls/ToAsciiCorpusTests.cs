using System.Text.Json;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// The URL standard's "domain to ASCII" suite (corpora/whatwg-url/toascii.json): every case, through the host
/// normaliser and through a full URL (<c>https://{input}/x</c>), as the wpt harness does.
/// </summary>
public sealed class ToAsciiCorpusTests
{
    private static readonly List<JsonElement> s_cases = CorpusJson.LoadObjects("whatwg-url", "toascii.json");

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        for (var i = 0; i < s_cases.Count; i++)
        {
            data.Add(i, CorpusJson.Display(s_cases[i].GetString("input")));
        }

        return data;
    }

    [Fact]
    public void Corpus_HasAllCases() => Assert.Equal(87, s_cases.Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void DomainToAscii_Case_MatchesExpected(int index, string display)
    {
        var c = s_cases[index];
        var input = c.GetString("input")!;
        var expected = c.GetString("output");

        var ok = WhatwgUrl.TryParse("https://" + input + "/x", null, out var url, out var error);
        if (expected is null)
        {
            Assert.False(ok, $"case {index} {display}: expected failure, got {url?.Hostname}");
            Assert.NotEqual(UrlError.None, error);
        }
        else
        {
            Assert.True(ok, $"case {index} {display}: expected {expected}, got {error}");
            Assert.Equal(expected, url!.Hostname);
            Assert.Equal("/x", url.Pathname);
        }
    }

}
