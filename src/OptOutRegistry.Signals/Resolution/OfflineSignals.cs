using System.Text;
using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>Files and headers given by hand (offline mode: site owners testing their own files, and tests).</summary>
public sealed record OfflineSignalsFiles
{
    /// <summary>A robots.txt file.</summary>
    public string? RobotsPath { get; init; }

    /// <summary>A tdmrep.json file.</summary>
    public string? TdmrepPath { get; init; }

    /// <summary>An HTML page.</summary>
    public string? HtmlPath { get; init; }

    /// <summary>An EPUB file (<c>.epub</c>) or its package document (<c>.opf</c>).</summary>
    public string? EpubPath { get; init; }

    /// <summary>A PDF XMP packet (XML).</summary>
    public string? XmpPath { get; init; }

    /// <summary>C2PA manifest JSON (e.g. c2patool output).</summary>
    public string? C2paPath { get; init; }

    /// <summary>Response header lines, each <c>Name: value</c>.</summary>
    public IReadOnlyList<string> HeaderLines { get; init; } = [];
}

/// <summary>Builds a <see cref="SiteSignalsInput"/> from files and header lines.</summary>
public static class OfflineSignals
{
    /// <summary>Largest file read.</summary>
    public const long MaxFileBytes = 16 * 1024 * 1024;

    /// <summary>Parses <c>Name: value</c>. Returns false with a reason naming the problem.</summary>
    public static bool TryParseHeaderLine(string line, out KeyValuePair<string, string> header, out string? error)
    {
        header = default;
        var colon = line.IndexOf(':');
        if (colon <= 0)
        {
            error = $"--header '{line}': expected 'Name: value'";
            return false;
        }

        var name = line[..colon].Trim();
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                error = $"--header '{line}': '{name}' is not a valid header name";
                return false;
            }
        }

        header = new(name, line[(colon + 1)..].Trim());
        error = null;
        return true;
    }

    /// <summary>Reads the files. Throws <see cref="FormatException"/> or <see cref="IOException"/> naming the file and the reason.</summary>
    public static SiteSignalsInput Load(OfflineSignalsFiles files)
    {
        var headers = new List<KeyValuePair<string, string>>();
        string? contentType = null;
        foreach (var line in files.HeaderLines)
        {
            if (!TryParseHeaderLine(line, out var h, out var error))
            {
                throw new FormatException(error);
            }

            headers.Add(h);
            if (h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = h.Value.Split(';')[0].Trim();
            }
        }

        var input = new SiteSignalsInput { Headers = headers, ContentType = contentType };
        if (files.RobotsPath is { } robots)
        {
            input = input with { Robots = RobotsTxt.Parse(Read(robots, "--robots")), RobotsSource = robots };
        }

        if (files.TdmrepPath is { } tdmrep)
        {
            input = input with { TdmrepFile = TdmrepFile.Parse(Read(tdmrep, "--tdmrep")), TdmrepSource = tdmrep };
        }

        if (files.HtmlPath is { } html)
        {
            input = input with { Html = Encoding.UTF8.GetString(Read(html, "--html")), ContentType = contentType ?? "text/html" };
        }

        if (files.EpubPath is { } epub)
        {
            var bytes = Read(epub, "--epub");
            if (bytes.Length > 2 && bytes[0] == 'P' && bytes[1] == 'K')
            {
                using var ms = new MemoryStream(bytes, writable: false);
                input = input with { ExtraTdmrep = TdmrepMetadata.FromEpub(ms) with { Source = $"{epub} (EPUB)" } };
            }
            else
            {
                input = input with { EpubPackage = Encoding.UTF8.GetString(bytes) };
            }
        }

        if (files.XmpPath is { } xmp)
        {
            input = input with { PdfXmp = Encoding.UTF8.GetString(Read(xmp, "--xmp")) };
        }

        if (files.C2paPath is { } c2pa)
        {
            input = input with { C2paJson = Encoding.UTF8.GetString(Read(c2pa, "--c2pa")) };
        }

        return input;
    }

    private static byte[] Read(string path, string option)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new FileNotFoundException($"{option} {path}: file not found", path);
            }

            if (info.Length > MaxFileBytes)
            {
                throw new FormatException($"{option} {path}: larger than {MaxFileBytes} bytes");
            }

            return File.ReadAllBytes(path);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException($"{option} {path}: {ex.Message}", ex);
        }
    }
}
