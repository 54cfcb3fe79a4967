using System.Text;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>
/// JSON Lines and URL lists are read in blocks cut after their last LF and split by the workers: whatever the block
/// size, the outputs, counts and rejected line numbers must be those of reading record by record.
/// </summary>
public sealed class BlockReaderTests(SnapshotFixture fixture) : IClassFixture<SnapshotFixture>
{
    private static readonly string s_jsonl = string.Concat(
        "{\"id\":1,\"url\":\"https://news.example/articles/2026/a.html\"}\n",
        "{\"id\":2,\"url\":\"https://other.example/x\"}\r\n",
        "\n",
        "{\"id\":4,\"url\":\"https://www.blocked.example/\\u0070age\"}\n",
        "{\"id\":5,\"url\":\"https://kept.example/" + new string('k', 300) + "\"}\n",
        "{broken\n",
        "{\"id\":7,\"url\":\"https://x.example/\",\"pad\":\"" + new string('p', 5_000) + "\"}\n",
        "{\"id\":8,\"url\":\"https://blocked.example/last\"}");

    [Theory]
    [InlineData(1 << 20, 1)]
    [InlineData(1 << 20, 2)]
    [InlineData(64, 2)]
    [InlineData(7, 1)]
    [InlineData(1, 2)]
    [InlineData(333, 2)]
    public void Jsonl_outputs_do_not_depend_on_the_block_size(int blockBytes, int workers)
    {
        var (kept, removed, report) = Run(s_jsonl, blockBytes, workers, maxRecordBytes: 64 * 1024 * 1024);
        var lines = s_jsonl.Split('\n');
        Assert.Equal(lines[1] + "\n" + lines[4] + "\n" + lines[6] + "\n", kept);
        Assert.Equal(lines[0] + "\n" + lines[3] + "\n" + lines[7], removed);
        Assert.Equal((8L, 3L, 3L, 2L), (report.InputRecords, report.Kept, report.Removed, report.Rejected));
        Assert.Equal([3L, 6L], report.RejectedRecords.Select(r => r.Line));
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(100)]
    [InlineData(3)]
    public void Records_over_the_bound_are_rejected_by_line_in_any_block(int blockBytes)
    {
        // Records 5 (~330 bytes) and 7 (~5 KB) exceed a 200-byte bound, whether they arrive inside a block or longer than one.
        var (kept, removed, report) = Run(s_jsonl, blockBytes, workers: 2, maxRecordBytes: 200);
        var lines = s_jsonl.Split('\n');
        Assert.Equal(lines[1] + "\n", kept);
        Assert.Equal(lines[0] + "\n" + lines[3] + "\n" + lines[7], removed);
        Assert.Equal([3L, 5L, 6L, 7L], report.RejectedRecords.Select(r => r.Line));
        Assert.Contains("longer than 200 bytes", report.RejectedRecords[1].Reason, StringComparison.Ordinal);
        Assert.Contains("longer than 200 bytes", report.RejectedRecords[3].Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1 << 20)]
    [InlineData(5)]
    public void Url_lists_split_in_blocks_keep_line_numbers(int blockBytes)
    {
        var input = "https://blocked.example/\n\nhttps://ok.example/a\n  \nhttps://news.example/articles/z";
        var (kept, removed, report) = Run(input, blockBytes, workers: 2, maxRecordBytes: 1000, name: "list.txt");
        Assert.Equal("https://ok.example/a\n", kept);
        Assert.Equal("https://blocked.example/\nhttps://news.example/articles/z", removed);
        Assert.Equal([2L, 4L], report.RejectedRecords.Select(r => r.Line));
    }

    [Fact]
    public void A_block_of_empty_lines_rejects_each_line_in_order()
    {
        // 300,000 empty lines then one good record: every line is a record (rejected), numbered in order.
        var input = new string('\n', 300_000) + "{\"url\":\"https://blocked.example/x\"}\n";
        var (kept, removed, report) = Run(input, 1 << 16, workers: 2, maxRecordBytes: 1000);
        Assert.Equal((300_001L, 0L, 1L, 300_000L), (report.InputRecords, report.Kept, report.Removed, report.Rejected));
        Assert.Equal(string.Empty, kept);
        Assert.Equal("{\"url\":\"https://blocked.example/x\"}\n", removed);
        Assert.Equal(Enumerable.Range(1, FilterReport.MaxRejectedListed).Select(i => (long)i), report.RejectedRecords.Select(r => r.Line));
    }

    [Fact]
    public void Empty_input_has_no_records()
    {
        var (kept, removed, report) = Run(string.Empty, 1 << 20, workers: 2, maxRecordBytes: 1000, name: "empty.jsonl");
        Assert.Equal((string.Empty, string.Empty, 0L), (kept, removed, report.InputRecords));
    }

    private (string Kept, string Removed, FilterReport Report) Run(string input, int blockBytes, int workers, int maxRecordBytes, string name = "data.jsonl")
    {
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        var report = DatasetFilter.Run(new MemoryStream(Encoding.UTF8.GetBytes(input)), kept, removed, fixture.Checker, new FilterOptions
        {
            InputName = name,
            BatchBytes = blockBytes,
            Workers = workers,
            MaxRecordBytes = maxRecordBytes,
        });
        Assert.Equal(report.InputRecords, report.Kept + report.Removed + report.Rejected);
        return (Encoding.UTF8.GetString(kept.ToArray()), Encoding.UTF8.GetString(removed.ToArray()), report);
    }
}
