using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Storage.Tests.Infrastructure;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Tests.Conformance;

/// <summary>
/// The one conformance suite (issue 4, item 4): every test here runs unchanged against SQLite and PostgreSQL and
/// must give the same results. Each test gets a fresh, migrated store.
/// </summary>
public abstract partial class RegistryStoreConformanceTests : IAsyncLifetime
{
    private IRegistryStore? _store;

    protected IRegistryStore Store => _store!;

    /// <summary>A new empty location (data directory or database).</summary>
    protected abstract Task<string> CreateLocationAsync();

    /// <summary>Opens a store at a location without migrating it.</summary>
    protected abstract Task<IRegistryStore> OpenAsync(string location);

    /// <summary>Migrates only up to <paramref name="version"/>.</summary>
    protected abstract Task MigrateToAsync(IRegistryStore store, int version);

    /// <summary>The schema version a fully migrated store reports (each store numbers its own migrations).</summary>
    protected abstract int LatestSchemaVersion { get; }

    public async Task InitializeAsync()
    {
        _store = await OpenAsync(await CreateLocationAsync());
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    // ---- helpers ----

    protected static EventDraft Event(string type, string body = "") => new("test", type, Encoding.UTF8.GetBytes(type + ":" + body));

    protected static PutReservation Reservation(string id, string holderId = "h1", string? title = null, string[]? creators = null,
        string? holderName = null, ReservationState state = ReservationState.Active, string[]? identifiers = null) =>
        new(id, holderId, state, null, null, new WorkMetadata(title ?? "Work " + id, creators ?? [], identifiers ?? []), holderName,
            Encoding.UTF8.GetBytes("payload:" + id));

    protected Task<CommittedEvent> CreateHolderAsync(string id = "h1", string name = "Holder One") =>
        Store.AppendAsync(new Mutation(Event("holder.created", id), new CreateHolder(id, name, "rights@example.org")));

    protected Task<CommittedEvent> RegisterAsync(PutReservation reservation) =>
        Store.AppendAsync(new Mutation(Event("reservation.created", reservation.ReservationId), reservation));

    // ---- schema ----

    [Fact]
    public async Task Migrate_RunTwice_IsIdempotentAndAtLatestVersion()
    {
        await Store.MigrateAsync();
        Assert.Equal(LatestSchemaVersion, await Store.GetSchemaVersionAsync());
        Assert.Equal(-1, await Store.GetLatestSequenceAsync());
    }

    [Fact]
    public async Task Migrate_DataCreatedAtVersion1_UpgradesInPlaceKeepingEverything()
    {
        var location = await CreateLocationAsync();
        await using (var old = await OpenAsync(location))
        {
            await MigrateToAsync(old, 1);
            Assert.Equal(1, await old.GetSchemaVersionAsync());
            await old.AppendAsync(new Mutation(Event("holder.created"), new CreateHolder("h1", "Old Holder", null)));
            await old.AppendAsync(new Mutation(Event("reservation.created"), Reservation("r1", title: "Старая запись")));
        }

        await using var upgraded = await OpenAsync(location);
        await upgraded.MigrateAsync();

        Assert.Equal(LatestSchemaVersion, await upgraded.GetSchemaVersionAsync());
        Assert.Equal("Old Holder", (await upgraded.GetHolderAsync("h1"))!.DisplayName);
        Assert.Equal("Старая запись", (await upgraded.GetReservationAsync("r1"))!.Work.Title);
        Assert.Single(await upgraded.SearchWorksAsync("старая", 10));
        // v2 features work on the upgraded data, and the log continues where it was.
        var e = await upgraded.AppendAsync(new Mutation(Event("reservation.created"), [Reservation("r2"), new RecordIdempotencyKey("h1", "k1", "r2")]));
        Assert.Equal(2, e.Sequence);
        Assert.Equal("r2", await upgraded.FindIdempotencyKeyAsync("h1", "k1"));
        await LogAudit.VerifyAsync(upgraded);
    }

    // ---- holders, keys, hosts ----

    [Fact]
    public async Task CreateHolder_ThenGet_ReturnsWhatWasStoredWithTheEventTime()
    {
        var e = await CreateHolderAsync("h1", "Издательство «Мектеп»");

        var holder = await Store.GetHolderAsync("h1");

        Assert.NotNull(holder);
        Assert.Equal("Издательство «Мектеп»", holder.DisplayName);
        Assert.Equal("rights@example.org", holder.ContactEmail);
        Assert.Equal(e.Time, holder.CreatedAt);
        Assert.Equal(e.Sequence, holder.CreatedSequence);
        Assert.Null(await Store.GetHolderAsync("nobody"));
    }

    [Fact]
    public async Task CreateHolder_Duplicate_IsConflictAndLogsNothing()
    {
        await CreateHolderAsync();

        var error = await Assert.ThrowsAsync<StoreException>(() => CreateHolderAsync());

        Assert.Equal(StoreErrorKind.Conflict, error.Kind);
        Assert.Equal("changes[0].holder_id", error.Field);
        Assert.Equal(0, await Store.GetLatestSequenceAsync());
    }

    [Fact]
    public async Task ApiKeys_AddFindListRevoke_StoreOnlyTheHash()
    {
        await CreateHolderAsync();
        var hash1 = SHA256.HashData("secret-one"u8);
        var hash2 = SHA256.HashData("secret-two"u8);
        await Store.AppendAsync(new Mutation(Event("key.added"), new AddApiKey("k1", "h1", hash1, "oor_ab12", "laptop")));
        await Store.AppendAsync(new Mutation(Event("key.added"), new AddApiKey("k2", "h1", hash2, "oor_cd34", null)));

        var found = await Store.FindApiKeyByHashAsync(hash1);
        Assert.NotNull(found);
        Assert.Equal(("k1", "h1", "oor_ab12", "laptop", true), (found.KeyId, found.HolderId, found.Prefix, found.Label, found.IsActive));
        Assert.Null(await Store.FindApiKeyByHashAsync(SHA256.HashData("wrong"u8)));

        await Store.AppendAsync(new Mutation(Event("key.revoked"), new RevokeApiKey("k1", "h1")));
        var keys = await Store.ListApiKeysAsync("h1");
        Assert.Equal(["k1", "k2"], keys.Select(k => k.KeyId));
        Assert.False(keys[0].IsActive);
        Assert.True(keys[1].IsActive);
    }

    [Fact]
    public async Task ApiKeys_InvalidReferences_AreRefusedWithTheirKind()
    {
        await CreateHolderAsync();
        var hash = SHA256.HashData("s"u8);
        await Store.AppendAsync(new Mutation(Event("key.added"), new AddApiKey("k1", "h1", hash, "p", null)));

        var unknownHolder = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("key.added"), new AddApiKey("k9", "ghost", SHA256.HashData("x"u8), "p", null))));
        var sameHash = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("key.added"), new AddApiKey("k2", "h1", hash, "p", null))));
        var revokeUnknown = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("key.revoked"), new RevokeApiKey("k1", "someone-else"))));

        Assert.Equal((StoreErrorKind.NotFound, "changes[0].holder_id"), (unknownHolder.Kind, unknownHolder.Field));
        Assert.Equal(StoreErrorKind.Conflict, sameHash.Kind);
        Assert.Equal(StoreErrorKind.NotFound, revokeUnknown.Kind);
        Assert.Equal(1, await Store.GetLatestSequenceAsync());
    }

    [Fact]
    public async Task VerifiedHosts_AddTwice_UpdatesMethodAndListsByHost()
    {
        await CreateHolderAsync("h1");
        await CreateHolderAsync("h2");
        await Store.AppendAsync(new Mutation(Event("host.verified"), new AddVerifiedHost("h1", "photos.example.com", "meta")));
        await Store.AppendAsync(new Mutation(Event("host.verified"), new AddVerifiedHost("h1", "example.com", "dns")));
        await Store.AppendAsync(new Mutation(Event("host.verified"), new AddVerifiedHost("h1", "photos.example.com", "well-known")));
        await Store.AppendAsync(new Mutation(Event("host.verified"), new AddVerifiedHost("h2", "example.kz", "dns")));

        var hosts = await Store.ListVerifiedHostsAsync("h1");
        var all = new List<VerifiedHostRecord>();
        await foreach (var h in Store.ReadAllVerifiedHostsAsync())
        {
            all.Add(h);
        }

        Assert.Equal([("example.com", "dns"), ("photos.example.com", "well-known")], hosts.Select(h => (h.Host, h.Method)));
        Assert.Equal(3, all.Count);
    }

    [Fact]
    public async Task VerificationChallenges_PutReplaceDelete_AreNotLogged()
    {
        var now = DateTimeOffset.Parse("2026-11-22T06:00:00Z");
        await Store.PutVerificationChallengeAsync(new VerificationChallenge("h1", "example.com", "tok-1", now, now.AddDays(1)));
        await Store.PutVerificationChallengeAsync(new VerificationChallenge("h1", "example.com", "tok-2", now, now.AddDays(2)));

        var challenge = await Store.GetVerificationChallengeAsync("h1", "example.com");

        Assert.Equal(("tok-2", now.AddDays(2)), (challenge!.Token, challenge.ExpiresAt));
        Assert.True(await Store.DeleteVerificationChallengeAsync("h1", "example.com"));
        Assert.False(await Store.DeleteVerificationChallengeAsync("h1", "example.com"));
        Assert.Null(await Store.GetVerificationChallengeAsync("h1", "example.com"));
        Assert.Equal(-1, await Store.GetLatestSequenceAsync());
    }

    // ---- reservations ----

    [Fact]
    public async Task PutReservation_New_StoresEveryFieldAndRegisteredAtIsTheServerTime()
    {
        await CreateHolderAsync();
        var validUntil = DateTimeOffset.Parse("2030-01-01T00:00:00Z");
        var put = new PutReservation("r1", "h1", ReservationState.Active, null, validUntil,
            new WorkMetadata("Қазақ әндері", ["Әміре Қашаубаев", "Ахмет Жұбанов"], ["isbn:9780306406157"], "kk"), "Қазақ баспасы",
            [1, 2, 3]);

        var e = await Store.AppendAsync(new Mutation(Event("reservation.created"), put));
        var r = await Store.GetReservationAsync("r1");

        Assert.NotNull(r);
        Assert.Equal(("h1", ReservationState.Active, e.Time, e.Time, e.Time, validUntil), (r.HolderId, r.State, r.RegisteredAt, r.ValidFrom, r.StateChangedAt, r.ValidUntil));
        Assert.Equal("Қазақ әндері", r.Work.Title);
        Assert.Equal(["Әміре Қашаубаев", "Ахмет Жұбанов"], r.Work.Creators);
        Assert.Equal(["isbn:9780306406157"], r.Work.Identifiers);
        Assert.Equal("kk", r.Work.Language);
        Assert.Equal("Қазақ баспасы", r.HolderDisplayName);
        Assert.Equal(new byte[] { 1, 2, 3 }, r.Payload);
        Assert.Equal((e.Sequence, e.Sequence), (r.CreatedSequence, r.LastSequence));
        Assert.Null(await Store.GetReservationAsync("r-missing"));
    }

    [Fact]
    public async Task PutReservation_Amend_KeepsRegistrationButReplacesContent()
    {
        await CreateHolderAsync("h1");
        await CreateHolderAsync("h2");
        var created = await RegisterAsync(Reservation("r1", title: "First title"));

        var amended = await Store.AppendAsync(new Mutation(Event("reservation.amended"), Reservation("r1", title: "Second title")));
        var wrongHolder = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("reservation.amended"), Reservation("r1", holderId: "h2"))));

        var r = (await Store.GetReservationAsync("r1"))!;
        Assert.Equal(("Second title", created.Time, created.Sequence, amended.Sequence), (r.Work.Title, r.RegisteredAt, r.CreatedSequence, r.LastSequence));
        Assert.Equal(StoreErrorKind.Conflict, wrongHolder.Kind);
        Assert.Empty(await Store.SearchWorksAsync("first", 10));
        Assert.Single(await Store.SearchWorksAsync("second", 10));
        Assert.Single(await Store.GetReservationHistoryAsync("r1"));
        var status = await Store.GetSearchIndexStatusAsync();
        Assert.Equal((amended.Sequence, amended.Sequence, 0L), (status.IndexedThrough, status.LatestSequence, status.Lag));
    }

    [Fact]
    public async Task ChangeState_RevokeThenSupersede_RecordsFullHistoryWithSequences()
    {
        await CreateHolderAsync();
        var created = await RegisterAsync(Reservation("r1"));

        var revoked = await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("r1", ReservationState.Revoked, [9])));
        var again = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("r1", ReservationState.Revoked))));
        var unknown = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("nope", ReservationState.Revoked))));
        var superseded = await Store.AppendAsync(new Mutation(Event("reservation.superseded"), new ChangeReservationState("r1", ReservationState.Superseded)));

        var history = await Store.GetReservationHistoryAsync("r1");
        Assert.Equal(
            [(ReservationState.Active, created.Sequence, created.Time), (ReservationState.Revoked, revoked.Sequence, revoked.Time),
                (ReservationState.Superseded, superseded.Sequence, superseded.Time)],
            history.Select(h => (h.State, h.Sequence, h.At)));
        var r = (await Store.GetReservationAsync("r1"))!;
        Assert.Equal((ReservationState.Superseded, superseded.Time, "09"), (r.State, r.StateChangedAt, Convert.ToHexString(r.Payload)));
        Assert.Equal((StoreErrorKind.Conflict, "changes[0].state"), (again.Kind, again.Field));
        Assert.Equal(StoreErrorKind.NotFound, unknown.Kind);
        Assert.Empty(await Store.GetReservationHistoryAsync("nope"));
    }

    [Theory]
    [InlineData(ReservationState.Superseded)]
    [InlineData(ReservationState.Revoked)]
    public async Task PutReservation_CreatedInAnotherStateThenActivated_HistoryStartsWithThatState(ReservationState initial)
    {
        await CreateHolderAsync();
        var created = await RegisterAsync(Reservation("r1", state: initial));
        var amended = await Store.AppendAsync(new Mutation(Event("reservation.amended"), Reservation("r1", state: ReservationState.Active)));
        var unchanged = await Store.AppendAsync(new Mutation(Event("reservation.amended"), Reservation("r1", title: "Same state")));

        var history = await Store.GetReservationHistoryAsync("r1");

        Assert.Equal(
            [(initial, created.Sequence, created.Time), (ReservationState.Active, amended.Sequence, amended.Time)],
            history.Select(h => (h.State, h.Sequence, h.At)));
        Assert.Equal(unchanged.Sequence, (await Store.GetReservationAsync("r1"))!.LastSequence);
    }

    [Fact]
    public async Task Mutation_WhoseLastChangeFails_WritesNoRowAndNoEvent()
    {
        await CreateHolderAsync();
        var mutation = new Mutation(Event("reservation.created"), [Reservation("r1"), new RevokeApiKey("no-such-key", "h1")]);

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.AppendAsync(mutation));
        var next = await RegisterAsync(Reservation("r2"));

        Assert.Equal((StoreErrorKind.NotFound, "changes[1].key_id"), (error.Kind, error.Field));
        Assert.Null(await Store.GetReservationAsync("r1"));
        Assert.Empty(await Store.GetReservationHistoryAsync("r1"));
        Assert.Equal(1, next.Sequence); // gapless: the failed mutation consumed no sequence number
        await LogAudit.VerifyAsync(Store);
    }

    [Fact]
    public async Task AppendBatch_AllValid_GetsContiguousSequencesInOrder()
    {
        await CreateHolderAsync();
        var batch = Enumerable.Range(0, 50).Select(i => new Mutation(Event("reservation.created", "b" + i), Reservation("b" + i))).ToList();

        var events = await Store.AppendBatchAsync(batch);

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(50, (await Store.ListReservationsByHolderAsync("h1", null, 100)).Items.Count);
        await LogAudit.VerifyAsync(Store);
    }

    [Fact]
    public async Task AppendBatch_CreateAmendAndRevokeInOneBatch_AppliesInOrder()
    {
        await CreateHolderAsync();

        var events = await Store.AppendBatchAsync(
        [
            new Mutation(Event("reservation.created"), Reservation("x", title: "One")),
            new Mutation(Event("reservation.created"), Reservation("y")),
            new Mutation(Event("reservation.amended"), Reservation("x", title: "Two")),
            new Mutation(Event("reservation.revoked"), new ChangeReservationState("y", ReservationState.Revoked)),
            new Mutation(Event("reservation.created"), Reservation("z")),
        ]);

        var x = (await Store.GetReservationAsync("x"))!;
        Assert.Equal(("Two", events[0].Sequence, events[2].Sequence, events[0].Time), (x.Work.Title, x.CreatedSequence, x.LastSequence, x.RegisteredAt));
        Assert.Equal(
            [(ReservationState.Active, events[1].Sequence), (ReservationState.Revoked, events[3].Sequence)],
            (await Store.GetReservationHistoryAsync("y")).Select(h => (h.State, h.Sequence)));
        Assert.NotNull(await Store.GetReservationAsync("z"));
        Assert.Equal(["x"], (await Store.SearchWorksAsync("two", 10)).Select(h => h.ReservationId));
        await LogAudit.VerifyAsync(Store);
    }

    [Fact]
    public async Task AppendBatch_OneRefused_WritesNothingAndNamesTheMutation()
    {
        await CreateHolderAsync();
        var batch = new List<Mutation>
        {
            new(Event("reservation.created"), Reservation("a")),
            new(Event("reservation.created"), Reservation("b")),
            new(Event("reservation.created"), Reservation("c", holderId: "ghost")),
            new(Event("reservation.created"), Reservation("d")),
        };

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.AppendBatchAsync(batch));

        Assert.Equal((2, StoreErrorKind.NotFound), (error.MutationIndex, error.Kind));
        Assert.Null(await Store.GetReservationAsync("a"));
        Assert.Equal(0, await Store.GetLatestSequenceAsync());
    }

    [Fact]
    public async Task IdempotencyKey_Reused_IsConflictAndTheRetryCreatesNothing()
    {
        await CreateHolderAsync();
        await Store.AppendAsync(new Mutation(Event("reservation.created"), [Reservation("r1"), new RecordIdempotencyKey("h1", "import-7", "r1")]));

        var retry = await Assert.ThrowsAsync<StoreException>(() =>
            Store.AppendAsync(new Mutation(Event("reservation.created"), [Reservation("r1-dup"), new RecordIdempotencyKey("h1", "import-7", "r1-dup")])));

        Assert.Equal("r1", await Store.FindIdempotencyKeyAsync("h1", "import-7"));
        Assert.Null(await Store.FindIdempotencyKeyAsync("h2", "import-7"));
        Assert.Equal((StoreErrorKind.Conflict, "changes[1].key"), (retry.Kind, retry.Field));
        Assert.Null(await Store.GetReservationAsync("r1-dup"));
    }

    [Fact]
    public async Task ListByHolder_Paged_ReturnsEveryReservationOnceInRegistrationOrder()
    {
        await CreateHolderAsync("h1");
        await CreateHolderAsync("h2");
        var batch = new List<Mutation>();
        for (var i = 0; i < 30; i++)
        {
            batch.Add(new Mutation(Event("reservation.created"), Reservation($"r{i:D2}", holderId: i % 6 == 5 ? "h2" : "h1")));
        }

        await Store.AppendBatchAsync(batch);

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await Store.ListReservationsByHolderAsync("h1", token, 10);
            seen.AddRange(page.Items.Select(r => r.Id));
            token = page.NextPageToken;
            pages++;
        }
        while (token is not null);

        Assert.Equal(Enumerable.Range(0, 30).Where(i => i % 6 != 5).Select(i => $"r{i:D2}"), seen);
        Assert.Equal(3, pages);
        Assert.Throws<ArgumentException>(() => Store.ListReservationsByHolderAsync("h1", "garbage", 10).GetAwaiter().GetResult());
        Assert.Throws<ArgumentOutOfRangeException>(() => Store.ListReservationsByHolderAsync("h1", null, 0).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task ReadAllReservations_StreamsEveryStateInRegistrationOrder()
    {
        await CreateHolderAsync();
        await Store.AppendBatchAsync(Enumerable.Range(0, 20).Select(i => new Mutation(Event("reservation.created"), Reservation($"r{i:D2}"))).ToList());
        await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("r03", ReservationState.Revoked)));

        var all = new List<ReservationRecord>();
        await foreach (var r in Store.ReadAllReservationsAsync())
        {
            all.Add(r);
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"r{i:D2}"), all.Select(r => r.Id));
        Assert.Equal(ReservationState.Revoked, all[3].State);
    }

    // ---- validation ----

    public static TheoryData<string, string> InvalidChanges => new()
    {
        { "control", "changes[0].work.title" },
        { "empty-id", "changes[0].reservation_id" },
        { "valid-until", "changes[0].valid_until" },
        { "key-hash", "changes[0].key_hash" },
        { "payload", "changes[0].payload" },
        { "creators", "changes[0].work.creators[1]" },
        { "actor", "event.actor" },
    };

    [Theory]
    [MemberData(nameof(InvalidChanges))]
    public async Task Append_InvalidInput_IsRefusedNamingTheFieldAndStoresNothing(string kind, string field)
    {
        await CreateHolderAsync();
        var from = DateTimeOffset.Parse("2027-01-01T00:00:00Z");
        var mutation = kind switch
        {
            "control" => new Mutation(Event("x"), Reservation("r1", title: "bad\0title")),
            "empty-id" => new Mutation(Event("x"), Reservation(" ")),
            "valid-until" => new Mutation(Event("x"), Reservation("r1") with { ValidFrom = from, ValidUntil = from.AddDays(-1) }),
            "key-hash" => new Mutation(Event("x"), new AddApiKey("k", "h1", [1, 2, 3], "p", null)),
            "payload" => new Mutation(Event("x"), Reservation("r1") with { Payload = new byte[(1 << 20) + 1] }),
            "creators" => new Mutation(Event("x"), Reservation("r1", creators: ["ok", "bad\u001Fsep"])),
            _ => new Mutation(new EventDraft("", "x", []), Reservation("r1")),
        };

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.AppendAsync(mutation));

        Assert.Equal((StoreErrorKind.Invalid, field), (error.Kind, error.Field));
        Assert.Equal(0, await Store.GetLatestSequenceAsync());
    }

    // ---- batched lookups (bulk import) ----

    [Fact]
    public async Task FindIdempotencyKeys_ManyKeysAcrossChunks_ReturnsOnlyThisHoldersRecordedKeys()
    {
        await CreateHolderAsync("h1");
        await CreateHolderAsync("h2");
        var batch = new List<Mutation>();
        for (var i = 0; i < 700; i++)
        {
            batch.Add(new Mutation(Event("reservation.created"), [Reservation($"r{i}"), new RecordIdempotencyKey("h1", $"key-{i}", $"r{i}")]));
        }

        batch.Add(new Mutation(Event("reservation.created"), [Reservation("other", "h2"), new RecordIdempotencyKey("h2", "key-5", "other")]));
        await Store.AppendBatchAsync(batch);
        // 1,200 asked (more than one IN list): the even keys below 700 were used by h1, the rest never; key-5 by both.
        var asked = Enumerable.Range(0, 1200).Select(i => $"key-{i * 2}").Append("key-5").ToList();

        var found = await Store.FindIdempotencyKeysAsync("h1", asked);
        var records = await Store.GetReservationsAsync([.. found.Values, "no-such-reservation"]);

        Assert.Equal(351, found.Count); // 350 even keys below 700, and key-5
        Assert.All(found, pair => Assert.Equal("r" + pair.Key["key-".Length..], pair.Value));
        Assert.Equal("r5", (await Store.FindIdempotencyKeysAsync("h1", ["key-5"]))["key-5"]);
        Assert.Equal("other", (await Store.FindIdempotencyKeysAsync("h2", asked))["key-5"]);
        Assert.Empty(await Store.FindIdempotencyKeysAsync("h1", []));
        Assert.Equal(found.Values.Order(StringComparer.Ordinal), records.Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.All(records, r => Assert.Equal("payload:" + r.Id, Encoding.UTF8.GetString(r.Payload)));
    }

    // ---- search ----

    private async Task SeedSearchCorpusAsync()
    {
        await CreateHolderAsync();
        await Store.AppendBatchAsync(
        [
            new Mutation(Event("reservation.created"), Reservation("cafe", title: "Café de Flore", creators: ["Jean Dupont"])),
            new Mutation(Event("reservation.created"), Reservation("abai", title: "Абай жолы", creators: ["Мұхтар Әуезов"], holderName: "Қазақ баспасы")),
            new Mutation(Event("reservation.created"), Reservation("elka", title: "Ёлка в лесу", creators: ["Лев Толстой"])),
            new Mutation(Event("reservation.created"), Reservation("holder-only", title: "Untitled", holderName: "Flore Archive")),
            new Mutation(Event("reservation.created"), Reservation("isbn", title: "Numbers", identifiers: ["isbn:9780306406157"])),
            new Mutation(Event("reservation.created"), Reservation("gone", title: "Café revoked")),
        ]);
        await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("gone", ReservationState.Revoked)));
    }

    public static TheoryData<string, string[]> SearchCases => new()
    {
        { "cafe", ["cafe"] },
        { "CAFÉ flore", ["cafe"] },
        { "flore", ["cafe", "holder-only"] },
        { "елка", ["elka"] },
        { "ЁЛКА", ["elka"] },
        { "лесу ёлка", ["elka"] },
        { "толст", ["elka"] },
        { "ӘУЕЗОВ", ["abai"] },
        { "абай", ["abai"] },
        { "қазақ", ["abai"] },
        { "9780306406157", ["isbn"] },
        { "dupont jean", ["cafe"] },
        { "nothing-like-this", [] },
        { "  !!  ", [] },
    };

    [Theory]
    [MemberData(nameof(SearchCases))]
    public async Task SearchWorks_CaseAccentAndScriptInsensitive_RanksTitleMatchesFirst(string query, string[] expectedIds)
    {
        await SeedSearchCorpusAsync();

        var hits = await Store.SearchWorksAsync(query, 10);

        Assert.Equal(expectedIds, hits.Select(h => h.ReservationId));
    }

    [Fact]
    public async Task SearchWorks_IncludingInactive_FindsRevokedWithItsState()
    {
        await SeedSearchCorpusAsync();

        var hits = await Store.SearchWorksAsync("revoked", 10, activeOnly: false);

        Assert.Equal([("gone", ReservationState.Revoked)], hits.Select(h => (h.ReservationId, h.State)));
    }

    /// <summary>
    /// 30 equally ranked works (ties go to the earliest), the first <paramref name="revoked"/> of them revoked: the
    /// active-only answer must skip however many of the best matches are revoked, as a user paging through results
    /// would expect, whichever way the store ranks internally.
    /// </summary>
    [Theory]
    [InlineData(2, 0)]
    [InlineData(2, 7)]
    [InlineData(2, 9)]
    [InlineData(5, 26)]
    [InlineData(5, 30)]
    [InlineData(10, 21)]
    public async Task SearchWorks_ActiveOnly_SkipsRevokedBestMatches(int limit, int revoked)
    {
        await CreateHolderAsync();
        var works = new List<Mutation>();
        for (var i = 0; i < 30; i++)
        {
            works.Add(new Mutation(Event("reservation.created"), Reservation($"w{i:D2}", title: "Lantern harbour")));
        }

        await Store.AppendBatchAsync(works);
        for (var i = 0; i < revoked; i++)
        {
            await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState($"w{i:D2}", ReservationState.Revoked)));
        }

        var hits = await Store.SearchWorksAsync("lantern", limit);
        var all = await Store.SearchWorksAsync("lantern", limit, activeOnly: false);

        var expected = Enumerable.Range(revoked, Math.Min(limit, 30 - revoked)).Select(i => $"w{i:D2}");
        Assert.Equal(expected, hits.Select(h => h.ReservationId));
        Assert.Equal(Enumerable.Range(0, limit).Select(i => $"w{i:D2}"), all.Select(h => h.ReservationId));
    }

    // ---- event log and transparency ----

    [Fact]
    public async Task Events_AreGaplessFromZeroWithNonDecreasingTimesAndValidLeafHashes()
    {
        await CreateHolderAsync();
        for (var i = 0; i < 10; i++)
        {
            await RegisterAsync(Reservation("r" + i));
        }

        var (size, _, events) = await LogAudit.VerifyAsync(Store);
        var middle = await Store.ReadEventsAsync(4, 3);

        Assert.Equal(11, size);
        Assert.Equal([4L, 5L, 6L], middle.Select(e => e.Sequence));
        Assert.Equal("reservation.created", middle[0].Type);
        Assert.Equal("reservation.created:r3"u8.ToArray(), middle[0].Payload);
        for (var i = 1; i < events.Count; i++)
        {
            Assert.True(events[i].Time >= events[i - 1].Time);
        }
    }

    [Fact]
    public async Task TransparencyLog_RootsAndProofsAtEverySize_MatchAnIndependentTreeAndVerify()
    {
        await CreateHolderAsync();
        for (var i = 0; i < 12; i++)
        {
            await RegisterAsync(Reservation("s" + i));
        }

        await Store.AppendBatchAsync(Enumerable.Range(0, 24).Select(i => new Mutation(Event("reservation.created"), Reservation("b" + i))).ToList());

        var (size, root, events) = await LogAudit.VerifyAsync(Store);
        var reference = new InMemoryMerkleTree();
        var roots = new List<byte[]> { reference.Root };
        foreach (var e in events)
        {
            reference.AppendLeafHash(e.LeafHash);
            roots.Add(reference.Root);
        }

        Assert.Equal(37, size);
        for (var n = 1; n <= size; n++)
        {
            Assert.Equal(Convert.ToHexStringLower(roots[n]), Convert.ToHexStringLower(await Store.GetRootAsync(n)));
            foreach (var leaf in new long[] { 0, n / 2, n - 1 })
            {
                var proof = await Store.GetInclusionProofAsync(leaf, n);
                Assert.True(MerkleVerifier.VerifyInclusion(leaf, n, events[(int)leaf].LeafHash, proof, roots[n]), $"inclusion {leaf} in {n}");
            }

            foreach (var m in new long[] { 1, n / 2 + 1, n })
            {
                if (m <= n)
                {
                    var proof = await Store.GetConsistencyProofAsync(m, n);
                    Assert.Equal(reference.ConsistencyProof(m, n).Select(Convert.ToHexStringLower), proof.Select(Convert.ToHexStringLower));
                    Assert.True(MerkleVerifier.VerifyConsistency(m, n, roots[(int)m], roots[n], proof), $"consistency {m}→{n}");
                }
            }
        }

        Assert.Equal(MerkleHash.EmptyRoot.ToArray(), await Store.GetRootAsync(0));
        Assert.Equal(root, (await Store.GetTreeHeadAsync()).RootHash);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.GetRootAsync(size + 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.GetInclusionProofAsync(0, size + 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.GetInclusionProofAsync(size, size));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.GetConsistencyProofAsync(0, size));
    }

    [Fact]
    public async Task TailEvents_FromZero_DeliversStoredThenNewEventsPromptly()
    {
        await CreateHolderAsync();
        await RegisterAsync(Reservation("before"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new List<CommittedEvent>();
        var gotFive = new TaskCompletionSource();
        var tail = Task.Run(async () =>
        {
            await foreach (var e in Store.TailEventsAsync(0, cts.Token))
            {
                lock (received)
                {
                    received.Add(e);
                    if (received.Count == 5)
                    {
                        gotFive.TrySetResult();
                    }
                }
            }
        });

        await Task.Delay(300);
        var started = DateTime.UtcNow;
        for (var i = 0; i < 3; i++)
        {
            await RegisterAsync(Reservation("after" + i));
        }

        await gotFive.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var delay = DateTime.UtcNow - started;
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tail);

        Assert.Equal([0L, 1, 2, 3, 4], received.Select(e => e.Sequence));
        Assert.True(delay < TimeSpan.FromSeconds(5), $"tail delay {delay}");
    }

    [Fact]
    public async Task ConcurrentAppends_FromManyTasks_AreSerialisedWithoutGaps()
    {
        await CreateHolderAsync();

        var tasks = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            var sequences = new List<long>();
            for (var i = 0; i < 20; i++)
            {
                sequences.Add((await RegisterAsync(Reservation($"t{t}-{i}"))).Sequence);
            }

            return sequences;
        })).ToArray();
        var all = (await Task.WhenAll(tasks)).SelectMany(s => s).Order().ToList();

        Assert.Equal(Enumerable.Range(1, 160).Select(i => (long)i), all);
        await LogAudit.VerifyAsync(Store);
    }
}
