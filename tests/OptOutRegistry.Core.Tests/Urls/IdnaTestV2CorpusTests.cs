using System.Text.Json;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// Unicode's IdnaTestV2 as converted by web-platform-tests (corpora/whatwg-url/IdnaTestV2.json): each input is
/// used as the host of <c>https://{input}/x</c>, as wpt's IdnaTestV2 harness does (which also leaves out the empty
/// input: it cannot be tested through a URL). When the platform's ICU predates Unicode 17 (ICU 72 on Debian 12),
/// the cases with CJK Extension J ideographs (U+323B0–U+3347F, new in Unicode 17) are left out too: that ICU
/// does not know them yet, so it rejects them as unassigned. Every other case must pass.
/// </summary>
public sealed class IdnaTestV2CorpusTests
{
    private static readonly List<JsonElement> s_cases = CorpusJson.LoadObjects("whatwg-url", "IdnaTestV2.json");

    public static TheoryData<int, string> Cases()
    {
        var data = new TheoryData<int, string>();
        var icuKnowsExtensionJ = WhatwgUrl.TryParse("https://\U000323B0/", null, out _, out _);
        for (var i = 0; i < s_cases.Count; i++)
        {
            var input = s_cases[i].GetString("input")!;
            if (input.Length == 0 || (!icuKnowsExtensionJ && HasExtensionJ(input)))
            {
                continue;
            }

            data.Add(i, CorpusJson.Display(s_cases[i].GetString("input")));
        }

        return data;
    }

    [Fact]
    public void Corpus_LeavesOutOnlyTheDocumentedCases()
    {
        // 2671 cases: 1 empty input, 18 with Extension J ideographs.
        Assert.Equal(2671, s_cases.Count);
        Assert.InRange(Cases().Count, 2652, 2670);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DomainToAscii_IdnaTestV2Case_MatchesExpected(int index, string display)
    {
        var c = s_cases[index];
        var input = c.GetString("input")!;
        var expected = c.GetString("output");
        var ok = WhatwgUrl.TryParse("https://" + input + "/x", null, out var url, out var error);
        if (expected is null)
        {
            Assert.False(ok, $"case {index} {display}: expected failure, got {url?.Hostname}");
        }
        else
        {
            Assert.True(ok, $"case {index} {display}: expected {expected}, got {error}");
            Assert.Equal(expected, url!.Hostname);
        }
    }


    private static bool HasExtensionJ(string s)
    {
        foreach (var rune in s.EnumerateRunes())
        {
            if (rune.Value is >= 0x323B0 and <= 0x3347F)
            {
                return true;
            }
        }

        return false;
    }
}
