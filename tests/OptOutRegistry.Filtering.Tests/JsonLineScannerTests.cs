using System.Text;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>
/// The fast JSON Lines scanner must never accept a line the validating reader (<see cref="FieldPath.Locate"/>)
/// rejects, and where it answers, it must find the same values: the filter's error behaviour stays the reader's.
/// </summary>
public sealed class JsonLineScannerTests
{
    private static readonly FieldPath s_url = new("url");
    private static readonly FieldPath s_nested = new("meta.src.url");
    private static readonly FieldPath s_text = new("text");

    [Theory]
    // Lines the scanner answers itself (plain, well-formed, fields strings/null/absent).
    [InlineData("{\"id\":1,\"url\":\"https://a.example/x\",\"lang\":\"en\"}", "url", true, "https://a.example/x")]
    [InlineData("{ \"url\" : \"https://a.example/\" , \"n\" : -0.5e+10 }  ", "url", true, "https://a.example/")]
    [InlineData("{\"a\":[1,2,{\"url\":\"decoy\"}],\"url\":\"u\"}", "url", true, "u")]
    [InlineData("{\"url\":\"first\",\"url\":\"second\"}", "url", true, "first")]
    [InlineData("{\"url\":null}", "url", true, null)]
    [InlineData("{}", "url", true, null)]
    [InlineData("{\"x\":{\"url\":\"nested only\"}}", "url", true, null)]
    [InlineData("{\"meta\":{\"src\":{\"url\":\"deep\"}},\"url\":\"top\"}", "meta.src.url", true, "deep")]
    [InlineData("{\"meta\":{\"src\":{\"x\":1}},\"meta\":{\"src\":{\"url\":\"late\"}}}", "meta.src.url", true, null)]
    [InlineData("{\"meta\":5,\"x\":{\"meta\":{\"src\":{\"url\":\"decoy\"}}}}", "meta.src.url", true, null)]
    [InlineData("{\"meta\":{\"src\":[{\"url\":\"in array\"}]}}", "meta.src.url", true, null)]
    [InlineData("{\"t\":true,\"f\":false,\"z\":0,\"e\":[],\"o\":{},\"url\":\"ü/é\"}", "url", true, "ü/é")]
    // Lines left to the reader: escapes, control characters, wrong types, malformed JSON.
    [InlineData("{\"url\":\"https://a.example/\\u0070\"}", "url", false, null)]
    [InlineData("{\"url\":42}", "url", false, null)]
    [InlineData("{\"url\":{\"a\":1}}", "url", false, null)]
    [InlineData("{\"url\":[\"x\"]}", "url", false, null)]
    [InlineData("{\"url\":\"a\"", "url", false, null)]
    [InlineData("{\"url\":\"a\"} x", "url", false, null)]
    [InlineData("{\"url\":\"a\",}", "url", false, null)]
    [InlineData("{\"n\":01,\"url\":\"a\"}", "url", false, null)]
    [InlineData("{\"n\":1.,\"url\":\"a\"}", "url", false, null)]
    [InlineData("{\"n\":tru,\"url\":\"a\"}", "url", false, null)]
    [InlineData("[\"url\"]", "url", false, null)]
    [InlineData("", "url", false, null)]
    [InlineData("{\"url\":\"a\"}{\"url\":\"b\"}", "url", false, null)]
    [InlineData("{\"url\":\"tab\there\"}", "url", false, null)]
    public void Answers_only_what_the_reader_accepts_and_finds_the_same_value(string line, string path, bool fastPath, string? expected)
    {
        var json = Encoding.UTF8.GetBytes(line);
        var field = new FieldPath(path);
        var answered = JsonLineScanner.TryLocate(json, field, null, out var value, out _);
        Assert.Equal(fastPath, answered);
        var error = FieldPath.Locate(json, field, null, out var reference, out _);
        if (answered)
        {
            Assert.Null(error);
            Assert.Equal(reference, value);
            Assert.Equal(expected, value.GetString(json));
        }
    }

    [Theory]
    [InlineData("{\"\\ud800\":")]
    [InlineData("{\"\\ud800\":1}")]
    [InlineData("{\"meta\":{\"\\ud800\":")]
    public void Unpaired_surrogate_escapes_in_names_are_malformed_records_not_crashes(string line)
    {
        var error = FieldPath.Extract(Encoding.UTF8.GetBytes(line), s_url, new FieldPath("meta.text"), out _, out _);
        Assert.StartsWith("malformed JSON", error, StringComparison.Ordinal);
        Assert.StartsWith("malformed JSON", FieldPath.Extract(Encoding.UTF8.GetBytes(line), s_url, null, out _, out _), StringComparison.Ordinal);
    }

    [Fact]
    public void Fuzz_input_with_a_truncated_surrogate_name_is_rejected()
    {
        // tools/OptOutRegistry.Fuzz target filter.field-path reported this input.
        var input = Convert.FromBase64String("eyJcdWQ4MDAiOg==");
        Assert.Equal("{\"\\ud800\":", Encoding.UTF8.GetString(input));
        var error = FieldPath.Extract(input, new FieldPath("url"), new FieldPath("meta.text"), out _, out _);
        Assert.StartsWith("malformed JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_mutations_of_valid_lines_never_disagree_with_the_reader()
    {
        string[] seeds =
        [
            "{\"id\":12,\"url\":\"https://a.example/p?q=1\",\"lang\":\"en\",\"score\":-1.5e3,\"ok\":true,\"tags\":[\"a\",{\"b\":null}]}",
            "{\"meta\":{\"src\":{\"url\":\"https://b.example/\"},\"n\":[1,2,3]},\"text\":\"some text\",\"url\":\"https://c.example/\"}",
        ];
        var alphabet = "{}[]:,\"\\ 0123456789.-+eEtrufalsn\tabcü"u8.ToArray();
        var random = new Random(8);
        var checkedLines = 0;
        foreach (var seed in seeds)
        {
            var original = Encoding.UTF8.GetBytes(seed);
            for (var n = 0; n < 20_000; n++)
            {
                var line = (byte[])original.Clone();
                var edits = 1 + random.Next(3);
                for (var e = 0; e < edits; e++)
                {
                    var at = random.Next(line.Length);
                    switch (random.Next(3))
                    {
                        case 0: line[at] = alphabet[random.Next(alphabet.Length)]; break;
                        case 1: line = [.. line.AsSpan(0, at), .. line.AsSpan(at + 1)]; break;
                        default: line = [.. line.AsSpan(0, at), alphabet[random.Next(alphabet.Length)], .. line.AsSpan(at)]; break;
                    }

                    if (line.Length == 0) { break; }
                }

                foreach (var (first, second) in new[] { (s_url, (FieldPath?)null), (s_nested, s_text), (s_text, s_url) })
                {
                    if (!JsonLineScanner.TryLocate(line, first, second, out var a, out var b))
                    {
                        continue;
                    }

                    var error = FieldPath.Locate(line, first, second, out var ra, out var rb);
                    Assert.True(error is null, $"scanner accepted what the reader rejects ({error}): {Encoding.UTF8.GetString(line)}");
                    Assert.Equal(ra, a);
                    Assert.Equal(rb, b);
                    checkedLines++;
                }
            }
        }

        // The mutations must leave a good share of lines valid, or the agreement above proves little.
        Assert.True(checkedLines > 2_000, $"only {checkedLines} mutated lines were accepted");
    }
}
