using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>
/// Issue 6 item 3: what <c>optout register --json</c> prints is accepted by <c>optout verify-receipt</c> as it is, and a
/// change of any character in it makes verification fail.
/// </summary>
public sealed class ReceiptTamperTests(ReceiptFixture fixture) : IClassFixture<ReceiptFixture>
{
    /// <summary>(JSON text to find, its replacement): one character flipped in each part of the receipt.</summary>
    public static TheoryData<string, string> Flips => new()
    {
        { "\"sequence\": \"", "\"sequence\": \"1" },                 // event.sequence
        { "\"actor\": \"holder:hld_", "\"actor\": \"holder:hle_" },   // event.actor
        { "\"url\": \"https://tamper.example/", "\"url\": \"https://tamper.examplf/" }, // the reservation's selector
        { "USAGE_CATEGORY_TRAIN_AI", "USAGE_CATEGORY_SEARCH" },      // the statement
        { "\"title\": \"Тест", "\"title\": \"Тесп" },                 // work metadata
        { "\"reservationId\": \"rsv_", "\"reservationId\": \"rsv-" }, // reservation_id
        { "\"treeSize\": \"", "\"treeSize\": \"9" },                 // tree size (head and proof)
        { "\"keyFingerprint\": \"", "\"keyFingerprint\": \"0" },     // key fingerprint
        { "\"validFrom\": \"20", "\"validFrom\": \"21" },             // valid_from
    };

    [Theory]
    [MemberData(nameof(Flips))]
    public async Task VerifyReceipt_AfterOneCharacterChanged_Fails(string find, string replace)
    {
        var (json, pem, _) = await RegisterAsync();
        Assert.True(ReceiptVerifier.VerifyJson(json, pem).IsValid);
        Assert.Contains(find, json, StringComparison.Ordinal);
        var index = json.IndexOf(find, StringComparison.Ordinal);
        var tampered = json[..index] + replace + json[(index + find.Length)..];
        var result = ReceiptVerifier.VerifyJson(tampered, pem);
        Assert.False(result.IsValid, "tampered receipt verified: " + replace);
    }

    [Theory]
    [InlineData("leafData")]
    [InlineData("rootHash")]
    [InlineData("signature")]
    [InlineData("hashes")]
    [InlineData("time")]
    [InlineData("timestamp")]
    public async Task VerifyReceipt_EveryCharacterOfAFieldFlipped_FailsEachTime(string field)
    {
        var (json, pem, _) = await RegisterAsync();
        var start = json.IndexOf($"\"{field}\": ", StringComparison.Ordinal);
        Assert.True(start >= 0, field);
        var valueStart = json.IndexOf('"', start + field.Length + 3) + 1;
        var valueEnd = json.IndexOf('"', valueStart);
        for (var i = valueStart; i < valueEnd; i++)
        {
            // Flip to another character of the same class, so the JSON usually still parses and the crypto must catch it;
            // base64's last character included (its unused bits decode to the same bytes: the canonical-text check catches that).
            var c = json[i];
            var flipped = c switch
            {
                >= '0' and < '9' => (char)(c + 1),
                '9' => '0',
                >= 'A' and < 'Z' => (char)(c + 1),
                'Z' => 'A',
                >= 'a' and < 'z' => (char)(c + 1),
                'z' => 'a',
                '+' => '/',
                '/' => '+',
                _ => 'x',
            };
            var tampered = json[..i] + flipped + json[(i + 1)..];
            Assert.False(ReceiptVerifier.VerifyJson(tampered, pem).IsValid, $"{field}: flipping character {i - valueStart} ('{c}'→'{flipped}') still verified");
        }
    }

