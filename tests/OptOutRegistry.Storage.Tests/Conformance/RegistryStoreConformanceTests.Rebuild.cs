using System.Text;

namespace OptOutRegistry.Storage.Tests.Conformance;

/// <summary>The matcher rebuild's compact read (<see cref="IRegistryStore.ReadReservationPayloadsAsync"/>), on both stores.</summary>
public abstract partial class RegistryStoreConformanceTests
{
    private async Task<(List<string> Payloads, long AsOf)> ReadPayloadsAsync(Action<int>? onRow = null)
    {
        var payloads = new List<string>();
        var asOf = await Store.ReadReservationPayloadsAsync(p =>
        {
            payloads.Add(Encoding.UTF8.GetString(p));
            onRow?.Invoke(payloads.Count);
        });
        return (payloads, asOf);
    }

    [Fact]
    public async Task ReadReservationPayloadSpans_SamePayloadsAndAsOfAsTheArrayRead()
    {
        await CreateHolderAsync();
        await Store.AppendBatchAsync([.. Enumerable.Range(0, 300).Select(i => new Mutation(Event("reservation.created", "s" + i), Reservation("s" + i)))]);
        await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("s7", ReservationState.Revoked, Encoding.UTF8.GetBytes("revoked:s7"))));
        // An empty payload is a payload too (validation allows it): an empty span, not a skipped row.
        await RegisterAsync(Reservation("empty") with { Payload = [] });

        var (expected, expectedAsOf) = await ReadPayloadsAsync();
        var spans = new List<string>();
        var state = new object();
        var asOf = await Store.ReadReservationPayloadSpansAsync(
            (payload, s) =>
            {
                Assert.Same(state, s);
                spans.Add(Encoding.UTF8.GetString(payload));
            },
            state);

        Assert.Equal(301, spans.Count);
        Assert.Equal(expected, spans);
        Assert.Equal("revoked:s7", spans[7]);
        Assert.Equal(string.Empty, spans[^1]);
        Assert.Equal(expectedAsOf, asOf);
    }

    [Fact]
    public async Task ReadReservationPayloads_EmptyLog_NothingAndMinusOne()
    {
        var (payloads, asOf) = await ReadPayloadsAsync();
        Assert.Empty(payloads);
        Assert.Equal(-1, asOf);
    }

    [Fact]
    public async Task ReadReservationPayloads_CurrentPayloadOfEveryStateInRegistrationOrder_AsOfTheHead()
    {
        await CreateHolderAsync();
        await CreateHolderAsync("h2", "Holder Two");
        // Ids out of alphabetical order: the order is registration (created_seq), not the id.
        await RegisterAsync(Reservation("zeta"));
        await Store.AppendBatchAsync(
        [
            new Mutation(Event("reservation.created", "alpha"), Reservation("alpha", "h2")),
            new Mutation(Event("reservation.created", "mid"), Reservation("mid")),
        ]);
        await Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("alpha", ReservationState.Revoked, Encoding.UTF8.GetBytes("revoked:alpha"))));
        // An amendment replaces the row's payload in place; it keeps its place in the order.
        await RegisterAsync(Reservation("zeta") with { Payload = Encoding.UTF8.GetBytes("amended:zeta") });
        var last = await CreateHolderAsync("h3", "Holder Three");

        var (payloads, asOf) = await ReadPayloadsAsync();

        Assert.Equal(["amended:zeta", "revoked:alpha", "payload:mid"], payloads);
        Assert.Equal(last.Sequence, asOf);
    }

    [Fact]
    public async Task ReadReservationPayloads_AppendDuringTheRead_NotSeenAndNotCounted()
    {
        await CreateHolderAsync();
        for (var i = 0; i < 5; i++)
        {
            await RegisterAsync(Reservation("r" + i));
        }

        var head = await Store.GetLatestSequenceAsync();
        // Commits land between the first and the second row of the read: the read is one snapshot, so it neither returns
        // them nor reports a sequence that includes them (the matcher then tails them from asOf + 1, exactly once).
        var (payloads, asOf) = await ReadPayloadsAsync(row =>
        {
            if (row == 1)
            {
                RegisterAsync(Reservation("late")).GetAwaiter().GetResult();
                Store.AppendAsync(new Mutation(Event("reservation.revoked"), new ChangeReservationState("r3", ReservationState.Revoked, Encoding.UTF8.GetBytes("revoked:r3"))))
                    .GetAwaiter().GetResult();
            }
        });

        Assert.Equal(["payload:r0", "payload:r1", "payload:r2", "payload:r3", "payload:r4"], payloads);
        Assert.Equal(head, asOf);
        var (after, afterAsOf) = await ReadPayloadsAsync();
        Assert.Equal(["payload:r0", "payload:r1", "payload:r2", "revoked:r3", "payload:r4", "payload:late"], after);
        Assert.Equal(head + 2, afterAsOf);
    }

    [Fact]
    public async Task ReadReservationPayloads_Cancelled_StopsAndTheStoreStillReads()
    {
        await CreateHolderAsync();
        var batch = new List<Mutation>();
        for (var i = 0; i < 10_000; i++)
        {
            batch.Add(new Mutation(Event("reservation.created", "c" + i), Reservation("c" + i)));
        }

        await Store.AppendBatchAsync(batch);
        using var cancel = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.ReadReservationPayloadsAsync(
            _ =>
            {
                if (++seen == 10)
                {
                    cancel.Cancel();
                }
            },
            cancel.Token));
        Assert.True(seen < 10_000, $"the read went on to row {seen} after the cancellation");

        // The connection went back to the pool without a transaction left open: writes and reads go on.
        await RegisterAsync(Reservation("after"));
        var (payloads, _) = await ReadPayloadsAsync();
        Assert.Equal(10_001, payloads.Count);
        Assert.Equal("payload:after", payloads[^1]);
    }
}
