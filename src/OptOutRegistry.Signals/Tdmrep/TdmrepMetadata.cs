using System.IO.Compression;

namespace OptOutRegistry.Signals.Tdmrep;

/// <summary>TDMRep in HTTP headers (§4.2), EPUB package metadata (§4.4) and PDF XMP (§4.5).</summary>
public static class TdmrepMetadata
{
    /// <summary>The EPUB 3 / HTML vocabulary URI (note the <c>#</c>).</summary>
    public const string EpubNamespace = "http://www.w3.org/ns/tdmrep#";

    /// <summary>The PDF XMP namespace URI (note the <c>/</c>, which differs from EPUB 3's).</summary>
    public const string XmpNamespace = "http://www.w3.org/ns/tdmrep/";

    private const int MaxXmlChars = 4 * 1024 * 1024;

    /// <summary>
    /// Reads <c>tdm-reservation</c>/<c>tdm-policy</c> from response headers (names case-insensitive). A header sent
    /// several times with different values is a protocol error ⇒ unset. The stale name <c>TDM-a</c> is not accepted.
    /// </summary>
    public static TdmrepStatement FromHeaders(IEnumerable<KeyValuePair<string, string>> headers)
    {
        string? reservation = null, policy = null, error = null;
        foreach (var (name, value) in headers)
        {
            if (name.Equals("tdm-reservation", StringComparison.OrdinalIgnoreCase))
            {
                if (reservation is not null && reservation.Trim() != value.Trim())
                {
                    error = "tdm-reservation sent several times with different values (protocol error: unset)";
                    reservation = "conflict";
                }
                else
                {
                    reservation = value;
                }
            }
            else if (name.Equals("tdm-policy", StringComparison.OrdinalIgnoreCase))
            {
                policy = value;
            }
        }

        var res = error is null ? TdmrepRules.ParseReservation(reservation, out error) : TdmReservation.Unset;
        var pol = TdmrepRules.ParsePolicy(policy, out var policyError);
        return new TdmrepStatement(TdmrepTechnique.HttpHeader, res, pol, "response header tdm-reservation", error ?? policyError);
    }

    /// <summary>Reads TDMRep from HTML <c>&lt;meta&gt;</c> name/content pairs (see <see cref="Html.HtmlSignals"/>).</summary>
    public static TdmrepStatement FromHtmlMeta(IEnumerable<KeyValuePair<string, string>> meta)
    {
        string? reservation = null, policy = null;
        foreach (var (name, content) in meta)
        {
            if (name.Equals("tdm-reservation", StringComparison.OrdinalIgnoreCase))
            {
                reservation = content;
            }
            else if (name.Equals("tdm-policy", StringComparison.OrdinalIgnoreCase))
            {
                policy = content;
            }
        }

        var res = TdmrepRules.ParseReservation(reservation, out var error);
        var pol = TdmrepRules.ParsePolicy(policy, out var policyError);
        return new TdmrepStatement(TdmrepTechnique.HtmlMeta, res, pol, "HTML <meta name=\"tdm-reservation\">", error ?? policyError);
    }

    /// <summary>
    /// Reads an EPUB package document (OPF). EPUB 2: <c>&lt;meta name="tdm:reservation" content="1"/&gt;</c>;
    /// EPUB 3: <c>&lt;meta property="tdm:reservation"&gt;1&lt;/meta&gt;</c> with the <c>tdm</c> prefix declared on
    /// <c>&lt;package prefix="tdm: http://www.w3.org/ns/tdmrep#"&gt;</c>. A prefix bound to another URI is not TDMRep.
    /// The document is scanned tolerantly (the spec's own examples are not well-formed XML).
    /// </summary>
    public static TdmrepStatement FromEpubPackage(string opfXml)
    {
        if (opfXml.Length > MaxXmlChars)
        {
            opfXml = opfXml[..MaxXmlChars];
        }

        string? reservation = null, policy = null;
        string? tdmPrefixUri = null;
        foreach (var tag in MarkupScanner.Scan(opfXml))
        {
            if (tag.LocalName == "package" && tag.Attr("prefix") is { } prefixes)
            {
                tdmPrefixUri = FindPrefix(prefixes, "tdm");
            }
            else if (tag.LocalName == "meta")
            {
                var name = tag.Attr("name");
                var property = tag.Attr("property");
                if (name == "tdm:reservation")
                {
                    reservation = tag.Attr("content");
                }
                else if (name == "tdm:policy")
                {
                    policy = tag.Attr("content");
                }
                else if (property is "tdm:reservation" or "tdm:policy" && tdmPrefixUri is null or EpubNamespace)
                {
                    if (property == "tdm:reservation")
                    {
                        reservation = tag.Text;
                    }
                    else
                    {
                        policy = tag.Text;
                    }
                }
            }
        }

        var res = TdmrepRules.ParseReservation(reservation, out var error);
        var pol = TdmrepRules.ParsePolicy(policy, out var policyError);
        return new TdmrepStatement(TdmrepTechnique.Epub, res, pol, "EPUB package metadata tdm:reservation", error ?? policyError);
    }

