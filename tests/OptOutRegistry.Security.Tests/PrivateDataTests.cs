using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using static OptOutRegistry.Security.Tests.TestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// Issue 9 item 4: no private holder data (contact e-mail, API keys, verification tokens, the admin key) in any check
/// answer, feed event, snapshot, gateway answer or log line; keys stored hashed; secret files private to the owner.
/// One holder with recognisable secrets goes through every write, then every read path; all answers and every log
/// line at Trace level are searched for the secrets.
/// </summary>
public sealed class PrivateDataTests
{
    private const string Email = "private-contact-7f3a9c@secret-mail.example";
    private const string SecretHost = "secret-host.example.org";

    [Fact]
    public async Task Secrets_NeverAppear_InPublicAnswers_SnapshotsOrLogs()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Secretive Press", ContactEmail = Email, PublicContact = "press@public.example" });
        using var holder = anonymous.WithKey(created.ApiKey);
        var secondKey = (await holder.CreateApiKeyAsync("second")).ApiKey;
        var token = (await holder.StartHostVerificationAsync(SecretHost)).Token;
        var reservation = await holder.CreateReservationAsync(Spec($"https://{SecretHost}/work.jpg", "Secretive Work"));
        var amended = await holder.AmendReservationAsync(reservation.Reservation.Id, Spec($"https://{SecretHost}/work2.jpg", "Secretive Work"));
        await holder.RevokeApiKeyAsync((await holder.ListApiKeysAsync()).Keys.Single(k => k.Label == "second").Id);
        var secrets = new Dictionary<string, string>
        {
            ["contact e-mail"] = Email,
            ["API key"] = created.ApiKey,
            ["revoked API key"] = secondKey,
            ["verification token"] = token,
            ["admin key"] = server.AdminKey,
        };

        // A mistyped address is refused without being echoed into the answer or the log.
        const string mistyped = "private-typo-9d1e@no-dot-domain";
        var refused = await AssertStatusAsync(StatusCode.InvalidArgument, () => anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Typo", ContactEmail = mistyped }));
        Assert.StartsWith("contact_email:", refused.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(mistyped, refused.Status.Detail, StringComparison.Ordinal);
        secrets["mistyped contact e-mail"] = mistyped;

        // Calls that fail carry secrets in their headers: a revoked key, a made-up one, the admin key where it is refused.
        await AssertStatusAsync(StatusCode.Unauthenticated, () => anonymous.WithKey(secondKey).ListApiKeysAsync());
        await AssertStatusAsync(StatusCode.PermissionDenied, () => anonymous.WithKey(server.AdminKey).CreateReservationAsync(Spec("https://x.example/")));

        var answers = new List<(string Path, byte[] Bytes)>();
        void Add(string path, IMessage message)
        {
            answers.Add((path, message.ToByteArray()));
            answers.Add((path + " (JSON)", Encoding.UTF8.GetBytes(JsonFormatter.Default.Format(message))));
        }

        // Check answers, with the holder's own key and anonymously, unary, stream and explain.
        var batch = new Pb.CheckBatchRequest { IncludeMatches = true, Subjects = { new Pb.Subject { Url = $"https://{SecretHost}/work2.jpg" }, new Pb.Subject { Url = $"https://{SecretHost}/work.jpg" } } };
        foreach (var key in new[] { null, created.ApiKey })
        {
            await using var check = CheckClient.Create(server.GrpcAddress, new CheckClientOptions { ApiKey = key });
            var result = await check.CheckBatchAsync(batch);
            Assert.Equal(Pb.Verdict.Disallowed, result.Results[0].Verdict);
            Add("CheckBatch", result);
            Add("Explain", await check.ExplainAsync(new Pb.ExplainRequest { Subject = batch.Subjects[0] }));
            using var stream = check.OpenStream();
            await stream.RequestStream.WriteAsync(batch);
            await stream.RequestStream.CompleteAsync();
            while (await stream.ResponseStream.MoveNext(CancellationToken.None))
            {
                Add("CheckStream", stream.ResponseStream.Current);
            }
        }

        // The feed: every event, tree head, proofs, the public key and a full snapshot.
        using (var channel = GrpcChannel.ForAddress(server.GrpcAddress))
        {
            var feed = Pb.FeedReflection.Descriptor.Services[0];
            using var events = channel.ServerStreaming(Method<Pb.WatchEventsRequest, Pb.Event>.Create(feed, "WatchEvents"), new Pb.WatchEventsRequest { StopAtEnd = true });
            var count = 0;
            while (await events.ResponseStream.MoveNext(CancellationToken.None))
            {
                Add("WatchEvents", events.ResponseStream.Current);
                count++;
            }

            Assert.True(count >= 5, $"only {count} events");
            Add("GetTreeHead", await channel.UnaryAsync(Method<Pb.GetTreeHeadRequest, Pb.SignedTreeHead>.Create(feed, "GetTreeHead"), new Pb.GetTreeHeadRequest()));
            Add("GetInclusionProof", await channel.UnaryAsync(Method<Pb.GetInclusionProofRequest, Pb.InclusionProof>.Create(feed, "GetInclusionProof"), new Pb.GetInclusionProofRequest { LeafIndex = 0 }));
            for (var sequence = 0; sequence < count; sequence++)
            {
                Add("GetReceipt", await anonymous.GetReceiptAsync(sequence));
            }
        }

        using (var feedClient = FeedClient.Create(server.GrpcAddress))
        using (var snapshot = new MemoryStream())
        {
            await feedClient.DownloadSnapshotAsync(snapshot);
            Assert.True(snapshot.Length > 0);
            answers.Add(("GetSnapshot", snapshot.ToArray()));
        }

        // Registry reads a third party can make, and the holder's own reads of reservations.
        Add("SearchWorks", await anonymous.SearchWorksAsync("Secretive"));
        Add("GetReservation (owner)", await holder.GetReservationAsync(amended.Reservation.Id));
        Add("GetReservationHistory (owner)", await holder.GetReservationHistoryAsync(reservation.Reservation.Id));
        Add("ListReservations (owner)", await holder.ListReservationsAsync());
        Add("CreateReservation answer", reservation);

        // HTTP gateways, with the holder's key.
        using (var http = new HttpClient())
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.ApiKey);
            answers.Add(("GET /v1/reservations/{id}", await http.GetByteArrayAsync(server.HttpAddress + "/v1/reservations/" + reservation.Reservation.Id)));
            using var json = await http.PostAsync(server.HttpAddress + "/v1/check", new StringContent($"{{\"includeMatches\":true,\"subjects\":[{{\"url\":\"https://{SecretHost}/work2.jpg\"}}]}}"));
            answers.Add(("POST /v1/check", await json.Content.ReadAsByteArrayAsync()));
            using var spawning = await http.PostAsync(server.HttpAddress + "/api/v2/query/urls", new StringContent($"https://{SecretHost}/work2.jpg\n"));
            answers.Add(("POST /api/v2/query/urls", await spawning.Content.ReadAsByteArrayAsync()));
        }

