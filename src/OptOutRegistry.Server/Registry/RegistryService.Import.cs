using System.Threading.Channels;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Server.Mapping;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Registry;

public sealed partial class RegistryService
{
    /// <summary>
    /// ImportReservations: items are read ahead into a bounded channel and committed in batches of whatever has arrived
    /// (up to <see cref="RegistryOptions.ImportBatchSize"/>) in ONE transaction each, which is what makes 100,000 items
    /// take seconds, not minutes. Every item gets exactly one answer, in input order. An idempotency key already used by
    /// the holder (in an earlier call, or earlier in this one) answers DUPLICATE with the first result, so a retried
    /// import creates nothing twice. An invalid item answers REJECTED with the field and the reason and changes nothing.
    /// </summary>
    public Task ImportReservations(IAsyncStreamReader<Pb.ImportReservationsRequest> requests, IServerStreamWriter<Pb.ImportReservationsResponse> responses,
        ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireHolderAsync(context).ConfigureAwait(false);
        var ct = context.CancellationToken;
        var holder = await _store.GetHolderAsync(caller.HolderId!, ct).ConfigureAwait(false)
            ?? throw new RpcException(CallerResolver.InvalidKeyStatus);
        var session = new ImportSession(holder, await LoadVerifiedHostsAsync(holder.Id, ct).ConfigureAwait(false),
            await GetPublicContactAsync(holder, ct).ConfigureAwait(false), caller);

        var channel = Channel.CreateBounded<Pb.ImportReservationsRequest>(new BoundedChannelOptions(Math.Max(4 * _options.ImportBatchSize, 1024))
        {
            SingleReader = true,
            SingleWriter = true,
        });
        var pump = PumpAsync(requests, channel.Writer, ct);
        var batch = new List<Pb.ImportReservationsRequest>(_options.ImportBatchSize);
        while (await channel.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.ImportBatchSize && channel.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            foreach (var result in await ImportBatchAsync(session, batch, ct).ConfigureAwait(false))
            {
                await responses.WriteAsync(result, ct).ConfigureAwait(false);
            }
        }

        await pump.ConfigureAwait(false);
        RegistryLog.ImportFinished(_log, holder.Id, session.Created, session.Duplicates, session.Rejected);
        return true;
    });

    private static async Task PumpAsync(IAsyncStreamReader<Pb.ImportReservationsRequest> requests, ChannelWriter<Pb.ImportReservationsRequest> writer, CancellationToken ct)
    {
        try
        {
            while (await requests.MoveNext(ct).ConfigureAwait(false))
            {
                await writer.WriteAsync(requests.Current, ct).ConfigureAwait(false);
            }

            writer.Complete();
        }
        catch (Exception ex)
        {
            writer.Complete(ex);
        }
    }

    private async Task<Pb.ImportReservationsResponse[]> ImportBatchAsync(ImportSession session, List<Pb.ImportReservationsRequest> batch, CancellationToken ct)
    {
        var results = new Pb.ImportReservationsResponse[batch.Count];
        var duplicateOf = new int[batch.Count];
        var pending = new List<(int Index, Mutation Mutation, string ReservationId, string? Key)>(batch.Count);
        var keysInBatch = new Dictionary<string, int>(StringComparer.Ordinal);
        var earlier = await FindEarlierImportsAsync(session.Holder.Id, batch, ct).ConfigureAwait(false);
        var now = Now();
        for (var i = 0; i < batch.Count; i++)
        {
            var item = batch[i];
            duplicateOf[i] = -1;
            results[i] = new Pb.ImportReservationsResponse { ClientReference = item.ClientReference ?? string.Empty };
            try
            {
                var key = ValidateIdempotencyKey(item.IdempotencyKey, "idempotency_key");
                if (key is not null)
                {
                    if (keysInBatch.TryGetValue(key, out var first))
                    {
                        duplicateOf[i] = first;
                        continue;
                    }

                    if (earlier.TryGetValue(key, out var existing))
                    {
                        MarkDuplicate(results[i], existing);
                        continue;
                    }
                }

                var spec = ReservationSpecValidator.Validate(item.Spec, now);
                var reservation = BuildReservation(ApiKeys.NewId("rsv_", now), session.Holder, session.PublicContact, spec, now, session.VerifiedHosts, "spec");
                pending.Add((i, CreationMutation(reservation, session.Caller, key), reservation.Id, key));
                if (key is not null)
                {
                    keysInBatch[key] = i;
                }
            }
            catch (ModelValidationException ex)
            {
                Reject(results[i], ex.Message);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.PermissionDenied)
            {
                Reject(results[i], ex.Status.Detail);
            }
        }

        while (pending.Count > 0)
        {
            try
            {
                var mutations = new Mutation[pending.Count];
                for (var j = 0; j < mutations.Length; j++)
                {
                    mutations[j] = pending[j].Mutation;
                }

                var committed = await _store.AppendBatchAsync(mutations, ct).ConfigureAwait(false);
                for (var j = 0; j < committed.Count; j++)
                {
                    var r = results[pending[j].Index];
                    r.Outcome = Pb.ImportOutcome.Created;
                    r.ReservationId = pending[j].ReservationId;
                    r.Sequence = committed[j].Sequence;
                }

                break;
            }
            catch (StoreException ex) when (ex.MutationIndex >= 0 || pending.Count == 1)
            {
                // One item was refused and the whole transaction rolled back: answer that item and commit the rest.
                var j = Math.Max(ex.MutationIndex, 0);
                var (index, _, _, key) = pending[j];
                pending.RemoveAt(j);
                if (ex.Kind == StoreErrorKind.Conflict && key is not null
                    && await FindByIdempotencyKeyAsync(session.Holder.Id, key, ct).ConfigureAwait(false) is { } raced)
                {
                    MarkDuplicate(results[index], raced);
                }
                else
                {
                    Reject(results[index], ex.Field + ": " + ex.Reason);
                }
            }
        }

        for (var i = 0; i < batch.Count; i++)
        {
            if (duplicateOf[i] >= 0)
            {
                var first = results[duplicateOf[i]];
                var r = results[i];
                if (first.Outcome == Pb.ImportOutcome.Rejected)
                {
                    Reject(r, first.Error);
                    continue;
                }

                r.Outcome = Pb.ImportOutcome.Duplicate;
                r.ReservationId = first.ReservationId;
                r.Sequence = first.Sequence;
            }

            switch (results[i].Outcome)
            {
                case Pb.ImportOutcome.Created: session.Created++; break;
                case Pb.ImportOutcome.Duplicate: session.Duplicates++; break;
                default: session.Rejected++; break;
            }
        }

        return results;
    }

    /// <summary>
    /// The reservations earlier calls created for this batch's idempotency keys: two batched queries per batch, not one
    /// lookup per item. Keys that fail validation are left to the per-item loop, which rejects them.
    /// </summary>
    private async Task<Dictionary<string, ReservationRecord>> FindEarlierImportsAsync(
        string holderId, List<Pb.ImportReservationsRequest> batch, CancellationToken ct)
    {
        var byKey = new Dictionary<string, ReservationRecord>(StringComparer.Ordinal);
        var keys = new List<string>(batch.Count);
        foreach (var item in batch)
        {
            try
            {
                if (ValidateIdempotencyKey(item.IdempotencyKey, "idempotency_key") is { } key)
                {
                    keys.Add(key);
                }
            }
            catch (ModelValidationException)
            {
                // Answered per item below.
            }
        }

        if (keys.Count == 0)
        {
            return byKey;
        }

        var resultIds = await _store.FindIdempotencyKeysAsync(holderId, keys, ct).ConfigureAwait(false);
        if (resultIds.Count == 0)
        {
            return byKey;
        }

        var ids = new List<string>(resultIds.Count);
        foreach (var id in resultIds.Values)
        {
            ids.Add(id);
        }

        var byId = new Dictionary<string, ReservationRecord>(StringComparer.Ordinal);
        foreach (var record in await _store.GetReservationsAsync(ids, ct).ConfigureAwait(false))
        {
            byId[record.Id] = record;
        }

        foreach (var (key, id) in resultIds)
        {
            if (byId.TryGetValue(id, out var record))
            {
                byKey[key] = record;
            }
        }

        return byKey;
    }

    private static void MarkDuplicate(Pb.ImportReservationsResponse response, ReservationRecord existing)
    {
        response.Outcome = Pb.ImportOutcome.Duplicate;
        response.ReservationId = existing.Id;
        response.Sequence = existing.CreatedSequence;
    }

    private static void Reject(Pb.ImportReservationsResponse response, string error)
    {
        response.Outcome = Pb.ImportOutcome.Rejected;
        response.Error = error;
        response.ReservationId = string.Empty;
        response.Sequence = 0;
    }

    private sealed class ImportSession(HolderRecord holder, IReadOnlySet<string> verifiedHosts, string publicContact, Caller caller)
    {
        public HolderRecord Holder { get; } = holder;

        public IReadOnlySet<string> VerifiedHosts { get; } = verifiedHosts;

        public string PublicContact { get; } = publicContact;

        public Caller Caller { get; } = caller;

        public int Created { get; set; }

        public int Duplicates { get; set; }

        public int Rejected { get; set; }
    }
}
