using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using OptOutRegistry.Signals.Html;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Tests;

/// <summary>TDMRep: the spec examples (corpora/tdmrep-aipref/tdmrep_spec_examples.json) and the edge cases of standards.md §10 cases 4–5.</summary>
public sealed class TdmrepTests
{
    private static readonly JsonArray Examples = JsonNode.Parse(Corpus.Read("tdmrep-aipref", "tdmrep_spec_examples.json"))!["examples"]!.AsArray();

    public static TheoryData<int> FileExamples() => Indexes("tdmrep.json");

    public static TheoryData<int> MetadataExamples()
    {
        var data = new TheoryData<int>();
        foreach (var kind in new[] { "http-headers", "html-meta", "epub2", "epub3", "pdf-xmp" })
        {
            foreach (var i in Indexes(kind))
            {
                data.Add(i);
            }
        }

        return data;
    }

    private static TheoryData<int> Indexes(string kind)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < Examples.Count; i++)
        {
            if (Examples[i]!["kind"]!.GetValue<string>() == kind)
            {
                data.Add(i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FileExamples))]
    public void File_SpecExample_ParsesToStatedRules(int index)
    {
        var example = Examples[index]!;
        var file = TdmrepFile.Parse(Encoding.UTF8.GetBytes(example["text"]!.GetValue<string>()));
        Assert.Null(file.Error);
        var parsed = example["parsed"]!.AsArray();
        Assert.Equal(parsed.Count, file.Rules.Count);
        for (var i = 0; i < parsed.Count; i++)
        {
            Assert.Equal(parsed[i]!["location"]!.GetValue<string>(), file.Rules[i].Location.Text);
            var expected = parsed[i]!["tdm-reservation"]!.GetValue<int>() == 1 ? TdmReservation.Reserved : TdmReservation.NotReserved;
            Assert.Equal(expected, file.Rules[i].Reservation);
            Assert.Equal(parsed[i]!["tdm-policy"]?.GetValue<string>(), file.Rules[i].Policy);
        }
    }

    [Theory]
    [MemberData(nameof(MetadataExamples))]
    public void Metadata_SpecExample_IsReserved(int index)
    {
        var example = Examples[index]!;
        var text = example["text"]!.GetValue<string>();
        var statement = example["kind"]!.GetValue<string>() switch
        {
            "http-headers" => TdmrepMetadata.FromHeaders(text.Split('\n').Skip(1).Select(l => l.Split(':', 2))
                .Select(p => new KeyValuePair<string, string>(p[0].Trim(), p[1].Trim()))),
            "html-meta" => TdmrepMetadata.FromHtmlMeta(HtmlSignals.Parse(text).Meta),
            "epub2" or "epub3" => TdmrepMetadata.FromEpubPackage(text),
            _ => TdmrepMetadata.FromXmp(text),
        };

        // Every metadata example of the spec states a reservation; those with a tdm-policy give a provider URL.
        Assert.Equal(TdmReservation.Reserved, statement.Reservation);
        if (text.Contains("policy", StringComparison.Ordinal))
        {
            Assert.StartsWith("https://", statement.Policy);
            Assert.EndsWith("/policies/policy.json", statement.Policy);
        }
    }

    [Theory]
    [InlineData("/directory-a/page.html", TdmReservation.Reserved)]
    [InlineData("/directory-b/html/x.html", TdmReservation.Reserved)]
    [InlineData("/directory-b/images/a.jpg", TdmReservation.NotReserved)]
    [InlineData("/directory-b/images/a.png", TdmReservation.Unset)]
    [InlineData("/elsewhere", TdmReservation.Unset)]
    public void File_SpecExample2_MatchesPaths(string path, TdmReservation expected)
    {
        var file = TdmrepFile.Parse(Encoding.UTF8.GetBytes(Examples[1]!["text"]!.GetValue<string>()));
        Assert.Equal(expected, file.Match(path)?.Reservation ?? TdmReservation.Unset);
    }

    [Fact]
    public void File_FirstMatchInOrderWins_NotLongest()
    {
        var file = TdmrepFile.Parse("""[{"location":"/","tdm-reservation":0},{"location":"/private/","tdm-reservation":1}]"""u8);
        Assert.Equal(TdmReservation.NotReserved, file.Match("/private/x")!.Reservation);
    }

    [Theory]
    [InlineData("""[{"location":"/","tdm-reservation":"1"}]""")]
    [InlineData("""[{"location":"/","tdm-reservation":2}]""")]
    [InlineData("""[{"location":"/","tdm-reservation":true}]""")]
    [InlineData("""[{"location":"/","tdm-reservation":1.0}]""")]
    [InlineData("""[{"location":"/"}]""")]
    public void File_InvalidReservation_IsUnsetAndReported(string json)
    {
        var file = TdmrepFile.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal(TdmReservation.Unset, file.Match("/x")!.Reservation);
        Assert.NotNull(file.Error);
    }

    [Theory]
    [InlineData("""{"location":"/","tdm-reservation":1}""")] // not an array
    [InlineData("not json")]
    [InlineData("")]
    public void File_NotAnArray_HasNoRulesAndAnError(string json)
    {
        var file = TdmrepFile.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Empty(file.Rules);
        Assert.NotNull(file.Error);
    }

    [Fact]
    public void File_DeepJson_IsRejectedWithoutCrashing()
    {
        var deep = new string('[', 100_000) + new string(']', 100_000);
        var file = TdmrepFile.Parse(Encoding.UTF8.GetBytes(deep));
        Assert.Empty(file.Rules);
        Assert.Contains("JSON", file.Error);
    }

    [Fact]
    public void File_WildcardAndAnchor()
    {
        var file = TdmrepFile.Parse("""[{"location":"/img/*.jpg$","tdm-reservation":1}]"""u8);
        Assert.NotNull(file.Match("/img/a/b.jpg"));
        Assert.Null(file.Match("/img/a.jpg.html"));
    }

    [Fact]
    public void Precedence_LaterTechniqueSupersedes_AbsenceNeverResets()
    {
        var fileSays = new TdmrepStatement(TdmrepTechnique.WellKnownFile, TdmReservation.Reserved, "https://p.example/policy.json", "file");
        var headerSays = new TdmrepStatement(TdmrepTechnique.HttpHeader, TdmReservation.NotReserved, null, "header");
        var htmlSays = new TdmrepStatement(TdmrepTechnique.HtmlMeta, TdmReservation.Reserved, null, "html");
        var epubSilent = new TdmrepStatement(TdmrepTechnique.Epub, TdmReservation.Unset, null, "epub");

        // HTML meta supersedes the header (TDMRep §4.3; the opposite of jobseek's implementation).
        var (r1, p1, d1) = TdmrepRules.Resolve([epubSilent, htmlSays, headerSays, fileSays]);
        Assert.Equal(TdmReservation.Reserved, r1);
        Assert.Equal("html", d1!.Source);
        Assert.Equal("https://p.example/policy.json", p1); // the file's policy is not reset by later silence

        var (r2, p2, _) = TdmrepRules.Resolve([fileSays, headerSays]);
        Assert.Equal(TdmReservation.NotReserved, r2);
        Assert.Null(p2); // with 0, the policy is not processed

        var (r3, _, _) = TdmrepRules.Resolve([fileSays, epubSilent]);
        Assert.Equal(TdmReservation.Reserved, r3);
    }

    [Theory]
    [InlineData("1", TdmReservation.Reserved)]
    [InlineData(" 1 ", TdmReservation.Reserved)]
    [InlineData("0", TdmReservation.NotReserved)]
    [InlineData("yes", TdmReservation.Unset)]
    [InlineData("1, 1", TdmReservation.Unset)]
    public void Header_Values(string value, TdmReservation expected)
    {
        var s = TdmrepMetadata.FromHeaders([new("TDM-Reservation", value)]);
        Assert.Equal(expected, s.Reservation);
    }

    [Fact]
    public void Header_StaleNameTdmA_IsNotAccepted()
    {
        Assert.Equal(TdmReservation.Unset, TdmrepMetadata.FromHeaders([new("TDM-a", "1")]).Reservation);
    }

    [Fact]
    public void Header_ConflictingRepeats_AreUnset()
    {
        var s = TdmrepMetadata.FromHeaders([new("tdm-reservation", "1"), new("tdm-reservation", "0")]);
        Assert.Equal(TdmReservation.Unset, s.Reservation);
        Assert.NotNull(s.Error);
    }

    [Fact]
    public void Epub3_PrefixBoundToAnotherUri_IsNotTdmrep()
    {
        var opf = """<package prefix="tdm: http://example.com/other#"><metadata><meta property="tdm:reservation">1</meta></metadata></package>""";
        Assert.Equal(TdmReservation.Unset, TdmrepMetadata.FromEpubPackage(opf).Reservation);
    }

    [Fact]
    public void Xmp_EpubNamespaceWithHash_IsNotThePdfNamespace()
    {
        var xmp = """<rdf:Description xmlns:tdm="http://www.w3.org/ns/tdmrep#"><tdm:reservation>1</tdm:reservation></rdf:Description>""";
        Assert.Equal(TdmReservation.Unset, TdmrepMetadata.FromXmp(xmp).Reservation);
    }

    [Fact]
    public void Epub_ZipFile_IsReadThroughContainer()
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, "mimetype", "application/epub+zip");
            Write(zip, "META-INF/container.xml", """<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>""");
            Write(zip, "OEBPS/content.opf", """<?xml version="1.0"?><package version="3.0" prefix="tdm: http://www.w3.org/ns/tdmrep#" xmlns="http://www.idpf.org/2007/opf"><metadata><meta property="tdm:reservation">1</meta></metadata></package>""");
        }

        ms.Position = 0;
        var s = TdmrepMetadata.FromEpub(ms);
        Assert.Equal(TdmReservation.Reserved, s.Reservation);
        Assert.Contains("OEBPS/content.opf", s.Source);
    }

    [Fact]
    public void Epub_NotAZip_ReportsAnError()
    {
        using var ms = new MemoryStream([1, 2, 3, 4, 5]);
        var s = TdmrepMetadata.FromEpub(ms);
        Assert.Equal(TdmReservation.Unset, s.Reservation);
        Assert.NotNull(s.Error);
    }

    private static void Write(ZipArchive zip, string name, string content)
    {
        using var w = new StreamWriter(zip.CreateEntry(name).Open());
        w.Write(content);
    }
}
