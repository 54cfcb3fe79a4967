using System.Text.Json;
using OptOutRegistry.Client;
using OptOutRegistry.Integration.Tests.Registry;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Filtering;

/// <summary>
/// Issue 8 "Done when", as the README tells a dataset builder to do it, with the real <c>optout</c> command and a real
/// server: export a signed snapshot, filter a JSON Lines file with it, filter the same file live with <c>--server</c>,
/// and render the report. Outputs are compared byte for byte; nothing is dropped (kept + removed + rejected = input).
/// </summary>
public sealed class FilterCliTests : IAsyncLifetime
{
    private ServerFixture _server = null!;
    private string _dir = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerFixture.StartAsync();
        _dir = Path.Combine(_server.DataDirectory, "dataset");
        Directory.CreateDirectory(_dir);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SnapshotAndServerRuns_KeepAndRemoveTheSameRecords_ByteForByte_AndTheReportRenders()
    {
        using var anonymous = RegistryClient.Create(_server.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Dala Archive", ContactEmail = "dala@example.kz" });
        using var holder = anonymous.WithKey(created.ApiKey);
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(RegistryTestHelpers.Url("https://dala.example.kz/photos/steppe.jpg")));
        // A prefix needs a verified host; the operator records it here (the holder would use optout verify-host).
        using (var admin = anonymous.WithKey(_server.AdminKey))
        {
            await admin.RecordVerifiedHostAsync(created.Holder.Id, "dala.example.kz");
        }

        var prefix = new Pb.Selector { Prefix = "https://dala.example.kz/archive/" };
        await holder.CreateReservationAsync(RegistryTestHelpers.Spec(prefix, Pb.UsageCategory.TrainGenai));

        // Nested URL field, a record with spaces inside the JSON, a Cyrillic text, a bad line and an unparseable URL:
        // kept records must come out exactly as they went in.
        string[] lines =
        [
            """{"meta":{"url":"https://dala.example.kz/photos/steppe.jpg"},"text":"removed: url"}""",
            """{ "meta" : { "url" : "HTTPS://Dala.Example.KZ:443/archive/./1929/letter.pdf#p2" }, "text" : "removed: prefix, canonicalised" }""",
            """{"meta":{"url":"https://dala.example.kz/photos/other.jpg"},"text":"Қазақ даласы — kept"}""",
            """{"meta":{"url":"https://elsewhere.example/archive/1929/letter.pdf"},"text":"kept: other host"}""",
            """{"meta":{"url":"https://dala.example.kz/arch""",
            """{"meta":{"url":"not a url"},"text":"rejected: url"}""",
        ];
        var input = Path.Combine(_dir, "crawl.jsonl");
        await File.WriteAllTextAsync(input, string.Join("\n", lines) + "\n");

        var snapshot = Path.Combine(_dir, "registry.snap");
        var export = await Cli.RunAsync(null, null, "snapshot", "export", "--server", _server.GrpcAddress, "--out", snapshot);
        Assert.True(export.ExitCode == 0, export.StdOut + export.StdErr);

        var offline = await FilterAsync("offline", input, "--snapshot", snapshot);
        var live = await FilterAsync("live", input, "--server", _server.GrpcAddress);

        Assert.Equal(lines[2] + "\n" + lines[3] + "\n", offline.Kept);
        Assert.Equal(lines[0] + "\n" + lines[1] + "\n", offline.Removed);
        Assert.Equal(offline.Kept, live.Kept);
        Assert.Equal(offline.Removed, live.Removed);

        foreach (var (run, source) in new[] { (offline, "snapshot"), (live, "server") })
        {
            var report = run.Report.RootElement;
            Assert.Equal(6, report.GetProperty("input_records").GetInt64());
            Assert.Equal(2, report.GetProperty("kept").GetInt64());
            Assert.Equal(2, report.GetProperty("removed").GetInt64());
            Assert.Equal(2, report.GetProperty("rejected").GetInt64());
            Assert.Equal(source, report.GetProperty("registry").GetProperty("source").GetString());
            var rejectedLines = report.GetProperty("rejected_records").EnumerateArray().Select(r => r.GetProperty("line").GetInt64()).Order().ToArray();
            Assert.Equal([5L, 6L], rejectedLines);
            Assert.Contains("Dala Archive", run.Report.RootElement.GetProperty("by_holder").GetRawText(), StringComparison.Ordinal);
        }

        // The signed snapshot and the live tree head name the same key.
        Assert.Equal(
            offline.Report.RootElement.GetProperty("registry").GetProperty("key_fingerprint").GetString(),
            live.Report.RootElement.GetProperty("registry").GetProperty("key_fingerprint").GetString());

        // The human side: Markdown on stdout, a self-contained HTML page naming the holder.
        var markdown = await Cli.RunAsync(null, null, "report", offline.ReportPath);
        Assert.True(markdown.ExitCode == 0, markdown.StdErr);
        Assert.Contains("| records | kept | removed | rejected |", markdown.StdOut, StringComparison.Ordinal);
        var html = Path.Combine(_dir, "report.html");
        var rendered = await Cli.RunAsync(null, null, "report", offline.ReportPath, "--html", html);
        Assert.True(rendered.ExitCode == 0, rendered.StdErr);
        var page = await File.ReadAllTextAsync(html);
        Assert.Contains("Dala Archive", page, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", page, StringComparison.Ordinal);

        // --public-key only means something for a snapshot: with --server it is refused, not silently ignored.
        var keyFile = Path.Combine(_dir, "key.pem");
        await File.WriteAllTextAsync(keyFile, (await holder.GetPublicKeyAsync()).SpkiPem);
        var refused = await Cli.RunAsync(null, null, "filter", "--input", input, "--server", _server.GrpcAddress, "--public-key", keyFile,
            "--url-field", "meta.url", "--kept", Path.Combine(_dir, "x.jsonl"), "--removed", Path.Combine(_dir, "y.jsonl"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--public-key", refused.StdErr, StringComparison.Ordinal);
    }

    private async Task<(string Kept, string Removed, JsonDocument Report, string ReportPath)> FilterAsync(string name, string input, params string[] source)
    {
        var kept = Path.Combine(_dir, name + "-kept.jsonl");
        var removed = Path.Combine(_dir, name + "-removed.jsonl");
        var report = Path.Combine(_dir, name + "-report.json");
        var result = await Cli.RunAsync(null, null,
            ["filter", "--input", input, "--url-field", "meta.url", "--purpose", "train-ai", "--kept", kept, "--removed", removed, "--report", report, .. source]);
        Assert.True(result.ExitCode == 0, $"{name}: exit {result.ExitCode}\n{result.StdOut}\n{result.StdErr}");
        return (await File.ReadAllTextAsync(kept), await File.ReadAllTextAsync(removed), JsonDocument.Parse(await File.ReadAllTextAsync(report)), report);
    }
}
