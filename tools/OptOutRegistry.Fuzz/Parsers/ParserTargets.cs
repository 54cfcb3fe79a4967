using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using OptOutRegistry.Core.Domains;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Filtering;
using OptOutRegistry.Fingerprints.Iscc;
using OptOutRegistry.Fingerprints.Imaging;
using OptOutRegistry.Signals.Agents;
using OptOutRegistry.Signals.C2pa;
using OptOutRegistry.Signals.Html;
using OptOutRegistry.Signals.Preferences;
using OptOutRegistry.Signals.Resolution;
using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.RobotsTags;
using OptOutRegistry.Signals.Rsl;
using OptOutRegistry.Signals.StructuredFields;
using OptOutRegistry.Signals.Tdmrep;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Fuzz.Parsers;

/// <summary>
/// Every parser of untrusted input, as a fuzz target. Each <c>Run</c> parses and then uses the result the way the
/// product does (matching paths, reading fields), because bugs hide as often in what consumes a parse as in the parse.
/// </summary>
public static class ParserTargets
{
    private static readonly Lazy<IReadOnlyList<ParserTarget>> s_all = new(Create);

    /// <summary>All targets, in a stable order.</summary>
    public static IReadOnlyList<ParserTarget> All => s_all.Value;

    /// <summary>The target named <paramref name="name"/>.</summary>
    public static ParserTarget Get(string name)
    {
        foreach (var target in All)
        {
            if (target.Name == name)
            {
                return target;
            }
        }

        throw new ArgumentException($"no parser target '{name}'", nameof(name));
    }

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[][] Seeds(params string[] seeds)
    {
        var result = new byte[seeds.Length][];
        for (var i = 0; i < seeds.Length; i++)
        {
            result[i] = U(seeds[i]);
        }

        return result;
    }

    /// <summary>Decodes as the product does for text arriving as bytes: UTF-8 with replacement of invalid sequences.</summary>
    private static string S(byte[] input) => Encoding.UTF8.GetString(input);

    private static readonly string[] s_urlSeeds =
    [
        "https://example.com/", "HTTPS://Example.COM:443/a/./b/../c?q=1#top", "http://user:pass@[::1]:8080/p%41th?x=%zz",
        "https://xn--nxasmq6b.com/ä/ö?ü=1", "https://bücher.example/straße", "http://192.168.0.1./x", "http://0x7f.1/",
        "https://example.com/a b\t\n", "https://a.b.c.d.e.f.example.co.uk/path;params?query#frag", "//example.com/x",
        "https://example.com:99999/", "https://[v1.x]/", "https://%65xample.com/", "https://example.com/\u00ad/", "file:///etc/passwd",
        "https://exa mple.com/", "https://example.com/%2e%2E/%2e/x", "https://例え.テスト/パス", "https://ex\u200dample.com/",
    ];

    private static readonly string[] s_urlTokens =
    [
        "https://", "http://", "//", "@", ":", "[", "]", "::", "%", "%2e", "%25", "/./", "/../", "?", "#", "xn--", ".", "0x", "\\",
        "\u00df", "\u0130", "\uFF0E", "\u3002", "\u200b", "255.255.255.256", "example.com", "\u0000", ":443", ":0",
    ];

