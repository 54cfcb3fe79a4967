using System.IO.Compression;
using System.Text;
using System.Text.Json;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Filtering.Tests;

public sealed class FilterTests(SnapshotFixture fixture) : IClassFixture<SnapshotFixture>
{
    private (string Kept, string Removed, FilterReport Report) Run(string input, RecordFormat? format = null, string urlField = "url", string? textField = null, bool strict = false, string? name = null)
    {
        var (kept, removed, report) = RunBytes(Encoding.UTF8.GetBytes(input), format, urlField, textField, strict, name);
        return (Encoding.UTF8.GetString(kept), Encoding.UTF8.GetString(removed), report);
    }

    private (byte[] Kept, byte[] Removed, FilterReport Report) RunBytes(byte[] input, RecordFormat? format = null, string urlField = "url", string? textField = null, bool strict = false, string? name = null)
    {
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        var report = DatasetFilter.Run(new MemoryStream(input), kept, removed, fixture.Checker, new FilterOptions
        {
            Format = format,
            InputName = name,
            UrlField = new FieldPath(urlField),
            TextField = textField is null ? null : new FieldPath(textField),
            Purpose = UsageCategory.TrainAi,
            Strict = strict,
            HolderName = fixture.Checker.HolderName,
        });
        Assert.Equal(report.InputRecords, report.Kept + report.Removed + report.Rejected);
        return (kept.ToArray(), removed.ToArray(), report);
    }

    [Fact]
    public void JsonLines_splits_byte_identically_and_reports_malformed_lines()
    {
        string[] lines =
        [
            "{\"id\":1,\"meta\":{\"url\":\"https://news.example/articles/2026/a.html\"}}\n",         // 1 removed (prefix)
            "{\"id\":2,\"meta\":{\"url\":\"https://other.example/x\"},\"extra\":[1,{\"url\":\"https://news.example/articles/no\"}]}\r\n", // 2 kept; nested decoy ignored
            "{\"id\":3,\"meta\":{\"url\":\"https://news.example/artic\n",                            // 3 malformed JSON
            "{\"id\":4}\n",                                                                          // 4 no url
            "{\"id\":5,\"meta\":{\"url\":42}}\n",                                                    // 5 not a string
            "\n",                                                                                    // 6 empty
            "{\"id\":7,\"meta\":{\"url\":\"https://www.blocked.example/\\u0070age\"}}\n",            // 7 removed (domain, escaped)
            "{\"id\":8,\"meta\":{\"url\":\"https://kept.example/\"}}",                               // 8 kept, no final newline
        ];
        var (kept, removed, report) = Run(string.Concat(lines), urlField: "meta.url");
        Assert.Equal(lines[1] + lines[7], kept);
        Assert.Equal(lines[0] + lines[6], removed);
        Assert.Equal(8, report.InputRecords);
        Assert.Equal((2L, 2L, 4L), (report.Kept, report.Removed, report.Rejected));
        Assert.Equal([3L, 4L, 5L, 6L], report.RejectedRecords.Select(r => r.Line));
        Assert.Contains("malformed JSON", report.RejectedRecords[0].Reason, StringComparison.Ordinal);
        Assert.Contains("'meta.url'", report.RejectedRecords[1].Reason, StringComparison.Ordinal);
        Assert.Contains("number", report.RejectedRecords[2].Reason, StringComparison.Ordinal);
        Assert.Equal("jsonl", report.Format);
        Assert.Equal(new Dictionary<string, long> { ["domain"] = 1, ["prefix"] = 1 }, report.BySelectorKind);
        Assert.Equal(2, report.ByHolder.Count);
        Assert.Equal("Example News", report.ByHolder.Single(h => h.HolderId == "h-news").Name);
        Assert.Equal(42, report.Registry!.Sequence);
        Assert.NotNull(report.Registry.KeyFingerprint);
    }

