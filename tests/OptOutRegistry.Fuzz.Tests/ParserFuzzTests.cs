using OptOutRegistry.Fuzz.Parsers;
using Xunit.Abstractions;

namespace OptOutRegistry.Fuzz.Tests;

/// <summary>
/// CI-sized parser fuzzing: every parser of untrusted input gets its seeds and then mutated inputs for a short, fixed
/// time budget (the long run is <c>dotnet run -c Release --project tools/OptOutRegistry.Fuzz -- --minutes 10</c>).
/// Any exception other than the parser's documented error, any hang and any input slower than
/// <see cref="ParserFuzzer.SlowInputLimit"/> fails the test with the input as base64.
/// </summary>
public sealed class ParserFuzzTests(ITestOutputHelper output)
{
    /// <summary>Time per target in CI: about 45 targets, so about a minute in all.</summary>
    private static readonly TimeSpan s_budget = TimeSpan.FromSeconds(1.2);

    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (var target in ParserTargets.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Parser_WithSeedsAndMutatedInputs_ReturnsOrThrowsOnlyItsDocumentedError(string name)
    {
        var target = ParserTargets.Get(name);

        // A fixed seed per target keeps CI reproducible; the long run varies it with --seed.
        var result = ParserFuzzer.Run(target, seed: StableHash(name), maxInputs: 200_000, s_budget);

        output.WriteLine($"{name}: {result.Inputs:N0} inputs, {result.DocumentedErrors:N0} documented errors, slowest {result.SlowestInput.TotalMilliseconds:F1} ms");
        Assert.True(result.Inputs >= target.Seeds.Count + 10, $"{name}: only {result.Inputs} inputs ran in {s_budget.TotalSeconds} s");
        Assert.True(result.Findings.Count == 0, string.Join(Environment.NewLine, result.Findings));
    }

    [Fact]
    public void Targets_CoverEveryParserOfUntrustedInput()
    {
        // Issue 9: URLs, robots.txt, tdmrep.json, headers, HTML, WARC, JSON Lines, ISCC strings, receipts (and the rest
        // of the listed parsers). A target removed by accident fails here.
        string[] required =
        [
            "url.whatwg", "url.match-key", "url.host", "url.path", "identifier", "iscc.core", "iscc.fingerprints", "selector",
            "robots.txt", "structured-field", "aipref.content-usage", "content-signal", "tdmrep.json", "tdmrep.headers-meta",
            "tdmrep.epub-xmp", "x-robots-tag", "html.meta", "rsl.link-header", "c2pa.training-mining", "filter.jsonl", "filter.csv",
            "filter.tsv", "filter.urls", "filter.warc", "receipt.json", "receipt.leaf", "snapshot", "import.line", "png",
        ];
        foreach (var name in required)
        {
            Assert.Contains(ParserTargets.All, t => t.Name == name);
        }
    }

    private static int StableHash(string text)
    {
        var hash = 17;
        foreach (var c in text)
        {
            hash = unchecked(hash * 31 + c);
        }

        return hash;
    }
}
