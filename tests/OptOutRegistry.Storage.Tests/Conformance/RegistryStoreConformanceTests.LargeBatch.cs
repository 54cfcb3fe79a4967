using System.Text;
using OptOutRegistry.Storage.Tests.Infrastructure;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Tests.Conformance;

/// <summary>
/// Batches large enough for the paths a bulk import takes (SQLite hashes the leaves of a batch of 256 or more on
/// another thread while it writes the rows): same log, same rows, same refusals as one mutation at a time.
/// </summary>
public abstract partial class RegistryStoreConformanceTests
{
    [Theory]
    [InlineData(255)]
    [InlineData(256)]
    [InlineData(1000)]
    public async Task LargeBatch_LogRowsAndProofsAsIfAppendedOneByOne(int count)
    {
        await CreateHolderAsync();
        await RegisterAsync(Reservation("before"));
        var batch = new List<Mutation>(count);
        for (var i = 0; i < count; i++)
        {
            batch.Add(new Mutation(Event("reservation.created", "big" + i), Reservation("big" + i, title: "Big work " + i, creators: ["Әлия", "Zoë"])));
        }

        // Inside the batch: an amendment of an earlier row of the same batch and a revocation of an older one.
        batch[count / 2] = new Mutation(Event("reservation.updated", "big1"), Reservation("big1", title: "Amended in the batch"));
        batch[count - 1] = new Mutation(Event("reservation.revoked", "before"), new ChangeReservationState("before", ReservationState.Revoked));

        var committed = await Store.AppendBatchAsync(batch);

        Assert.Equal(count, committed.Count);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(2 + i, committed[i].Sequence);
            Assert.Equal(batch[i].Event.Payload, committed[i].Payload);
            Assert.True(committed[i].HasValidLeafHash(), $"committed event {i}");
            Assert.True(i == 0 || committed[i].Time >= committed[i - 1].Time);
        }

        var (size, root, events) = await LogAudit.VerifyAsync(Store);
        Assert.Equal(2 + count, size);
        Assert.Equal(committed.Select(e => Convert.ToHexStringLower(e.LeafHash)), events.Skip(2).Select(e => Convert.ToHexStringLower(e.LeafHash)));
        foreach (var leaf in new long[] { 0, 1, 2, size / 2, size - 1 })
        {
            var proof = await Store.GetInclusionProofAsync(leaf, size);
            Assert.True(MerkleVerifier.VerifyInclusion(leaf, size, events[(int)leaf].LeafHash, proof, root), $"inclusion {leaf}");
        }

        var old = await Store.GetRootAsync(2);
        var consistency = await Store.GetConsistencyProofAsync(2, size);
        Assert.True(MerkleVerifier.VerifyConsistency(2, size, old, root, consistency));

        var amended = await Store.GetReservationAsync("big1");
        Assert.Equal("Amended in the batch", amended!.Work.Title);
        Assert.Equal(["Әлия", "Zoë"], (await Store.GetReservationAsync("big2"))!.Work.Creators);
        Assert.Equal(ReservationState.Revoked, (await Store.GetReservationAsync("before"))!.State);
        Assert.Equal(2 + count / 2, amended.LastSequence);
        var page = await Store.ListReservationsByHolderAsync("h1", null, 1000);
        Assert.Equal(count - 1, page.Items.Count); // "before" + count - 2 new rows (one slot amended, one revoked an old row)
    }

    [Fact]
    public async Task LargeBatch_OneMutationRefused_WritesNothingNamesItAndTheNextBatchContinuesTheLog()
    {
        await CreateHolderAsync();
        var batch = new List<Mutation>();
        for (var i = 0; i < 600; i++)
        {
            batch.Add(new Mutation(Event("reservation.created", "x" + i), Reservation("x" + i)));
        }

        batch[450] = new Mutation(Event("reservation.revoked", "missing"), new ChangeReservationState("missing", ReservationState.Revoked));

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.AppendBatchAsync(batch));

        Assert.Equal((450, StoreErrorKind.NotFound), (error.MutationIndex, error.Kind));
        Assert.Equal(0, await Store.GetLatestSequenceAsync());
        Assert.Null(await Store.GetReservationAsync("x0"));
        Assert.Empty((await Store.ListReservationsByHolderAsync("h1", null, 10)).Items);

        batch.RemoveAt(450);
        var committed = await Store.AppendBatchAsync(batch);
        Assert.Equal(1, committed[0].Sequence);
        Assert.Equal(599, committed[^1].Sequence);
        var (size, _, _) = await LogAudit.VerifyAsync(Store);
        Assert.Equal(600, size);
        Assert.Equal(Encoding.UTF8.GetBytes("payload:x599"), (await Store.GetReservationAsync("x599"))!.Payload);
    }
}