    [Fact]
    public void Strict_fails_on_the_first_malformed_record_naming_its_line()
    {
        var ex = Assert.Throws<FilterException>(() => Run("{\"url\":\"https://a.example/\"}\n{\"url\":\"https://b.example/\"}\n{oops}\n", strict: true));
        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_keeps_the_header_in_both_outputs_and_handles_quoted_newlines()
    {
        var header = "id,title,url\r\n";
        var r1 = "1,\"A title, with comma\",https://news.example/articles/1\r\n";
        var r2 = "2,\"two\nline \"\"quoted\"\" title\",https://fine.example/\r\n";
        var bad = "3,\"bad\"x,https://fine.example/\r\n";
        var r4 = "4,short\r\n";
        var r5 = "5,t,https://sub.blocked.example/p\r\n";
        var (kept, removed, report) = Run(header + r1 + r2 + bad + r4 + r5, name: "data.csv");
        Assert.Equal(header + r2, kept);
        Assert.Equal(header + r1 + r5, removed);
        Assert.Equal((5L, 1L, 2L, 2L), (report.InputRecords, report.Kept, report.Removed, report.Rejected));
        // r2 spans lines 3-4, so the bad record starts on line 5.
        Assert.Equal([5L, 6L], report.RejectedRecords.Select(r => r.Line));
        Assert.Equal("csv", report.Format);
    }

    [Fact]
    public void Csv_without_the_url_column_is_an_error_naming_the_column()
    {
        var ex = Assert.Throws<FilterException>(() => Run("id,link\n1,https://a.example/\n", RecordFormat.Csv));
        Assert.Contains("'url'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tsv_splits_on_tabs()
    {
        var header = "link\tlang\n";
        var a = "https://news.example/articles/x\ten\n";
        var b = "https://news.example/about\ten\n";
        var (kept, removed, report) = Run(header + a + b, RecordFormat.Tsv, urlField: "link");
        Assert.Equal(header + b, kept);
        Assert.Equal(header + a, removed);
        Assert.Equal(0, report.Rejected);
    }

    [Fact]
    public void Url_list_rejects_blank_lines()
    {
        var (kept, removed, report) = Run("https://blocked.example/\n\nhttps://ok.example/a\n  \nhttps://news.example/articles/z\n");
        Assert.Equal("https://ok.example/a\n", kept);
        Assert.Equal("https://blocked.example/\nhttps://news.example/articles/z\n", removed);
        Assert.Equal([2L, 4L], report.RejectedRecords.Select(r => r.Line));
        Assert.Equal("urls", report.Format);
    }

    [Theory]
    [InlineData(null, "{\"url\":1}\n", RecordFormat.JsonLines)]
    [InlineData(null, "WARC/1.1\r\n", RecordFormat.Warc)]
    [InlineData(null, "https://a.example/\n", RecordFormat.Urls)]
    [InlineData(null, "url\tx\n", RecordFormat.Tsv)]
    [InlineData(null, "url,x\n", RecordFormat.Csv)]
    [InlineData("x.warc.gz", "anything", RecordFormat.Warc)]
    [InlineData("x.jsonl", "https://a.example/", RecordFormat.JsonLines)]
    [InlineData("x.tsv", "a,b", RecordFormat.Tsv)]
    public void Detects_formats(string? name, string head, RecordFormat expected) =>
        Assert.Equal(expected, RecordFormats.Detect(name, Encoding.UTF8.GetBytes(head)));

    [Theory]
    [InlineData("exact")]
    [InlineData("whitespace")]
    [InlineData("truncated")]
    [InlineData("reencoded")]
    public void Text_field_catches_exact_and_near_duplicate_content(string variant)
    {
        var original = SnapshotFixture.RegisteredText;
        var text = variant switch
        {
            "exact" => original,
            "whitespace" => "  " + original.Replace(" ", "   \t", StringComparison.Ordinal).Replace("\n", "\r\n\r\n", StringComparison.Ordinal),
            "truncated" => original[..(original.Length * 97 / 100)],
            _ => original.Normalize(NormalizationForm.FormD).ToUpperInvariant(),
        };
        var line = JsonSerializer.Serialize(new { url = "https://mirror.example/copy", text }) + "\n";
        var unrelated = JsonSerializer.Serialize(new { url = "https://mirror.example/other", text = "Nothing like the registered work at all, just a short note." }) + "\n";
        var (kept, removed, report) = Run(line + unrelated, textField: "text");
        Assert.Equal(line, removed);
        Assert.Equal(unrelated, kept);
        Assert.Equal(1, report.BySignal["iscc"]);
        Assert.Equal(1, report.BySelectorKind["iscc"]);
    }

    [Fact]
    public void Text_field_catches_exact_bytes_by_sha256()
    {
        var line = JsonSerializer.Serialize(new { url = "https://mirror.example/e", body = SnapshotFixture.ExactText }) + "\n";
        var (_, removed, report) = Run(line, textField: "body");
        Assert.Equal(line, removed);
        Assert.Equal(1, report.BySignal["sha256"]);
    }

    [Fact]
    public void Warc_gzip_multi_member_is_split_per_record_and_checked_by_url_and_payload()
    {
        var records = new[]
        {
            WarcFixture.Record("warcinfo", null, "application/warc-fields", "software: test\r\n"),
            WarcFixture.Response("https://news.example/articles/1", "text/html", "<p>news</p>"),
            WarcFixture.Response("https://mirror.example/copy", "text/plain", SnapshotFixture.RegisteredText),
            WarcFixture.Response("https://fine.example/", "text/html", "<p>fine</p>"),
            WarcFixture.Response("https://fine.example/bin", "application/octet-stream", "\u0001\u0002binary"),
        };
        var input = WarcFixture.GzipMembers(records);
        var (kept, removed, report) = RunBytes(input, name: "crawl.warc.gz");
        Assert.Equal("warc+gzip", report.Format);
        Assert.Equal((5L, 3L, 2L, 0L), (report.InputRecords, report.Kept, report.Removed, report.Rejected));
        Assert.Equal(records[1] + records[2], Encoding.UTF8.GetString(WarcFixture.Gunzip(removed)));
        Assert.Equal(records[0] + records[3] + records[4], Encoding.UTF8.GetString(WarcFixture.Gunzip(kept)));
        Assert.Equal(3, WarcFixture.CountMembers(kept));
        Assert.Equal(1, report.BySignal["url"]);
        Assert.Equal(1, report.BySignal["iscc"]);
    }

    [Fact]
    public void Warc_plain_malformed_records_are_rejected_and_reading_resumes()
    {
        var good1 = WarcFixture.Response("https://news.example/articles/2", "text/html", "x");
        var badLength = "WARC/1.1\r\nWARC-Type: response\r\nContent-Length: lots\r\n\r\nbody\r\n\r\n";
        var good2 = WarcFixture.Response("https://fine.example/2", "text/html", "y");
        var wrongLength = "WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: https://fine.example/3\r\nContent-Length: 2\r\n\r\nabcdef\r\n\r\n";
        var truncated = "WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 100\r\n\r\nshort";
        var (kept, removed, report) = Run(good1 + badLength + good2 + wrongLength + truncated, RecordFormat.Warc);
        Assert.Equal(good1, removed);
        Assert.Equal(good2, kept);
        Assert.Equal((5L, 1L, 1L, 3L), (report.InputRecords, report.Kept, report.Removed, report.Rejected));
        var firstBadLine = good1.Count(c => c == '\n') + 1;
        Assert.Equal(firstBadLine, report.RejectedRecords[0].Line);
        Assert.Contains("Content-Length", report.RejectedRecords[0].Reason, StringComparison.Ordinal);
        Assert.Contains("CRLF CRLF", report.RejectedRecords[1].Reason, StringComparison.Ordinal);
        Assert.Contains("truncated", report.RejectedRecords[2].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_records_are_rejected_without_holding_them()
    {
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        var big = "{\"url\":\"https://a.example/\",\"pad\":\"" + new string('x', 300_000) + "\"}\n";
        var small = "{\"url\":\"https://a.example/\"}\n";
        var report = DatasetFilter.Run(new MemoryStream(Encoding.UTF8.GetBytes(small + big + small)), kept, removed, fixture.Checker,
            new FilterOptions { MaxRecordBytes = 100_000 });
        Assert.Equal((3L, 2L, 1L), (report.InputRecords, report.Kept, report.Rejected));
        Assert.Equal(2, report.RejectedRecords[0].Line);
        Assert.Equal(small + small, Encoding.UTF8.GetString(kept.ToArray()));
    }

    [Fact]
    public void Report_round_trips_and_renders_markdown_and_html()
    {
        var (_, _, report) = Run("https://news.example/articles/1\nhttps://blocked.example/\nhttps://blocked.example/2\nhttps://ok.example/\n\n");
        var back = FilterReport.FromJson(report.ToJson());
        Assert.Equal(report.ToMarkdown(), back.ToMarkdown());
        Assert.Equal("h-blocked", back.ByHolder[0].HolderId);
        Assert.Equal(2, back.ByHolder[0].Removed);
        var md = back.ToMarkdown();
        Assert.Contains("| 5 | 1 | 3 | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("Blocked Inc", md, StringComparison.Ordinal);
        Assert.Contains("sequence 42", md, StringComparison.Ordinal);
        var html = HtmlReport.Render(back);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.Contains("h-blocked: 2 by domain", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
    }
}
