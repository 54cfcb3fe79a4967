using System.Globalization;
using System.Text;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Tests.Infrastructure;

namespace OptOutRegistry.Storage.Tests.Conformance;

/// <summary>
/// PostgreSQL's bulk path: a batch with at least <c>PostgresBulkRowWriter.MinimumRows</c> rows of a table writes them by
/// binary COPY (reservations through a staging table). The conformance suite's batches are smaller, so these tests
/// run large mixed batches and require exactly what the row-by-row path stores for the same mutations: the same
/// events and leaf hashes, the same tree, the same rows, histories and search ranking.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresBulkCopyTests(PostgresServerFixture server)
{
    private static readonly string[] Titles =
    [
        "Войнá и мир", "Абай жолы", "Café Society", "Ёлка в лесу", "Қазақ әдебиеті", "Über Bücher", "river song", "Night Garden",
    ];

    /// <summary>1 ms per reading, from a fixed instant: two stores fed the same mutations stamp the same times.</summary>
    private sealed class SteppingClock : TimeProvider
    {
        private long _calls;

        public override DateTimeOffset GetUtcNow() =>
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMilliseconds(Interlocked.Increment(ref _calls));
    }

    private static EventDraft Event(string type, string id) => new("test", type, Encoding.UTF8.GetBytes(type + ":" + id));

    private static PutReservation Reservation(int i, ReservationState state = ReservationState.Active, string? title = null) =>
        new("r" + i.ToString(CultureInfo.InvariantCulture), i % 3 == 0 ? "h2" : "h1", state, null,
            i % 5 == 0 ? new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero) : null,
            new WorkMetadata(i % 11 == 0 ? null : title ?? Titles[i % Titles.Length] + " " + i.ToString(CultureInfo.InvariantCulture),
                i % 4 == 0 ? [] : ["Лев Толстой", "Zoë Martín"], ["isbn:" + i.ToString("D9", CultureInfo.InvariantCulture)], i % 2 == 0 ? "kk" : null),
            i % 7 == 0 ? null : "Publisher " + (i % 3).ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes("payload:" + i.ToString(CultureInfo.InvariantCulture)));

    /// <summary>
    /// ~1,100 mutations: a holder created inside the batch, creations in every state (non-Active ones have history
    /// rows), an amendment and a revocation of rows created earlier in the same batch (which flush the staged rows
    /// mid-batch, so the staging table is used twice), an amendment of a row stored before the batch, an idempotency key.
    /// </summary>
    private static List<Mutation> MixedBatch()
    {
        var batch = new List<Mutation> { new(Event("holder.created", "h2"), new CreateHolder("h2", "Второй правообладатель", null)) };
        for (var i = 0; i < 1100; i++)
        {
            var state = i % 10 == 9 ? ReservationState.Revoked : i % 10 == 8 ? ReservationState.Superseded : ReservationState.Active;
            batch.Add(new Mutation(Event("reservation.created", "r" + i), Reservation(i, state)));
            if (i == 400)
            {
                batch.Add(new Mutation(Event("reservation.amended", "r5"), Reservation(5, title: "Amended title")));
                batch.Add(new Mutation(Event("reservation.revoked", "r6"), new ChangeReservationState("r6", ReservationState.Revoked, [1, 2, 3])));
                batch.Add(new Mutation(Event("reservation.amended", "stored"),
                    new PutReservation("stored", "h1", ReservationState.Superseded, null, null, new WorkMetadata("Stored then amended", [], []), null, [9])));
            }
        }

        batch.Add(new Mutation(Event("reservation.created", "idem"),
            [new PutReservation("idem", "h1", ReservationState.Active, null, null, null, null, [7]), new RecordIdempotencyKey("h1", "key-1", "idem")]));
        return batch;
    }

    private async Task<PostgresRegistryStore> NewStoreAsync(string? connectionString = null)
    {
        var store = PostgresRegistryStore.Create(connectionString ?? await server.CreateDatabaseAsync(), new SteppingClock());
        await store.MigrateAsync();
        await store.AppendAsync(new Mutation(Event("holder.created", "h1"), new CreateHolder("h1", "Holder One", null)));
        await store.AppendAsync(new Mutation(Event("reservation.created", "stored"),
            new PutReservation("stored", "h1", ReservationState.Active, null, null, new WorkMetadata("Stored before", [], []), null, [8])));
        return store;
    }

    private static string Render(ReservationRecord r) =>
        string.Join('|', r.Id, r.HolderId, r.State, r.StateChangedAt.ToUnixTimeMilliseconds(), r.RegisteredAt.ToUnixTimeMilliseconds(),
            r.ValidFrom.ToUnixTimeMilliseconds(), r.ValidUntil?.ToUnixTimeMilliseconds(), r.Work.Title, string.Join(';', r.Work.Creators),
            string.Join(';', r.Work.Identifiers), r.Work.Language, r.HolderDisplayName, Convert.ToHexString(r.Payload), r.CreatedSequence, r.LastSequence);

    private static async Task<List<string>> DumpAsync(IRegistryStore store)
    {
        var dump = new List<string>();
        var (size, root, events) = await LogAudit.VerifyAsync(store);
        dump.Add($"tree {size} {Convert.ToHexString(root)}");
        dump.AddRange(events.Select(e => $"event {e.Sequence} {e.Time.ToUnixTimeMilliseconds()} {e.Actor} {e.Type} {Convert.ToHexString(e.LeafHash)}"));
        await foreach (var r in store.ReadAllReservationsAsync())
        {
            dump.Add(Render(r));
            foreach (var h in await store.GetReservationHistoryAsync(r.Id))
            {
                dump.Add($"  history {h.State} {h.At.ToUnixTimeMilliseconds()} {h.Sequence}");
            }
        }

        foreach (var query in new[] { "войн", "абаи", "cafe society", "ёлка", "қазақ", "uber", "толстои", "isbn 000000123", "второи", "amended", "publisher" })
        {
            foreach (var (activeOnly, limit) in new[] { (true, 20), (false, 1000) })
            {
                var hits = await store.SearchWorksAsync(query, limit, activeOnly);
                dump.Add($"search '{query}' {activeOnly}: " + string.Join(", ", hits.Select(h => $"{h.ReservationId} {h.State} {h.Rank:R}")));
            }
        }

        dump.Add("idempotency " + await store.FindIdempotencyKeyAsync("h1", "key-1"));
        return dump;
    }

    [Fact]
    public async Task MixedBatch_ThroughCopy_StoresExactlyWhatSmallBatchesStore()
    {
        var batch = MixedBatch();
        await using var bulk = await NewStoreAsync();
        await using var rowByRow = await NewStoreAsync();

        var bulkEvents = await bulk.AppendBatchAsync(batch);
        // Batches of 20 stay below the COPY threshold: multi-row INSERTs, as before the bulk path existed.
        var smallEvents = new List<CommittedEvent>();
        foreach (var chunk in batch.Chunk(20))
        {
            smallEvents.AddRange(await rowByRow.AppendBatchAsync(chunk));
        }

        Assert.Equal(batch.Count, bulkEvents.Count);
        Assert.Equal(Enumerable.Range(2, batch.Count).Select(i => (long)i), bulkEvents.Select(e => e.Sequence));
        Assert.Equal(smallEvents.Select(e => Convert.ToHexString(e.LeafHash)), bulkEvents.Select(e => Convert.ToHexString(e.LeafHash)));

        var expected = await DumpAsync(rowByRow);
        var actual = await DumpAsync(bulk);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i], actual[i]);
        }

        // The dump covered what the batch exercises: amended and revoked rows, history rows of non-Active creations.
        Assert.Contains(actual, line => line.StartsWith("r5|h1|Active|", StringComparison.Ordinal) && line.Contains("|Amended title|", StringComparison.Ordinal));
        Assert.Contains(actual, line => line.StartsWith("r6|h2|Revoked|", StringComparison.Ordinal));
        Assert.Contains(actual, line => line.StartsWith("stored|h1|Superseded|", StringComparison.Ordinal));
        Assert.Contains("idempotency idem", actual);
        Assert.True(actual.Count(line => line.StartsWith("  history Revoked", StringComparison.Ordinal)) >= 110);
    }

    [Fact]
    public async Task BulkBatch_OneMutationRefused_WritesNothingAndNamesIt()
    {
        await using var store = await NewStoreAsync();
        var batch = MixedBatch();
        batch.Insert(900, new Mutation(Event("reservation.revoked", "missing"), new ChangeReservationState("missing", ReservationState.Revoked)));

        var error = await Assert.ThrowsAsync<StoreException>(() => store.AppendBatchAsync(batch));

        Assert.Equal(900, error.MutationIndex);
        Assert.Equal(StoreErrorKind.NotFound, error.Kind);
        Assert.Equal(1, await store.GetLatestSequenceAsync());
        Assert.Null(await store.GetReservationAsync("r0"));
        Assert.Null(await store.GetHolderAsync("h2"));
        Assert.Empty(await store.SearchWorksAsync("cafe", 10, activeOnly: false));
        await LogAudit.VerifyAsync(store);
    }

    [Fact]
    public async Task TwoProcesses_BulkBatchesAtOnce_StayGaplessAndVerifiable()
    {
        var connectionString = await server.CreateDatabaseAsync();
        await using var first = await NewStoreAsync(connectionString);
        // A second store instance with its own connection pool stands for a second server process on the same database.
        await using var second = PostgresRegistryStore.Create(connectionString);

        var writers = new[] { first, second }.Select((store, s) => Task.Run(async () =>
        {
            for (var b = 0; b < 3; b++)
            {
                var batch = Enumerable.Range(0, 300)
                    .Select(i => new Mutation(Event("reservation.created", $"p{s}-{b}-{i}"),
                        new PutReservation($"p{s}-{b}-{i}", "h1", ReservationState.Active, null, null, new WorkMetadata("Parallel " + s, [], []), null, [(byte)s])))
                    .ToList();
                var committed = await store.AppendBatchAsync(batch);
                Assert.Equal(Enumerable.Range(0, 300).Select(i => committed[0].Sequence + i), committed.Select(e => e.Sequence));
            }
        })).ToArray();
        await Task.WhenAll(writers);

        var (size, _, events) = await LogAudit.VerifyAsync(first);
        Assert.Equal(2 + 1800, size);
        Assert.Equal(Enumerable.Range(0, (int)size).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(900, (await first.SearchWorksAsync("parallel 0", 1000, activeOnly: false)).Count);
        Assert.Equal(900, (await second.SearchWorksAsync("parallel 1", 1000, activeOnly: false)).Count);
    }
}
