using System.Text;
using OptOutRegistry.Signals.C2pa;
using OptOutRegistry.Signals.Html;
using OptOutRegistry.Signals.Preferences;
using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.RobotsTags;
using OptOutRegistry.Signals.Rsl;
using OptOutRegistry.Signals.StructuredFields;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Tests;

/// <summary>
/// Random and mutated input to every parser (fixed seeds, bounded counts): no exception may escape.
/// Seeds are valid documents so that mutations reach deep parser states.
/// </summary>
public sealed class FuzzTests
{
    private const int Iterations = 1500;
    private const string Structural = "*$%:;,=\"()[]{}<>/\\#\n\r?@";

    private static readonly string[] Seeds =
    [
        "User-agent: GPTBot\nDisallow: /\nContent-Usage: /a/ train-ai=n\nContent-Signal: search=yes, ai-train=no\nLicense: https://e.com/l.xml\nUser-agent: *\nAllow: /*.html$\n",
        """[{"location":"/a/*.jpg$","tdm-reservation":1,"tdm-policy":"https://e.com/p.json"},{"location":"/","tdm-reservation":0}]""",
        "en=\"Applepie\", da=:w4ZibGV0w6ZydGUK:, x=(1 2.5 ?0 @1659578233 %\"f%c3%bc\");p=tok, train-ai=n;q",
        "<package prefix=\"tdm: http://www.w3.org/ns/tdmrep#\"><metadata><meta property=\"tdm:reservation\">1</meta><meta name=\"tdm:policy\" content=\"https://e.com\"/></metadata></package>",
        """{"active_manifest":"a","manifests":{"a":{"assertions":[{"label":"cawg.training-mining","data":{"entries":{"cawg.ai_training":{"use":"notAllowed"}}}}]}}}""",
        "<html><head><meta name=\"robots\" content=\"noai, img2dataset: noimageai\"><link rel=\"license\" href=\"/l\"></head></html>",
        "googlebot: noindex, unavailable_after: Wednesday, 03-Nov-2027 15:00:00 GMT, noai",
        "<https://e.com/l.xml>; rel=\"license\"; type=\"application/rsl+xml\", <https://x>; rel=next",
    ];

    public static TheoryData<int> SeedIndexes() => [.. Enumerable.Range(0, Seeds.Length)];

    [Theory]
    [MemberData(nameof(SeedIndexes))]
    public void AllParsers_MutatedInput_NeverThrow(int seedIndex)
    {
        var random = new Random(1000 + seedIndex);
        var seed = Encoding.UTF8.GetBytes(Seeds[seedIndex]);
        for (var i = 0; i < Iterations; i++)
        {
            var bytes = i % 10 == 0 ? RandomBytes(random) : Mutate(seed, random);
            var text = Encoding.UTF8.GetString(bytes);
            var latin = Encoding.Latin1.GetString(bytes);
            try
            {
                var robots = RobotsTxt.Parse(bytes);
                robots.IsAllowed(text.Length > 0 && text[0] == '/' ? text : "/" + text, "GPTBot");
                robots.GetPreferences("/a/b", "GPTBot", RobotsPreferenceKind.ContentUsage);
                robots.GetPreferences("/a/b", "x", RobotsPreferenceKind.ContentSignal);
                var file = TdmrepFile.Parse(bytes);
                file.Match("/a/b.jpg");
                StructuredFieldParser.TryParseDictionary(latin, out _, out _);
                StructuredFieldParser.TryParseList(latin, out _, out _);
                StructuredFieldParser.TryParseItem(latin, out _, out _);
                ContentUsage.Parse(text, out _);
                ContentSignal.Parse(text);
                TdmrepMetadata.FromEpubPackage(text);
                TdmrepMetadata.FromXmp(text);
                TdmrepMetadata.FromHeaders([new("tdm-reservation", text), new("tdm-policy", text)]);
                TrainingMining.ToPreferences(TrainingMining.Parse(text, out _));
                RobotsTagDirectives.ParseHeaders([text, latin]);
                LinkHeader.FindLicenses([text]);
                PathPattern.Compile(bytes).Matches(PathNormalizer.NormalizeString(text));
                if (i % 5 == 0)
                {
                    // AngleSharp is slower; a fifth of the inputs is plenty.
                    HtmlSignals.Parse(text);
                }

                if (i % 20 == 0)
                {
                    using var ms = new MemoryStream(bytes);
                    TdmrepMetadata.FromEpub(ms);
                }
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed {seedIndex} iteration {i}: {ex.GetType().Name}: {ex.Message}\ninput (base64): {Convert.ToBase64String(bytes)}");
            }
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 512)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var list = new List<byte>(seed);
        var mutations = random.Next(1, 8);
        for (var m = 0; m < mutations; m++)
        {
            var pos = list.Count == 0 ? 0 : random.Next(list.Count);
            switch (random.Next(5))
            {
                case 0 when list.Count > 0:
                    list[pos] = (byte)random.Next(256);
                    break;
                case 1:
                    list.Insert(pos, (byte)random.Next(256));
                    break;
                case 2 when list.Count > 0:
                    list.RemoveAt(pos);
                    break;
                case 3:
                    // Structural characters the parsers care about.
                    list.Insert(pos, (byte)Structural[random.Next(Structural.Length)]);
                    break;
                default:
                    if (list.Count > 0)
                    {
                        var len = random.Next(1, Math.Min(32, list.Count - pos) + 1);
                        list.InsertRange(pos, list.GetRange(pos, Math.Min(len, list.Count - pos)));
                    }

                    break;
            }
        }

        return [.. list];
    }
}
