using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Fingerprints.Iscc;
using OptOutRegistry.Server;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>
/// The same inputs filtered against a live server (in process, loopback, over the Check stream) and against a snapshot
/// exported from that server: the outputs must be byte-identical and the reports equal apart from the source fields.
/// </summary>
public sealed class LiveServerTests(LiveServerTests.Registry registry) : IClassFixture<LiveServerTests.Registry>
{
    public static TheoryData<string, int> Inputs => new()
    {
        { "jsonl", 4096 },
        { "jsonl", 3 },      // many small batches: several requests on the stream at once, order must hold
        { "warc.gz", 4096 },
        { "warc.gz", 2 },
        { "csv", 5 },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Server_and_snapshot_runs_give_identical_outputs_and_reports(string kind, int batchRecords)
    {
        var (input, name, textField) = kind switch
        {
            "jsonl" => (Encoding.UTF8.GetBytes(Jsonl()), "data.jsonl", "text"),
            "csv" => (Encoding.UTF8.GetBytes(Csv()), "data.csv", null),
            _ => (WarcFixture.GzipMembers(Warc()), "crawl.warc.gz", (string?)null),
        };
        var options = new FilterOptions
        {
            InputName = name,
            TextField = textField is null ? null : new FieldPath(textField),
            BatchRecords = batchRecords,
        };

        var offline = SnapshotFilterChecker.Load(registry.SnapshotPath);
        var (snapKept, snapRemoved, snapReport) = await RunAsync(input, offline, options);
        FilterReport liveReport;
        byte[] liveKept, liveRemoved;
        await using (var live = await ServerFilterChecker.ConnectAsync(registry.GrpcAddress, concurrency: 4))
        {
            (liveKept, liveRemoved, liveReport) = await RunAsync(input, live, options);
        }

        Assert.Equal(snapKept, liveKept);
        Assert.Equal(snapRemoved, liveRemoved);
        Assert.True(snapReport.Removed >= 3, $"the fixture should remove records, removed {snapReport.Removed}");
        Assert.True(snapReport.Kept >= 2, $"the fixture should keep records, kept {snapReport.Kept}");

        // Provenance: the snapshot's sequence is the server's at the start of the live run; the live run also names the tree head.
        Assert.Equal("snapshot", snapReport.Registry!.Source);
        Assert.Equal("server", liveReport.Registry!.Source);
        Assert.Equal(registry.SnapshotSequence, snapReport.Registry.Sequence);
        Assert.Equal(registry.SnapshotSequence, liveReport.Registry.Sequence);
        Assert.Equal(registry.SnapshotSequence, liveReport.Registry.LastSequence);
        Assert.Equal(registry.SnapshotSequence + 1, liveReport.Registry.TreeSize);
        Assert.Matches("^[0-9a-f]{64}$", liveReport.Registry.TreeHead);
        Assert.Equal(snapReport.Registry.KeyFingerprint, liveReport.Registry.KeyFingerprint);

        Assert.Equal(WithoutSource(snapReport), WithoutSource(liveReport));
    }

    [Fact]
    public async Task Kept_gzip_members_are_the_input_members_byte_for_byte()
    {
        var records = Warc();
        var members = records.Select(r => WarcFixture.GzipMembers([r])).ToArray();
        var input = members.SelectMany(m => m).ToArray();
        var (kept, removed, report) = await RunAsync(input, SnapshotFilterChecker.Load(registry.SnapshotPath), new FilterOptions { InputName = "x.warc.gz", BatchRecords = 2 });
        var keptIndex = new List<int>();
        var removedIndex = new List<int>();
        var decompressedKept = Encoding.UTF8.GetString(WarcFixture.Gunzip(kept));
        for (var i = 0; i < records.Length; i++)
        {
            (decompressedKept.Contains(records[i], StringComparison.Ordinal) ? keptIndex : removedIndex).Add(i);
        }

        Assert.Equal(report.Kept, keptIndex.Count);
        Assert.Equal(keptIndex.SelectMany(i => members[i]).ToArray(), kept);
        Assert.Equal(removedIndex.SelectMany(i => members[i]).ToArray(), removed);
    }

    [Fact]
    public async Task A_refused_key_fails_before_reading_the_input()
    {
        await using var server = await Registry.StartServerAsync("--check-require-key", "true");
        var ex = await Assert.ThrowsAsync<OptOutRegistry.Grpc.RpcException>(() => ServerFilterChecker.ConnectAsync(server.Address, "oor_not-a-key"));
        Assert.Equal(OptOutRegistry.Grpc.StatusCode.Unauthenticated, ex.StatusCode);
    }

    private static async Task<(byte[] Kept, byte[] Removed, FilterReport Report)> RunAsync(byte[] input, IFilterChecker checker, FilterOptions options)
    {
        using var kept = new MemoryStream();
        using var removed = new MemoryStream();
        var report = await DatasetFilter.RunAsync(new MemoryStream(input), kept, removed, checker, options);
        return (kept.ToArray(), removed.ToArray(), report);
    }

    private static string WithoutSource(FilterReport report)
    {
        var copy = FilterReport.FromJson(report.ToJson());
        copy.Registry = null;
        copy.StartedAt = default;
        copy.FinishedAt = default;
        return copy.ToJson();
    }

    private static string Jsonl()
    {
        var lines = new List<string>
        {
            Json("https://news.example/articles/1", "short note one"),
            Json("https://news.example/about", "about page"),
            Json("https://www.blocked.example/a?b=c", null),
            "{\"url\": \"https://ok.example/\\u0061\"}",
            "not json at all",
            Json("not a url", null),
            Json("https://mirror.example/copy", SnapshotFixture.RegisteredText.Replace(" ", "  ", StringComparison.Ordinal)),
            Json("https://mirror.example/exact", SnapshotFixture.ExactText),
            "{\"id\": 7}",
            Json("https://fine.example/x", "nothing registered here"),
        };
        for (var i = 0; i < 40; i++)
        {
            lines.Add(Json(i % 3 == 0 ? $"https://blocked.example/p{i}" : $"https://fine.example/p{i}", null));
        }

        return string.Join("\n", lines) + "\n";

        static string Json(string url, string? text) => text is null ? JsonSerializer.Serialize(new { url }) : JsonSerializer.Serialize(new { url, text });
    }

    private static string Csv() =>
        "url,note\r\n" +
        "https://news.example/articles/9,\"a, b\"\r\n" +
        "https://ok.example/,x\r\n" +
        "\"https://blocked.example/q\",\"multi\nline\"\r\n" +
        "https://fine.example/,y\r\n" +
        "notaurl,z\r\n" +
        "https://blocked.example/r,\"unterminated\r\n" +
        "https://news.example/articles/10,w\r\n" +
        "https://fine.example/2,v\r\n";

    private static string[] Warc() =>
    [
        WarcFixture.Record("warcinfo", null, "application/warc-fields", "software: test\r\n"),
        WarcFixture.Response("https://news.example/articles/1", "text/html", "<p>news</p>"),
        WarcFixture.Response("https://mirror.example/copy", "text/plain", SnapshotFixture.RegisteredText),
        WarcFixture.Response("https://fine.example/", "text/html", "<p>fine</p>"),
        WarcFixture.Response("https://blocked.example/img", "image/png", "\u0001\u0002binary"),
        WarcFixture.Response("https://fine.example/bin", "application/octet-stream", "\u0001\u0002binary"),
        WarcFixture.Record("resource", "dns:fine.example", "text/dns", "20260201000000\r\nfine.example. 300 IN A 192.0.2.1\r\n"),
        WarcFixture.Response("https://fine.example/exact", "text/plain", SnapshotFixture.ExactText),
    ];

    /// <summary>A live registry with three holders (prefix, domain, content) and a snapshot exported from it.</summary>
    public sealed class Registry : IAsyncLifetime
    {
        private Server? _server;

        public string GrpcAddress => _server!.Address;

        public string SnapshotPath { get; private set; } = string.Empty;

        public long SnapshotSequence { get; private set; }

        public async Task InitializeAsync()
        {
            _server = await StartServerAsync();
            using var anonymous = RegistryClient.Create(GrpcAddress);
            using var admin = anonymous.WithKey(File.ReadAllText(Path.Combine(_server.DataDirectory, "admin-key")).Trim());
            async Task RegisterAsync(string name, Pb.UsageCategory category, string? host, params Pb.Selector[] selectors)
            {
                var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = name, ContactEmail = "rights@" + name.Replace(" ", string.Empty, StringComparison.Ordinal).ToLowerInvariant() + ".example" });
                if (host is not null)
                {
                    // Prefix and domain selectors need a verified host; the operator records it here.
                    await admin.RecordVerifiedHostAsync(created.Holder.Id, host, "test fixture");
                }

                using var holder = anonymous.WithKey(created.ApiKey);
                var spec = new Pb.ReservationSpec();
                spec.Selectors.AddRange(selectors);
                spec.Statements.Add(new Pb.UsageStatement { Category = category, Permission = Pb.Permission.Disallow });
                await holder.CreateReservationAsync(spec);
            }

            await RegisterAsync("Example News", Pb.UsageCategory.TrainAi, "news.example", new Pb.Selector { Prefix = "news.example/articles/" });
            await RegisterAsync("Blocked Inc", Pb.UsageCategory.All, "blocked.example", new Pb.Selector { Domain = "blocked.example" });
            await RegisterAsync("An Author", Pb.UsageCategory.TrainAi, null,
                new Pb.Selector { Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SnapshotFixture.ExactText))) },
                new Pb.Selector { Iscc = IsccGenerator.GenTextCodeV0(SnapshotFixture.RegisteredText).Iscc });

            SnapshotPath = Path.Combine(_server.DataDirectory, "export.snapshot");
            using var feed = FeedClient.Create(GrpcAddress);
            await using var file = File.Create(SnapshotPath);
            SnapshotSequence = await feed.DownloadSnapshotAsync(file);
        }

        public async Task DisposeAsync()
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }

        public static async Task<Server> StartServerAsync(params string[] extraArgs)
        {
            var dataDirectory = Path.Combine(Path.GetTempPath(), "optout-filter-live-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dataDirectory);
            string[] args = ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", "--data-dir", dataDirectory, "--Logging:LogLevel:Default", "Warning", .. extraArgs];
            var app = ServerHost.Build(args);
            OptOutRegistry.Grpc.ThreadPoolHeadroom.Ensure(); // the test host's parked pool threads (see TemporaryServer)
            await app.StartAsync();
            // Kestrel reports the addresses in binding order: the gRPC (--urls) endpoint first.
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new Server(app, dataDirectory, address);
        }
    }

    /// <summary>A running in-process server and its data directory.</summary>
    public sealed class Server(WebApplication app, string dataDirectory, string address) : IAsyncDisposable
    {
        public string DataDirectory => dataDirectory;

        public string Address => address;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
            try
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A file still open in a background task: the OS temp cleaner takes it.
            }
        }
    }
}
