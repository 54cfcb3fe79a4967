using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using OptOutRegistry.Fingerprints.Imaging;

namespace OptOutRegistry.Filtering.Tests;

/// <summary><c>optout report --html</c>: one self-contained page whose chart says what the report says, and renders in a real browser.</summary>
public sealed partial class HtmlReportTests(SnapshotFixture fixture) : IClassFixture<SnapshotFixture>
{
    private FilterReport Report()
    {
        var lines = new StringBuilder();
        for (var i = 0; i < 30; i++)
        {
            lines.Append(CultureInfo.InvariantCulture, $"https://blocked.example/{i}\n");
            if (i % 3 == 0) { lines.Append(CultureInfo.InvariantCulture, $"https://news.example/articles/{i}\n"); }
            lines.Append(CultureInfo.InvariantCulture, $"https://fine.example/{i}\n");
        }

        lines.Append("\n");
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        return DatasetFilter.Run(new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())), kept, removed, fixture.Checker,
            new FilterOptions { InputName = "urls.txt", HolderName = fixture.Checker.HolderName });
    }

    [Fact]
    public void The_page_is_self_contained_and_its_chart_data_equals_the_report()
    {
        var report = Report();
        var html = HtmlReport.Render(FilterReport.FromJson(report.ToJson()));

        // Nothing fetched from anywhere: no scripts, links, sources or URLs of any kind.
        foreach (var forbidden in new[] { "<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "http:", "https:", "@import" })
        {
            Assert.DoesNotContain(forbidden, html, StringComparison.OrdinalIgnoreCase);
        }

        var bars = BarRegex().Matches(html).Select(m => (Holder: m.Groups[1].Value, Kind: m.Groups[2].Value, Count: long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture))).ToList();
        var expected = report.ByHolder.SelectMany(h => h.BySelectorKind.Select(k => (Holder: h.HolderId, Kind: k.Key, Count: k.Value))).ToList();
        Assert.Equal(expected.OrderBy(b => b.Holder).ThenBy(b => b.Kind), bars.OrderBy(b => b.Holder).ThenBy(b => b.Kind));
        Assert.Equal([("h-blocked", "domain", 30L), ("h-news", "prefix", 10L)], bars.OrderBy(b => b.Holder));
        Assert.Contains("Blocked Inc", html, StringComparison.Ordinal);
        Assert.Contains($"<td class=n>{report.InputRecords}</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Headless_chromium_renders_the_chart()
    {
        var browser = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
        if (browser is null)
        {
            // CI installs Debian's chromium; a machine without it says so instead of passing silently.
            Assert.True(Environment.GetEnvironmentVariable("OPTOUT_NO_BROWSER") == "1", "chromium is not installed (apt-get install -y chromium), or set OPTOUT_NO_BROWSER=1 to accept not testing the rendering");
            return;
        }

        var directory = Path.Combine(fixture.Directory, "html-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var page = Path.Combine(directory, "report.html");
        var png = Path.Combine(directory, "report.png");
        File.WriteAllText(page, HtmlReport.Render(Report()));
        var start = new ProcessStartInfo(browser) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", $"--user-data-dir={Path.Combine(directory, "profile")}",
            "--window-size=1000,900", $"--screenshot={png}", new Uri(page).AbsoluteUri })
        {
            start.ArgumentList.Add(arg);
        }

        using (var process = Process.Start(start)!)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(File.Exists(png), $"no screenshot; chromium exit {process.ExitCode}: {await stderr}");
        }

        var image = PngDecoder.Decode(File.OpenRead(png));
        Assert.Equal(1000, image.Width);
        // The bars are drawn in the kinds' colours: domain (#9467bd) and prefix (#ff7f0e) pixels must be on screen.
        Assert.True(CountColour(image, 0x94, 0x67, 0xbd) > 500, "no domain-coloured bar pixels in the screenshot");
        Assert.True(CountColour(image, 0xff, 0x7f, 0x0e) > 100, "no prefix-coloured bar pixels in the screenshot");
        Assert.True(CountColour(image, 0xff, 0xff, 0xff) < image.Width * image.Height, "the screenshot is blank");
    }

    private static int CountColour(PngImage image, byte r, byte g, byte b)
    {
        var count = 0;
        for (var i = 0; i + 3 < image.Rgba.Length; i += 4)
        {
            if (Math.Abs(image.Rgba[i] - r) <= 8 && Math.Abs(image.Rgba[i + 1] - g) <= 8 && Math.Abs(image.Rgba[i + 2] - b) <= 8)
            {
                count++;
            }
        }

        return count;
    }

    [GeneratedRegex("data-holder=\"([^\"]*)\" data-kind=\"([^\"]*)\" data-count=\"([0-9]+)\"")]
    private static partial Regex BarRegex();
}