        // Snapshot files the server keeps in its data directory.
        foreach (var file in Directory.EnumerateFiles(server.DataDirectory, "*.snap", SearchOption.AllDirectories))
        {
            answers.Add((Path.GetFileName(file), await File.ReadAllBytesAsync(file)));
        }

        Assert.Contains(answers, a => Encoding.UTF8.GetString(a.Bytes).Contains("Secretive Press", StringComparison.Ordinal)); // the search is not vacuous
        foreach (var (path, bytes) in answers)
        {
            foreach (var (name, secret) in secrets)
            {
                Assert.False(Contains(bytes, secret), $"{path} contains the {name}");
            }
        }

        var lines = server.Logs.Lines.ToList();
        Assert.True(lines.Count > 20, $"only {lines.Count} log lines captured");
        Assert.Contains(lines, l => l.Contains(created.Holder.Id, StringComparison.Ordinal)); // holders are logged by id
        foreach (var line in lines)
        {
            foreach (var (name, secret) in secrets)
            {
                Assert.False(line.Contains(secret, StringComparison.Ordinal), $"log line contains the {name}: {line}");
            }
        }
    }

    [Fact]
    public async Task ApiKeys_AreStoredAsSha256Only_AndSecretFilesAreOwnerOnly()
    {
        await using var server = await SecurityServer.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var created = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Hashed Keys", ContactEmail = "hashed@example.org" });
        using var holder = anonymous.WithKey(created.ApiKey);
        var second = await holder.CreateApiKeyAsync("second");
        await holder.CreateReservationAsync(Spec("https://hashed.example/a"));
        var admin = server.AdminKey;
        await server.App.StopAsync(); // flush: SQLite's WAL and every file closed

        var files = Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => Path.GetFileName(f).EndsWith(".db", StringComparison.Ordinal) || Path.GetFileName(f).Contains("sqlite", StringComparison.Ordinal));
        var all = new List<byte>();
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            if (Path.GetFileName(file) != "admin-key")
            {
                foreach (var key in new[] { created.ApiKey, second.ApiKey, admin })
                {
                    Assert.False(Contains(bytes, key), $"{Path.GetFileName(file)} holds a plain key");
                    // Only the listing prefix may be stored; the rest of the key must not appear even in part.
                    Assert.False(Contains(bytes, key[12..]), $"{Path.GetFileName(file)} holds the secret part of a key");
                }
            }

            all.AddRange(bytes);
        }

        // What is stored instead is the SHA-256 of each key (how CallerResolver looks keys up).
        var everything = all.ToArray();
        Assert.True(everything.AsSpan().IndexOf(SHA256.HashData(Encoding.UTF8.GetBytes(created.ApiKey))) >= 0, "the key's SHA-256 is not in the data directory");
        Assert.True(everything.AsSpan().IndexOf(SHA256.HashData(Encoding.UTF8.GetBytes(second.ApiKey))) >= 0, "the second key's SHA-256 is not in the data directory");

        if (!OperatingSystem.IsWindows())
        {
            foreach (var name in new[] { "admin-key", "transparency-signing-key.pem" })
            {
                var mode = File.GetUnixFileMode(Path.Combine(server.DataDirectory, name));
                Assert.True(mode == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{name} has mode {mode}");
            }
        }
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) >= 0;
}