    /// <summary>Reads an EPUB file: <c>META-INF/container.xml</c> names the package document, which is then read.</summary>
    public static TdmrepStatement FromEpub(Stream epub)
    {
        try
        {
            using var zip = new ZipArchive(epub, ZipArchiveMode.Read, leaveOpen: true);
            var container = zip.GetEntry("META-INF/container.xml");
            if (container is null)
            {
                return new TdmrepStatement(TdmrepTechnique.Epub, TdmReservation.Unset, null, "EPUB", "EPUB: META-INF/container.xml is missing");
            }

            string? opfPath = null;
            foreach (var tag in MarkupScanner.Scan(ReadEntry(container)))
            {
                if (tag.LocalName == "rootfile")
                {
                    opfPath = tag.Attr("full-path");
                    break;
                }
            }

            var opf = opfPath is null ? null : zip.GetEntry(opfPath);
            if (opf is null)
            {
                return new TdmrepStatement(TdmrepTechnique.Epub, TdmReservation.Unset, null, "EPUB", "EPUB: package document not found");
            }

            return FromEpubPackage(ReadEntry(opf)) with { Source = $"EPUB {opfPath} tdm:reservation" };
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or NotSupportedException)
        {
            return new TdmrepStatement(TdmrepTechnique.Epub, TdmReservation.Unset, null, "EPUB", $"EPUB: {ex.Message}");
        }
    }

    /// <summary>
    /// Reads a PDF's XMP packet: <c>reservation</c>/<c>policy</c> in the <c>http://www.w3.org/ns/tdmrep/</c> namespace
    /// (whatever its prefix), as elements or attributes. An element bound to the EPUB URI (with <c>#</c>) is not read.
    /// </summary>
    public static TdmrepStatement FromXmp(string xmpXml)
    {
        if (xmpXml.Length > MaxXmlChars)
        {
            xmpXml = xmpXml[..MaxXmlChars];
        }

        var prefixes = new HashSet<string>(StringComparer.Ordinal);
        var tags = MarkupScanner.Scan(xmpXml).ToList();
        foreach (var tag in tags)
        {
            foreach (var (name, value) in tag.Attributes)
            {
                if (name.StartsWith("xmlns:", StringComparison.Ordinal) && value == XmpNamespace)
                {
                    prefixes.Add(name[6..]);
                }
            }
        }

        string? reservation = null, policy = null;
        foreach (var tag in tags)
        {
            foreach (var p in prefixes)
            {
                reservation = tag.Attr(p + ":reservation") ?? reservation;
                policy = tag.Attr(p + ":policy") ?? policy;
            }

            if (tag.Prefix is { } prefix && prefixes.Contains(prefix))
            {
                if (tag.LocalName == "reservation")
                {
                    reservation = tag.Text;
                }
                else if (tag.LocalName == "policy")
                {
                    policy = tag.Text;
                }
            }
        }

        var res = TdmrepRules.ParseReservation(reservation, out var error);
        var pol = TdmrepRules.ParsePolicy(policy, out var policyError);
        return new TdmrepStatement(TdmrepTechnique.PdfXmp, res, pol, "PDF XMP tdm:reservation", error ?? policyError);
    }

    private static string ReadEntry(ZipArchiveEntry entry)
    {
        using var s = entry.Open();
        using var r = new StreamReader(s);
        var buffer = new char[MaxXmlChars];
        var n = r.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, n);
    }

    private static string? FindPrefix(string prefixes, string prefix)
    {
        // EPUB 3 prefix attribute: "p1: uri1 p2: uri2".
        var parts = prefixes.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i + 1 < parts.Length; i++)
        {
            if (parts[i] == prefix + ":")
            {
                return parts[i + 1];
            }
        }

        return null;
    }
}