    private static IReadOnlyList<ParserTarget> Create()
    {
        var targets = new List<ParserTarget>();
        var urlSeeds = Seeds(s_urlSeeds);

        // --- URLs (Core/Urls): the check hot path. UrlFormatException is the documented error of the throwing forms.
        targets.Add(new ParserTarget("url.whatwg", input =>
        {
            var text = S(input);
            if (WhatwgUrl.TryParse(text, null, out var url, out _))
            {
                _ = url.ToString();
                _ = WhatwgUrl.TryParse("../x?y#z", url.ToString(), out _, out _);
            }

            _ = WhatwgUrl.TryParse(text, "https://base.example/dir/file?q", out _, out _);
        }, urlSeeds, s_urlTokens, []));

        targets.Add(new ParserTarget("url.match-key", input =>
        {
            var text = S(input);
            var destination = new char[9 * text.Length + 64];
            if (UrlCanonicalizer.TryWriteMatchKey(text, destination, out var written, out var parts, out _))
            {
                // The parts must lie inside what was written.
                if (parts.PathStart > written || parts.HostLength > written)
                {
                    throw new InvalidOperationException($"match key parts {parts} outside the {written} characters written");
                }

                // A match key is a fixed point: canonicalising it again gives itself.
                var key = new string(destination, 0, written);
                var again = UrlCanonicalizer.GetMatchKey("https://" + key);
                _ = again;
            }

            _ = UrlCanonicalizer.GetMatchKey(text);
        }, urlSeeds, s_urlTokens, [typeof(UrlFormatException)]));

        targets.Add(new ParserTarget("url.host", input => _ = UrlCanonicalizer.NormalizeHost(S(input)),
            Seeds("Example.COM", "bücher.de", "xn--bcher-kva.de", "[::1]", "127.0.0.1", "0x7f.0.0.1", "a..b", "例え.テスト", "-a-.com", "a.b.c."),
            s_urlTokens, [typeof(UrlFormatException)], 4096));

        targets.Add(new ParserTarget("url.path", input => _ = UrlCanonicalizer.NormalizePath(S(input)),
            Seeds("/a/./b/../c?q=1", "/%7Euser/a%2fb", "/ä ö?x=ü", "/*", "/a*b$", "//x//y", "?only=query", "/%"),
            s_urlTokens, [typeof(UrlFormatException)]));

        // --- Identifiers, ISCC, selectors (Core/Model, Core/Identifiers, Fingerprints/Iscc).
        targets.Add(new ParserTarget("identifier", input =>
        {
            if (StandardIdentifier.TryParse(S(input), out var id, out _))
            {
                _ = id.ToString();
            }
        }, Seeds("isbn:9780306406157", "ISBN 978-0-306-40615-7", "issn:0317-8471", "doi:10.1000/xyz", "https://doi.org/10.1000/a(b)c",
            "10.1000/xyz", "isrc:USRC17607839", "iswc:T-034.524.680-1", "isni:0000000121032683", "orcid:0000-0002-1825-0097", "ark:/13030/tf5p30086k", "urn:isbn:0451450523"),
            ["isbn:", "issn:", "doi:", "isrc:", "iswc:", "isni:", "orcid:", "ark:", "urn:", "-", "X", "10.", "https://doi.org/", "http://dx.doi.org/"], [], 2048));

        var isccSeeds = Seeds("ISCC:KACT4EBWK27737D2AYCJRAL5Z36G76RFRMO4554RU26HZ4ORJGIVHDI", "ISCC:EAASKDNZNYGUUF5A", "ISCC:GAA2HSX56RRDHMFQ",
            "ISCC:KEC5BY5HQZUEMD4VGSFJM5H7B2A3IXHOZG4Q7CZBWUDLF2NC6BCQAJI", "iscc:eaaskdnznyguuf5a", "ISCC:AAAAAAAAAAAAAAAA", "ISCC:");
        var isccTokens = new[] { "ISCC:", "iscc:", "A", "Z", "2", "7", "=", "KACT", "EAA", "GAA", "IAA", "MAA" };
        targets.Add(new ParserTarget("iscc.core", input => _ = Core.Model.IsccCode.TryParse(S(input), out _, out _), isccSeeds, isccTokens, [], 2048));
        // One decoder since round three (Core's IsccCode): this target reads any well-formed ISCC the way the Fingerprints
        // project does (TryDecode: IDs, Flakes, 32-bit units) and re-encodes it with Fingerprints' Decompose.
        targets.Add(new ParserTarget("iscc.fingerprints", input =>
        {
            if (Core.Model.IsccCode.TryDecode(S(input), out var code, out _))
            {
                _ = Fingerprints.Iscc.IsccCodec.Decompose(code);
            }
        }, isccSeeds, isccTokens, [], 2048));

        targets.Add(new ParserTarget("selector", input =>
        {
            // First byte picks the kind, the rest is the value (every kind sees every value shape).
            var kind = (SelectorKind)(input.Length == 0 ? 0 : input[0] % 8);
            var value = S(input.AsSpan(Math.Min(1, input.Length)).ToArray());
            var options = (SelectorOptions)(input.Length > 1 ? input[1] & 3 : 0);
            if (Selector.TryCreate(kind, value, options, null, out var selector, out _, out _))
            {
                _ = selector!.Text;
            }
        }, Seeds("\u0000https://example.com/a.jpg", "\u0001example.com/gallery/", "\u0002example.com/photos/*.jpg$", "\u0003blog.example.com",
            "\u0004example.co.uk", "\u00050123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "\u0006ISCC:EAASKDNZNYGUUF5A", "\u0007isbn:9780306406157",
            "\u0002example.com*a*a*a*a*b", "\u0004co.uk"), s_urlTokens, []));

        targets.Add(new ParserTarget("iscc.meta-json", input =>
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(input, new JsonDocumentOptions { MaxDepth = 256 });
            }
            catch (JsonException)
            {
                // Not JSON at all: the generator never sees it (its callers parse first).
                return;
            }

            using (document)
            {
                _ = IsccGenerator.GenMetaCodeV0("Title", "Description", document.RootElement);
            }
        }, Seeds("{\"title\":\"x\",\"n\":1.5e300,\"a\":[true,null,-0]}", "\"data:application/json;base64,eyJhIjoxfQ==\"", "\"data:,plain\"", "{\"\\ud800\":1}", "[1,2,{}]"),
            ["{", "}", "[", "]", "\"", ":", ",", "1e308", "-0", "\\ud800", "\\udc00", "\"data:", ";base64,", "null"], [typeof(ArgumentException), typeof(FormatException)], 16 * 1024));

        targets.Add(new ParserTarget("iscc.text-code", input => _ = IsccGenerator.GenTextCodeV0(S(input)),
            Seeds("Hello World", "  \u00c5ngstr\u00f6m\r\n\tnew line ", "\u0130\u0131\ufb01 ligature \u1e9e", "\u0000\u200b\u202e"), ["\u0301", "\u00a0", "\r\n", " ", "\ufeff"], [], 16 * 1024));

        targets.Add(new ParserTarget("png", input =>
        {
            if (PngDecoder.TryDecode(input, out var image, out _))
            {
                _ = ImageHashes.AverageHash(image);
                _ = ImageHashes.PerceptualHash(image);
                _ = ImageHashes.IsccImageCode(image);
            }
        }, [Png(1, 1, 6), Png(3, 2, 2), Png(17, 5, 0), Png(4, 4, 4)], ["IHDR", "IDAT", "IEND", "PLTE", "tRNS", "\u0000\u0000\u0000\u0000", "\u00ff\u00ff\u00ff\u00ff"], [], 16 * 1024));

        // --- Public Suffix List (runtime data can be replaced by the operator's file).
        targets.Add(new ParserTarget("public-suffix-list", input =>
        {
            var list = PublicSuffixList.Parse(new StringReader(S(input)));
            _ = list.GetRegistrableDomain("a.b.example.co.uk");
            _ = list.GetRegistrableDomain("x.y.z");
        }, Seeds("// comment\ncom\nco.uk\n*.ck\n!www.ck\n", "*.kawasaki.jp\n!city.kawasaki.jp\n", "食狮.中国\nxn--fiqs8s\n", "*.*.a\n!b\n*\n"),
            ["\n", "*.", "!", "//", ".", "xn--", "===BEGIN ICANN DOMAINS===", "\u00e9"], [typeof(FormatException)]));

        // --- robots.txt (RFC 9309) and what consumes it.
        var robotsSeeds = Seeds(
            "User-agent: *\nDisallow: /private/\nAllow: /private/public*.html$\nSitemap: https://example.com/sitemap.xml\n",
            "user-agent: GPTBot\nuser-agent: CCBot\ndisallow: /\n\nuser-agent: *\nallow: /\ncontent-usage: train-ai=n\n",
            "User-Agent: Googlebot-Image\r\nDisallow: /*.gif$\r\nDisallow: /a*b*c*d\r\n# comment\r\nContent-Signal: search=yes, ai-train=no\r\n",
            "\uFEFFuser-agent:*\ndisallow:/%E2%82%AC/\nallow:/€/x\nlicense: https://example.com/license.xml\n",
            "Disallow: /orphan\nUser-agent:\nDisallow:\ncontent-usage: /images/ train-ai=y\n");
        var robotsTokens = new[] { "user-agent:", "disallow:", "allow:", "sitemap:", "content-usage:", "content-signal:", "license:", "crawl-delay:", "*", "$", "\n", "\r\n", "#", "%2F", "GPTBot", "/a*", "train-ai=n", "search=y" };
        targets.Add(new ParserTarget("robots.txt", input =>
        {
            var robots = RobotsTxt.Parse(input);
            foreach (var agent in (ReadOnlySpan<string>)["GPTBot", "Googlebot-Image/1.0", "*", ""])
            {
                _ = robots.IsAllowed("/private/public1.html", agent);
                _ = robots.IsAllowed("/a/x/b/y/c/z/d?q=%E2%82%AC", agent);
                _ = robots.GetPreferences("/images/a.png", agent, RobotsPreferenceKind.ContentUsage);
                _ = robots.GetPreferences("/", agent, RobotsPreferenceKind.ContentSignal);
                _ = robots.GetLicenses(agent);
            }
        }, robotsSeeds, robotsTokens, [], 64 * 1024));

        targets.Add(new ParserTarget("robots.path-pattern", input =>
        {
            // Half the input is the pattern, half the path: every pattern shape against every path shape.
            var text = S(input);
            var cut = text.Length / 2;
            var pattern = PathPattern.Compile(text[..cut]);
            _ = pattern.Matches(PathNormalizer.NormalizeString(text.AsSpan(cut)));
        }, Seeds("/a*b$/a/x/b", "/*.gif$/images/a.gif", "/a*a*a*a*/aaaaaaaab", "*/anything", "/€%E2%82%AC/%e2%82%ac", "$$"),
            ["*", "$", "%", "/", "a", "%2A"], []));

        // --- Structured fields (RFC 9651), aipref Content-Usage, Content-Signal.
        var sfSeeds = Seeds("train-ai=?0, search=?1", "a=1;q=0.5, b=(\"x\" \"y\");p, c=:aGVsbG8=:, d=@1659578233, e=%\"caf%c3%a9\"",
            "(1 2 3);x=?1, 2.5, \"str\", tok*en/x", "foo;a=1;b=2, bar", "train-ai=n, train-genai=y", "?1;a", "1.123456789");
        var sfTokens = new[] { "=", ";", ",", "(", ")", "\"", ":", "?0", "?1", "@", "%", "*", "1.5", "-0", "train-ai", "search", "bot" };
        targets.Add(new ParserTarget("structured-field", input =>
        {
            var text = S(input);
            _ = StructuredFieldParser.TryParseDictionary(text, out _, out _);
            _ = StructuredFieldParser.TryParseList(text, out _, out _);
            _ = StructuredFieldParser.TryParseItem(text, out _, out _);
            // RFC 9651 §4.1: what the parser accepted serialises, and the serialisation parses back to the same text.
            if (StructuredFieldParser.TryParseDictionary([text, text], out var dictionary, out _)
                && StructuredFieldSerializer.TrySerializeDictionary(dictionary.Entries, out var serialized, out _))
            {
                if (!StructuredFieldParser.TryParseDictionary(serialized, out var again, out var error)
                    || !StructuredFieldSerializer.TrySerializeDictionary(again.Entries, out var reserialized, out _)
                    || reserialized != serialized)
                {
                    throw new InvalidOperationException($"structured field does not round-trip: '{serialized}' ({error})");
                }
            }
        }, sfSeeds, sfTokens, [], 8192));

        targets.Add(new ParserTarget("aipref.content-usage", input => _ = ContentUsage.Parse(S(input), out _).ToString(),
            Seeds("train-ai=n", "train-ai=y, train-genai=n, search=y", "bots=n", "all=n;exceptions=x", "train-ai=?0"), sfTokens, [], 8192));
        targets.Add(new ParserTarget("content-signal", input => _ = ContentSignal.Parse(S(input)).ToString(),
            Seeds("search=yes, ai-train=no", "ai-input=no,search=yes,ai-train=yes", "ai-train = no ; x"), ["=", ",", "yes", "no", "ai-train", "ai-input", "search"], [], 8192));

        // --- TDMRep: tdmrep.json, headers, HTML meta, EPUB OPF, XMP.
        targets.Add(new ParserTarget("tdmrep.json", input =>
        {
            var file = TdmrepFile.Parse(input);
            _ = file.Match("/books/a.pdf?x=1");
            _ = file.Statement("/", "tdmrep.json");
        }, Seeds("[{\"location\":\"/books/*\",\"tdm-reservation\":1,\"tdm-policy\":\"https://example.com/policy.json\"},{\"location\":\"/\",\"tdm-reservation\":0}]",
            "[{\"location\":\"*.pdf$\",\"tdm-reservation\":\"1\"}]", "[]", "{}", "[{\"location\":[[[[[[]]]]]]}]"),
            ["[", "]", "{", "}", "\"location\":", "\"tdm-reservation\":", "\"tdm-policy\":", "1", "0", "null", ",", "\\u0000", "\\ud800", "\\udc00", "*", "$"], [], 64 * 1024));

        targets.Add(new ParserTarget("tdmrep.headers-meta", input =>
        {
            var text = S(input);
            var cut = text.IndexOf('\n') is var i and >= 0 ? i : text.Length;
            var reservation = text[..cut];
            var policy = cut < text.Length ? text[(cut + 1)..] : string.Empty;
            _ = TdmrepMetadata.FromHeaders([new("tdm-reservation", reservation), new("tdm-policy", policy)]);
            _ = TdmrepMetadata.FromHtmlMeta([new("tdm-reservation", reservation), new("tdm-policy", policy)]);
            _ = TdmrepRules.ParseReservation(reservation, out _);
            _ = TdmrepRules.ParsePolicy(policy, out _);
        }, Seeds("1\nhttps://example.com/policy.json", "0\n", " 1 \nhttp://x", "2\nnot a url", "\n"), ["1", "0", "\n", "https://", " "], [], 4096));

        targets.Add(new ParserTarget("tdmrep.epub-xmp", input =>
        {
            var text = S(input);
            _ = TdmrepMetadata.FromEpubPackage(text);
            _ = TdmrepMetadata.FromXmp(text);
        }, Seeds("<package prefix=\"tdm: http://www.w3.org/ns/tdmrep#\"><metadata><meta property=\"tdm:reservation\">1</meta><meta property=\"tdm:policy\">https://e.com/p</meta></metadata></package>",
            "<package><metadata><meta name=\"tdm:reservation\" content=\"1\"/></metadata></package>",
            "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF><rdf:Description xmlns:tdm=\"http://www.w3.org/ns/tdmrep/\" tdm:reservation=\"1\"><tdm:policy>https://e.com/p</tdm:policy></rdf:Description></rdf:RDF></x:xmpmeta>"),
            ["<", ">", "/>", "</", "=\"", "\"", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#x0;", "xmlns:", "tdm:", "meta", "property", "<?xml ?>"], [], 64 * 1024));

        targets.Add(new ParserTarget("tdmrep.epub-zip", input =>
        {
            using var stream = new MemoryStream(input, writable: false);
            _ = TdmrepMetadata.FromEpub(stream);
        }, [EpubSeed()], ["PK\u0003\u0004", "PK\u0001\u0002", "PK\u0005\u0006", "META-INF/container.xml", "mimetype"], [], 64 * 1024));

        // --- X-Robots-Tag, HTML meta, RSL Link header, C2PA/CAWG training-mining JSON, agent list, header lines.
        targets.Add(new ParserTarget("x-robots-tag", input =>
        {
            var text = S(input);
            var directives = RobotsTagDirectives.ParseHeaders([text, text.ToUpperInvariant()]);
            _ = RobotsTagDirectives.ToPreferences(RobotsTagDirectives.ApplyingTo(directives, "GPTBot"), true, new RobotsTagOptions { NoIndexMeansNoAi = true });
        }, Seeds("noai, noimageai", "GPTBot: noindex, nofollow", "unavailable_after: 25 Jun 2010 15:00:00 PST", "googlebot: none, otherbot: noai", "max-snippet:-1"),
            ["noai", "noimageai", "noindex", "none", ":", ",", "googlebot", "GPTBot", "unavailable_after:"], [], 8192));

        var htmlSeeds = Seeds("<!doctype html><html><head><meta name=\"robots\" content=\"noai, noimageai\"><meta name=\"tdm-reservation\" content=\"1\"><link rel=\"license\" href=\"https://e.com/l\"></head><body></body></html>",
            "<meta name=GPTBot content=noindex><META NAME='tdm-policy' CONTENT='x'><link rel=\"license\" type=\"application/rsl+xml\" href=/rsl.xml>",
            "<html><body><div><div><div><p>unclosed<table><tr><td><meta name=robots content=noai></td></tr></table>");
        var htmlTokens = new[] { "<", ">", "</", "<meta ", "name=", "content=", "<link ", "rel=license", "href=", "<div>", "<table>", "<svg>", "<math>", "<!--", "<script>", "<template>", "&", "\"" };
        targets.Add(new ParserTarget("html.meta", input =>
        {
            var html = HtmlSignals.Parse(S(input));
            _ = RobotsTagDirectives.ParseMeta(html.Meta, "GPTBot");
            _ = TdmrepMetadata.FromHtmlMeta(html.Meta);
        }, htmlSeeds, htmlTokens, [], 64 * 1024));

        targets.Add(new ParserTarget("rsl.link-header", input =>
        {
            var text = S(input);
            _ = LinkHeader.FindLicenses([text]);
        }, Seeds("<https://example.com/license.xml>; rel=\"license\"; type=\"application/rsl+xml\"", "</l.xml>;rel=license, <x>; rel=\"next license\"", "<a>;rel=\"license\";type=x;", "<unterminated"),
            ["<", ">", ";", ",", "rel=", "\"license\"", "type=", "\"", "\\"], [], 8192));

        targets.Add(new ParserTarget("c2pa.training-mining", input => _ = TrainingMining.Parse(S(input), out _),
            Seeds("{\"label\":\"c2pa.training-mining\",\"data\":{\"entries\":{\"c2pa.ai_training\":{\"use\":\"notAllowed\"},\"c2pa.data_mining\":{\"use\":\"constrained\",\"constraint_info\":\"x\"}}}}",
                "{\"assertions\":[{\"label\":\"cawg.training-mining\",\"data\":{\"entries\":{\"cawg.ai_generative_training\":{\"use\":\"allowed\"}}}}]}", "[]", "null"),
            ["{", "}", "[", "]", "\"label\":", "\"data\":", "\"entries\":", "\"use\":", "\"notAllowed\"", "\"allowed\"", "\"constrained\"", "c2pa.", "cawg.", ",", ":", "\\ud800", "\\udc00"], [], 64 * 1024));

        targets.Add(new ParserTarget("ai-agent-list", input =>
        {
            using var stream = new MemoryStream(input, writable: false);
            var catalog = AiAgentCatalog.Load(stream);
            _ = catalog.TryGet("GPTBot", out _);
            foreach (var agent in catalog.ControlTokensFor("Googlebot", UsageCategory.TrainAi))
            {
                _ = agent.Token;
            }
        }, Seeds("{\"version\":\"1\",\"agents\":[{\"token\":\"GPTBot\",\"operator\":\"OpenAI\",\"purpose\":\"training\",\"respects_robots\":\"yes\"},{\"token\":\"Google-Extended\",\"operator\":\"Google\",\"purpose\":\"training\",\"control_token\":true,\"governs\":[\"Googlebot\"]}]}", "{}"),
            ["{", "}", "[", "]", "\"token\":", "\"purpose\":", "\"agents\":", "true", "null", ","], [typeof(FormatException)], 64 * 1024));

        targets.Add(new ParserTarget("header-line", input => _ = OfflineSignals.TryParseHeaderLine(S(input), out _, out _),
            Seeds("X-Robots-Tag: noai", "Content-Usage: train-ai=n", "tdm-reservation:1", ": empty name", "no colon"), [":", " ", "\t", "\r\n"], [], 4096));

        // --- Dataset filter readers: JSON Lines, CSV, TSV, URL lists, WARC (plain and gzip).
        var filterSeeds = FilterSeeds();
        foreach (var (format, seeds) in filterSeeds)
        {
            foreach (var strict in (ReadOnlySpan<bool>)[false, true])
            {
                targets.Add(new ParserTarget($"filter.{format.ToName()}{(strict ? ".strict" : string.Empty)}", input => RunFilter(input, format, strict),
                    seeds, FilterTokens(format), [typeof(FilterException)], 64 * 1024));
            }
        }

        targets.Add(new ParserTarget("filter.field-path", input =>
        {
            _ = FieldPath.Extract(input, s_urlPath, s_textPath, out _, out _);
        }, Seeds("{\"url\":\"https://e.com/\",\"meta\":{\"text\":\"hello\"}}", "{\"meta\":{\"text\":1},\"url\":null}", "[1,2]", "{\"url\":\"\\ud800\"}", "{\"a\":" + new string('[', 200) + new string(']', 200) + "}"),
            ["{", "}", "[", "]", "\"url\":", "\"meta\":", "\"text\":", "\"\\u0000\"", ",", "1e999", "\"\\ud800\""], [], 64 * 1024));

        // --- Receipts (offline verification) and import lines.
        var keyPem = ReceiptKey.Value.ExportSubjectPublicKeyInfoPem();
        targets.Add(new ParserTarget("receipt.json", input => _ = ReceiptVerifier.VerifyJson(S(input), keyPem),
            [U(ReceiptSeedJson())], ["{", "}", "\"event\":", "\"leafData\":", "\"treeHead\":", "\"inclusionProof\":", "\"hashes\":", "\"treeSize\":", "\"leafIndex\":", "\"-1\"", "\"9223372036854775807\"", "\"AAAA\"", "\"1970-01-01T00:00:00Z\"", "\"10000-01-01T00:00:00Z\""], [], 64 * 1024));

        targets.Add(new ParserTarget("receipt.leaf", input => _ = ReceiptVerifier.TryDecodeLeaf(input, out _, out _),
            [LeafSeed()], [], [], 4096));

        targets.Add(new ParserTarget("import.line", input => _ = RegistryImportFormat.ParseLine(S(input), "fuzz"),
            Seeds("{\"url\":\"https://example.com/a.jpg\",\"disallow\":[\"train-ai\"]}",
                "{\"pattern\":{\"host\":\"example.com\",\"path\":\"/photos/*.jpg$\"},\"disallow\":[\"all\"],\"allow\":[\"search\"],\"valid_from\":\"2026-12-01T00:00:00Z\",\"policy_url\":\"https://e.com/p\"}",
                "{\"selectors\":[{\"iscc\":\"ISCC:EAASKDNZNYGUUF5A\"},{\"identifier\":\"isbn:9780306406157\"}],\"disallow\":[\"train-genai\"],\"work\":{\"title\":\"T\"}}",
                "{\"host\":\"example.com\",\"include_subdomains\":true,\"disallow\":[\"ai-use\"],\"valid_until\":\"9999-12-31T23:59:59Z\"}"),
            ["{", "}", "[", "]", "\"url\":", "\"disallow\":", "\"allow\":", "\"selectors\":", "\"valid_from\":", "\"valid_until\":", "\"0001-01-01T00:00:00Z\"", "\"99999-01-01T00:00:00Z\"", "true", "null", ",", "\\ud800", "\\udc00"], [typeof(ImportFormatException)], 64 * 1024));

        // --- Snapshot files (offline checking loads them from disk or a mirror).
        targets.Add(new ParserTarget("snapshot", input =>
        {
            using var stream = new MemoryStream(input, writable: false);
            using var reader = SnapshotReader.Open(stream);
            var mirror = new RegistryMirror();
            if (reader.Header.Kind == SnapshotKind.Full)
            {
                mirror.LoadSnapshot(reader);
                _ = reader.VerifySignature();
                _ = mirror.Matcher.Check(CheckQuery.Url("https://example.com/photos/a.jpg", UsageCategory.TrainAi));
            }
            else
            {
                while (reader.TryReadRecord(out _, out var payload))
                {
                    _ = Pb.Event.Parser.ParseFrom(payload.Span);
                }

                _ = reader.VerifySignature();
            }
        }, [SnapshotSeed(), DeltaSeed()], ["OPTOUTSN", "SNAPEND\n", "\u0000\u0000\u0000\u0000", "\u00ff\u00ff\u00ff\u00ff"],
            [typeof(SnapshotFormatException), typeof(InvalidProtocolBufferException)], 64 * 1024));

        return targets;
    }

    private static readonly FieldPath s_urlPath = new("url");
    private static readonly FieldPath s_textPath = new("meta.text");

    private static readonly Lazy<ECDsa> ReceiptKey = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));

    // The filter checks against a real signed snapshot (SnapshotFilterChecker), in which the host "blocked.example" is
    // reserved, so that both the kept and the removed outputs are exercised.
    private static readonly Lazy<SnapshotFilterChecker> s_checker = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), "optout-fuzz-" + Environment.ProcessId + ".snapshot");
        File.WriteAllBytes(path, SnapshotSeed());
        try
        {
            return SnapshotFilterChecker.Load(path, ReceiptKey.Value.ExportSubjectPublicKeyInfoPem());
        }
        finally
        {
            File.Delete(path);
        }
    });

    internal static MatcherIndex MirrorWithPattern(string pathPattern)
    {
        var reservation = SampleReservation("rsv_p", "https://example.org/unused");
        reservation.Selectors.Clear();
        reservation.Selectors.Add(new Pb.Selector { Pattern = new Pb.PathPattern { Host = "example.com", Path = pathPattern } });
        using var memory = new MemoryStream();
        using (var writer = new SnapshotWriter(memory, new SnapshotHeader(SnapshotKind.Full, 1, -1, new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero))))
        {
            writer.WriteReservation(reservation);
            writer.Finish(ReceiptKey.Value);
        }

        memory.Position = 0;
        using var reader = SnapshotReader.Open(memory);
        var mirror = new RegistryMirror();
        mirror.LoadSnapshot(reader);
        return mirror.Matcher;
    }

    internal static FilterReport RunFilter(byte[] input, RecordFormat format, bool strict)
    {
        using var source = new MemoryStream(input, writable: false);
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        var report = DatasetFilter.Run(source, kept, removed, s_checker.Value, new FilterOptions
        {
            Format = format,
            TextField = format is RecordFormat.Csv or RecordFormat.Tsv ? new FieldPath("text") : s_textPath,
            Strict = strict,
            MaxRecordBytes = 4096,
        });

        // Every byte read is in kept, removed or the rejects: the filter never drops or invents bytes of accepted records.
        if (kept.Length + removed.Length > input.Length * 2L + 64)
        {
            throw new InvalidOperationException($"filter wrote {kept.Length + removed.Length} bytes for {input.Length} bytes of input");
        }

        _ = report.ToJson();
        return report;
    }

    private static IReadOnlyList<string> FilterTokens(RecordFormat format) => format switch
    {
        RecordFormat.Warc => ["WARC/1.0\r\n", "WARC/1.1\r\n", "WARC-Type: response\r\n", "WARC-Target-URI: ", "Content-Length: ", "Content-Type: text/html\r\n", "\r\n\r\n", "\r\n", "-1", "99999999999", "https://blocked.example/"],
        RecordFormat.Csv => ["\"", "\"\"", ",", "\r\n", "\n", "url", "text", "https://blocked.example/x"],
        RecordFormat.Tsv => ["\t", "\n", "url", "text", "https://blocked.example/x"],
        _ => ["{", "}", "\"url\":", "\"meta\":", "\"text\":", "\n", "https://blocked.example/x", "\"\\u0000\"", "\\"],
    };

    private static IReadOnlyList<(RecordFormat Format, byte[][] Seeds)> FilterSeeds()
    {
        const string warc = "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://blocked.example/a\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: 58\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n\r\n\r\n"
            + "WARC/1.1\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n";
        using var gz = new MemoryStream();
        using (var g = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            g.Write(U(warc));
        }

        return
        [
            (RecordFormat.JsonLines, Seeds("{\"url\":\"https://example.com/a\",\"meta\":{\"text\":\"hi\"}}\n{\"url\":\"https://blocked.example/b\"}\n{bad json\n\n{\"url\":5}\n",
                "{\"url\":\"https://blocked.example/\\ud800\",\"meta\":{\"text\":\"\\udc00\"}}\n{\"url\":\"\\ud800\"}\n")),
            (RecordFormat.Csv, Seeds("url,text\nhttps://example.com/a,hi\n\"https://blocked.example/b\",\"multi\nline, \"\"quoted\"\"\"\nbad\"quote,x\n", "text,url\r\n,\r\n")),
            (RecordFormat.Tsv, Seeds("url\ttext\nhttps://example.com/a\thi\nhttps://blocked.example/b\tx\n\n")),
            (RecordFormat.Urls, Seeds("https://example.com/a\nhttps://blocked.example/b\n# comment\nnot a url\n\n")),
            (RecordFormat.Warc, [U(warc), gz.ToArray()]),
        ];
    }

    private static byte[] EpubSeed()
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, string text)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name, CompressionLevel.NoCompression).Open());
                writer.Write(text);
            }

            Add("mimetype", "application/epub+zip");
            Add("META-INF/container.xml", "<container><rootfiles><rootfile full-path=\"OEBPS/content.opf\"/></rootfiles></container>");
            Add("OEBPS/content.opf", "<package prefix=\"tdm: http://www.w3.org/ns/tdmrep#\"><metadata><meta property=\"tdm:reservation\">1</meta></metadata></package>");
        }

        return memory.ToArray();
    }

    /// <summary>A valid PNG (RFC 2083) of the given size and colour type, filter 0, deflate via ZLibStream.</summary>
    private static byte[] Png(int width, int height, byte colorType)
    {
        var channels = colorType switch { 0 => 1, 2 => 3, 4 => 2, _ => 4 };
        var raw = new byte[height * (1 + width * channels)];
        for (var i = 0; i < raw.Length; i++)
        {
            raw[i] = i % (1 + width * channels) == 0 ? (byte)0 : (byte)(i * 37);
        }

        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(raw);
        }

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = colorType;
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", idat.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        var header = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        output.Write(header);
        output.Write(data);
        var crc = Crc32(header.AsSpan(4), data);
        var trailer = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(trailer, crc);
        output.Write(trailer);
    }

    // CRC-32 of PNG chunks (ISO 3309 polynomial, RFC 2083 §15); bitwise, this runs for a handful of seed chunks only.
    private static uint Crc32(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var part in (ReadOnlySpan<byte[]>)[type.ToArray(), data.ToArray()])
        {
            foreach (var b in part)
            {
                crc ^= b;
                for (var k = 0; k < 8; k++)
                {
                    crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
                }
            }
        }

        return crc ^ 0xFFFFFFFFu;
    }

    private static Pb.Reservation SampleReservation(string id, string selectorUrl) => new()
    {
        Id = id,
        HolderId = "hld_1",
        HolderName = "Holder",
        RegisteredAt = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        ValidFrom = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        State = Pb.ReservationState.Active,
        Selectors = { new Pb.Selector { Url = selectorUrl }, new Pb.Selector { Pattern = new Pb.PathPattern { Host = "example.com", Path = "/photos/*.jpg$" } } },
        Statements = { new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
        PolicyUrl = "https://example.com/policy",
    };

    private static byte[] SnapshotSeed()
    {
        using var memory = new MemoryStream();
        using (var writer = new SnapshotWriter(memory, new SnapshotHeader(SnapshotKind.Full, 3, -1, new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero))))
        {
            writer.WriteReservation(SampleReservation("rsv_1", "https://example.com/a.jpg"));
            writer.WriteReservation(SampleReservation("rsv_2", "https://example.org/b"));
            var blocked = SampleReservation("rsv_3", "https://example.net/");
            blocked.Selectors.Add(new Pb.Selector { Host = "blocked.example" });
            writer.WriteReservation(blocked);
            writer.Finish(ReceiptKey.Value);
        }

        return memory.ToArray();
    }

    private static byte[] DeltaSeed()
    {
        using var memory = new MemoryStream();
        using (var writer = new SnapshotWriter(memory, new SnapshotHeader(SnapshotKind.Delta, 3, 1, new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero))))
        {
            writer.WriteEvent(new Pb.Event { Sequence = 2, ReservationCreated = SampleReservation("rsv_3", "https://example.net/") });
            writer.Finish(ReceiptKey.Value);
        }

        return memory.ToArray();
    }

    private static string ReceiptSeedJson()
    {
        var @event = new Pb.Event { Sequence = 0, ReservationCreated = SampleReservation("rsv_1", "https://example.com/a.jpg") };
        var receipt = new Pb.Receipt
        {
            Event = @event,
            LeafData = ByteString.CopyFrom(LeafSeed()),
            TreeHead = new Pb.SignedTreeHead { TreeSize = 1, RootHash = ByteString.CopyFrom(new byte[32]), Timestamp = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)), Signature = ByteString.CopyFrom(new byte[70]), KeyFingerprint = "00" },
            InclusionProof = new Pb.InclusionProof { LeafIndex = 0, TreeSize = 1 },
            ReservationId = "rsv_1",
        };
        return ReceiptVerifier.ToJson(receipt);
    }

    private static byte[] LeafSeed()
    {
        // u8 version=1, u64 sequence, i64 time µs, u16+actor, u16+type, u32+payload (big-endian).
        var actor = "hld_1"u8;
        var type = "reservation_created"u8;
        var payload = new byte[] { 8, 1 };
        var bytes = new byte[1 + 8 + 8 + 2 + actor.Length + 2 + type.Length + 4 + payload.Length];
        var span = bytes.AsSpan();
        span[0] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(span[1..], 7);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(span[9..], 1_767_225_600_000_000);
        var at = 17;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)actor.Length);
        actor.CopyTo(span[(at + 2)..]);
        at += 2 + actor.Length;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)type.Length);
        type.CopyTo(span[(at + 2)..]);
        at += 2 + type.Length;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(span[at..], (uint)payload.Length);
        payload.CopyTo(span[(at + 4)..]);
        return bytes;
    }
}

/// <summary>Helpers that build the registry-side inputs of <see cref="Superlinear"/> cases.</summary>
public static class Pathological
{
    /// <summary>A matcher loaded from a signed snapshot with one reservation: a pattern selector on example.com.</summary>
    public static MatcherIndex MirrorWithPattern(string pathPattern) => ParserTargets.MirrorWithPattern(pathPattern);

    /// <summary>Runs the dataset filter over <paramref name="input"/> (non-strict) against the fuzz snapshot.</summary>
    public static void Filter(byte[] input, RecordFormat format) => ParserTargets.RunFilter(input, format, strict: false);

    /// <summary>Like <see cref="Filter"/>, returning the report.</summary>
    public static FilterReport FilterReport(byte[] input, RecordFormat format) => ParserTargets.RunFilter(input, format, strict: false);
}