    [Fact]
    public async Task VerifyReceipt_WithAnotherRegistrysKey_Fails()
    {
        var (json, _, _) = await RegisterAsync();
        using var other = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var result = ReceiptVerifier.VerifyJson(json, other.ExportSubjectPublicKeyInfoPem());
        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Contains("key_fingerprint", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CliRegisterJson_IsAcceptedByCliVerifyReceipt_AndAFlippedCopyIsRejected()
    {
        await using var server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(server.GrpcAddress);
        var (_, holder) = await NewHolderAsync(anonymous, "Cli Holder");
        var env = new Dictionary<string, string?> { ["OPTOUT_SERVER"] = server.GrpcAddress, ["OPTOUT_KEY"] = holder.ApiKey };
        var register = await Cli.RunAsync(env, null, "register", "--url", "https://cli.example/a.pdf", "--disallow", "train-ai,ai-use",
            "--title", "Қазақ әдебиеті", "--creator", "Абай Құнанбайұлы", "--json");
        Assert.True(register.ExitCode == 0, register.StdErr);
        var receipt = Pb.Receipt.Parser.ParseJson(register.StdOut);
        Assert.StartsWith("rsv_", receipt.ReservationId, StringComparison.Ordinal);

        var dir = Path.Combine(server.DataDirectory, "receipts");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "receipt.json");
        await File.WriteAllTextAsync(file, register.StdOut);
        var keyFile = Path.Combine(dir, "registry.pem");
        await File.WriteAllTextAsync(keyFile, PublicKeyPem(server));

        var offline = await Cli.RunAsync(null, null, "verify-receipt", file, "--public-key", keyFile);
        Assert.True(offline.ExitCode == 0, offline.StdOut + offline.StdErr);
        Assert.StartsWith("valid: reservation " + receipt.ReservationId, offline.StdOut, StringComparison.Ordinal);

        var fetched = await Cli.RunAsync(null, null, "verify-receipt", file, "--server", server.GrpcAddress);
        Assert.True(fetched.ExitCode == 0, fetched.StdOut + fetched.StdErr);
        Assert.Contains("fingerprint (SHA-256 of SPKI): " + receipt.TreeHead.KeyFingerprint, fetched.StdOut, StringComparison.Ordinal);

        var tampered = Path.Combine(dir, "tampered.json");
        await File.WriteAllTextAsync(tampered, register.StdOut.Replace("Қазақ әдебиеті", "Қазақ әдебиетi", StringComparison.Ordinal));
        var rejected = await Cli.RunAsync(null, null, "verify-receipt", tampered, "--public-key", keyFile);
        Assert.Equal(1, rejected.ExitCode);
        Assert.StartsWith("INVALID receipt", rejected.StdOut, StringComparison.Ordinal);
    }

    private Task<(string Json, string Pem, string Id)> RegisterAsync() => Task.FromResult((fixture.Json, fixture.Pem, fixture.Id));
}

/// <summary>One registration shared by the table rows (each row tampers with its own copy of the text).</summary>
public sealed class ReceiptFixture : IAsyncLifetime
{
    private ServerFixture _server = null!;

    public string Json { get; private set; } = null!;

    public string Pem { get; private set; } = null!;

    public string Id { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerFixture.StartAsync();
        using var anonymous = RegistryClient.Create(_server.GrpcAddress);
        var (holder, _) = await NewHolderAsync(anonymous, "Tamper Holder");
        // A few events before and after, so the inclusion proof has several hashes on both sides.
        for (var i = 0; i < 5; i++)
        {
            await holder.CreateReservationAsync(Spec(Url($"https://tamper.example/pre-{i}.jpg")));
        }

        var response = await holder.CreateReservationAsync(Spec(Url("https://tamper.example/photo.jpg"), title: "Тест"));
        await holder.CreateReservationAsync(Spec(Url("https://tamper.example/after.jpg")));
        var receipt = await anonymous.GetReceiptAsync(response.Receipt.Event.Sequence);
        Json = ReceiptVerifier.ToJson(receipt);
        Pem = PublicKeyPem(_server);
        Id = response.Reservation.Id;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();
}
