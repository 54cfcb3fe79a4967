using System.Diagnostics;
using System.Text;
using System.Text.Json;
using OptOutRegistry.Client;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>Bulk import (issue 6 items 1, 6, 7): JSON Lines through the real CLI and SDK, 100,000 items, retries and duplicates.</summary>
public sealed class ImportTests
{
    [Fact]
    public async Task Import100k_WithDuplicatesInterruptionAndRetry_CreatesEachItemExactlyOnce()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (holder, created) = await NewHolderAsync(anonymous, "Bulk Archive");
        await anonymous.WithKey(server.AdminKey).RecordVerifiedHostAsync(created.Holder.Id, "bulk.example");

        // 100,000 distinct items (several selector kinds), 2,000 exact duplicate lines and 3 invalid lines.
        const int distinct = 100_000;
        var lines = new List<string>(distinct + 2_100);
        for (var i = 0; i < distinct; i++)
        {
            lines.Add((i % 10) switch
            {
                0 => $"{{\"prefix\": \"bulk.example/set-{i}/\", \"disallow\": [\"train-ai\"]}}",
                1 => $"{{\"sha256\": \"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)))}\", \"disallow\": [\"all\"]}}",
                2 => $"{{\"url\": \"https://bulk.example/photo-{i}.jpg\", \"disallow\": [\"all\"], \"allow\": [\"search\"], \"title\": \"Photo {i}\", \"creators\": [\"Әлия\"]}}",
                _ => $"{{\"url\": \"https://other.example/item/{i}\", \"disallow\": [\"train-genai\"]}}",
            });
            if (i % 50 == 0)
            {
                lines.Add(lines[^1]);
            }
        }

        lines.Add("{\"domain\": \"co.uk\", \"disallow\": [\"all\"]}");
        lines.Add("{\"url\": \"https://bulk.example/x\", \"disallow\": [\"train-everything\"]}");
        lines.Add("{\"url\": \"https://bulk.example/y\"");
        var file = Path.Combine(server.DataDirectory, "bulk.jsonl");
        await File.WriteAllLinesAsync(file, lines);

        // First attempt through the SDK, interrupted after 30,000 results (the connection is cancelled mid-stream).
        var items = lines.Take(40_000).Select((line, i) => RegistryImportFormat.ParseLine(line, (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        using (var cancel = new CancellationTokenSource())
        {
            var received = 0;
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await foreach (var _ in holder.ImportAsync(ToAsync(items), cancel.Token))
                {
                    if (++received == 30_000)
                    {
                        await cancel.CancelAsync();
                    }
                }
            });
            // Messages already buffered may still arrive after the cancellation; the stream still stops short of the end.
            Assert.InRange(received, 30_000, 39_999);
        }

        // The retry: the whole file through the CLI. Lines answered before come back as duplicates, nothing is created twice.
        var env = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = server.GrpcAddress, ["OPTOUT_KEY"] = created.ApiKey };
        var watch = Stopwatch.StartNew();
        var run = await Cli.RunAsync(env, null, "import", file, "--json");
        watch.Stop();
        Assert.Equal(1, run.ExitCode); // three lines were rejected
        var results = run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(lines.Count, results.Count);
        Assert.Equal(Enumerable.Range(1, lines.Count), results.Select(r => r.GetProperty("line").GetInt32()));
        var outcomes = results.GroupBy(r => r.GetProperty("outcome").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, outcomes["rejected"]);
        var duplicatesInFile = lines.Count - 3 - distinct;
        Assert.Equal(lines.Count - 3, outcomes["created"] + outcomes["duplicate"]);
        Assert.True(outcomes["duplicate"] >= duplicatesInFile + 1, $"{outcomes["duplicate"]} duplicates");
        var rejected = results.Where(r => r.GetProperty("outcome").GetString() == "rejected").Select(r => r.GetProperty("error").GetString()!).ToList();
        Assert.Contains(rejected, e => e.StartsWith("spec.selectors[0].domain:", StringComparison.Ordinal) && e.Contains("public suffix", StringComparison.Ordinal));
        Assert.Contains(rejected, e => e.StartsWith("disallow[0]:", StringComparison.Ordinal));
        Assert.Contains(rejected, e => e.StartsWith("line:", StringComparison.Ordinal));

        // Exactly one reservation per distinct item: count them all through the paged listing.
        var ids = new HashSet<string>();
        string? token = null;
        do
        {
            var page = await holder.ListReservationsAsync(1000, token);
            foreach (var r in page.Reservations)
            {
                Assert.True(ids.Add(r.Id));
            }

            token = page.NextPageToken.Length == 0 ? null : page.NextPageToken;
        }
        while (token is not null);
        Assert.Equal(distinct, ids.Count);
        // Every line of one item got the same reservation id.
        Assert.Equal(distinct, results.Where(r => r.GetProperty("outcome").GetString() != "rejected").Select(r => r.GetProperty("reservationId").GetString()).Distinct().Count());

        // A third run creates nothing at all.
        var again = await Cli.RunAsync(env, null, "import", file);
        Assert.Contains($"0 created, {lines.Count - 3} duplicate(s), 3 rejected", again.StdOut, StringComparison.Ordinal);
        Console.WriteLine($"CLI import of {lines.Count} lines (after an interrupted SDK attempt): {watch.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task ImportFormat_IssueExamples_AreAcceptedAsWritten()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (holder, created) = await NewHolderAsync(anonymous, "Format Holder");
        var admin = anonymous.WithKey(server.AdminKey);
        await admin.RecordVerifiedHostAsync(created.Holder.Id, "example.kz");
        await admin.RecordVerifiedHostAsync(created.Holder.Id, "example.com");
        string[] lines =
        [
            "{\"url\": \"https://example.kz/books/abai.pdf\", \"disallow\": [\"train-genai\"], \"title\": \"Абай жолы\", \"creators\": [\"Мұхтар Әуезов\"]}",
            "{\"domain\": \"example.kz\", \"disallow\": [\"all\"], \"allow\": [\"search\"]}",
            "{\"prefix\": \"example.com/gallery/\", \"disallow\": [\"train-ai\"]}",
            "{\"pattern\": {\"host\": \"example.com\", \"path\": \"/photos/*.jpg$\"}, \"disallow\": [\"all\"]}",
            "{\"sha256\": \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\", \"disallow\": [\"all\"]}",
            "{\"iscc\": \"ISCC:AAAWN77F727NXSUS\", \"disallow\": [\"all\"]}",
            "{\"identifier\": \"isbn:9780306406157\", \"disallow\": [\"all\"]}",
            "{\"selectors\": [{\"url\": \"https://example.kz/a.jpg\", \"any_query\": true}, {\"host\": \"example.com\", \"include_subdomains\": true}], \"disallow\": [\"ai-use\"], \"valid_from\": \"2099-01-01T00:00:00Z\", \"valid_until\": \"2100-01-01T00:00:00+05:00\", \"policy_url\": \"https://example.kz/licence\", \"idempotency_key\": \"batch-7/item-1\", \"language\": \"kk\", \"identifiers\": [\"isbn:978-0-306-40615-7\"]}",
        ];
        var file = Path.Combine(server.DataDirectory, "examples.jsonl");
        await File.WriteAllLinesAsync(file, lines, new UTF8Encoding(false));
        var env = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = server.GrpcAddress, ["OPTOUT_KEY"] = created.ApiKey };
        var run = await Cli.RunAsync(env, null, "import", file);
        Assert.True(run.ExitCode == 0, run.StdOut + run.StdErr);
        Assert.Contains($"{lines.Length} created, 0 duplicate(s), 0 rejected", run.StdOut, StringComparison.Ordinal);

        var all = (await holder.ListReservationsAsync()).Reservations;
        Assert.Equal(lines.Length, all.Count);
        var last = all.Single(r => r.Selectors.Count == 2);
        Assert.True(last.Selectors[0].AnyQuery);
        Assert.True(last.Selectors[1].IncludeSubdomains);
        Assert.Equal(["isbn:9780306406157"], last.Work.Identifiers);
        Assert.Equal(new DateTimeOffset(2099, 12, 31, 19, 0, 0, TimeSpan.Zero), last.ValidUntil.ToDateTimeOffset());
        var domain = all.Single(r => r.Selectors[0].ValueCase == Pb.Selector.ValueOneofCase.Domain);
        Assert.Equal([Pb.Permission.Disallow, Pb.Permission.Allow], domain.Statements.Select(s => s.Permission));
        Assert.True(domain.SelectorVerified[0]);
    }

    private static async IAsyncEnumerable<Pb.ImportReservationsRequest> ToAsync(IEnumerable<Pb.ImportReservationsRequest> items)
    {
        foreach (var item in items)
        {
            yield return item;
        }

        await Task.CompletedTask;
    }
}
