using Google.Protobuf;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Server.Mapping;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;
using StoreWork = OptOutRegistry.Storage.WorkMetadata;

namespace OptOutRegistry.Server.Registry;

public sealed partial class RegistryService
{
    /// <summary>CreateReservation.</summary>
    public Task<Pb.ReservationResponse> CreateReservation(Pb.CreateReservationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireHolderAsync(context).ConfigureAwait(false);
        var ct = context.CancellationToken;
        var key = ValidateIdempotencyKey(request.IdempotencyKey, "idempotency_key");
        if (key is not null && await FindByIdempotencyKeyAsync(caller.HolderId!, key, ct).ConfigureAwait(false) is { } earlier)
        {
            return await RespondWithCreatedAsync(earlier, ct).ConfigureAwait(false);
        }

        var holder = await _store.GetHolderAsync(caller.HolderId!, ct).ConfigureAwait(false)
            ?? throw new RpcException(CallerResolver.InvalidKeyStatus);
        var verifiedHosts = await LoadVerifiedHostsAsync(holder.Id, ct).ConfigureAwait(false);
        var publicContact = await GetPublicContactAsync(holder, ct).ConfigureAwait(false);
        var now = Now();
        var spec = ReservationSpecValidator.Validate(request.Spec, now);
        var reservation = BuildReservation(ApiKeys.NewId("rsv_", now), holder, publicContact, spec, now, verifiedHosts, "spec");
        var mutation = CreationMutation(reservation, caller, key);
        CommittedEvent committed;
        try
        {
            committed = await _store.AppendAsync(mutation, ct).ConfigureAwait(false);
        }
        catch (StoreException ex) when (ex.Kind == StoreErrorKind.Conflict && key is not null)
        {
            // A concurrent retry with the same key won the race: answer with its result (nothing was written here).
            var raced = await FindByIdempotencyKeyAsync(caller.HolderId!, key, ct).ConfigureAwait(false);
            if (raced is null)
            {
                throw;
            }

            return await RespondWithCreatedAsync(raced, ct).ConfigureAwait(false);
        }

        RegistryLog.ReservationCreated(_log, reservation.Id, holder.Id, committed.Sequence);
        return new Pb.ReservationResponse { Reservation = reservation, Receipt = await _receipts.IssueAsync(committed, ct).ConfigureAwait(false) };
    });

    /// <summary>AmendReservation: a new reservation that supersedes the old one, both events in one transaction.</summary>
    public Task<Pb.ReservationResponse> AmendReservation(Pb.AmendReservationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var ct = context.CancellationToken;
        var (record, old) = await LoadOwnAsync(caller, request.ReservationId, "reservation_id", ct).ConfigureAwait(false);
        RequireActive(old, "reservation_id");
        var holder = await _store.GetHolderAsync(record.HolderId, ct).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.FailedPrecondition, "reservation_id: the reservation's holder no longer exists"));
        var verifiedHosts = await LoadVerifiedHostsAsync(holder.Id, ct).ConfigureAwait(false);
        var now = Now();
        var spec = ReservationSpecValidator.Validate(request.Spec, now);
        var replacement = BuildReservation(ApiKeys.NewId("rsv_", now), holder, old.PublicContact, spec, now, verifiedHosts, "spec");
        replacement.Supersedes = old.Id;
        var superseded = old.Clone();
        superseded.State = Pb.ReservationState.Superseded;
        superseded.StateChangedAt = ReservationMapping.ToTimestamp(now);
        superseded.SupersededBy = replacement.Id;
        var supersededEvent = new Pb.Event
        {
            Actor = caller.Actor,
            ReservationSuperseded = new Pb.ReservationSuperseded { ReservationId = old.Id, SupersededBy = replacement.Id },
        };
        var committed = await _store.AppendBatchAsync(
            [
                CreationMutation(replacement, caller, null),
                new Mutation(EventMapping.ToDraft(supersededEvent),
                    new ChangeReservationState(old.Id, OptOutRegistry.Storage.ReservationState.Superseded, superseded.ToByteArray())),
            ],
            ct).ConfigureAwait(false);
        RegistryLog.ReservationAmended(_log, old.Id, replacement.Id, committed[0].Sequence);
        return new Pb.ReservationResponse { Reservation = replacement, Receipt = await _receipts.IssueAsync(committed[0], ct).ConfigureAwait(false) };
    });

    /// <summary>RevokeReservation.</summary>
    public Task<Pb.ReservationResponse> RevokeReservation(Pb.RevokeReservationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var ct = context.CancellationToken;
        var reason = (request.Reason ?? string.Empty).Trim();
        ReservationSpecValidator.CheckText(reason, "reason", MaxReasonLength);
        var (_, old) = await LoadOwnAsync(caller, request.ReservationId, "reservation_id", ct).ConfigureAwait(false);
        RequireActive(old, "reservation_id");
        var revoked = old.Clone();
        revoked.State = Pb.ReservationState.Revoked;
        revoked.StateChangedAt = ReservationMapping.ToTimestamp(Now());
        var @event = new Pb.Event { Actor = caller.Actor, ReservationRevoked = new Pb.ReservationRevoked { ReservationId = old.Id, Reason = reason } };
        var committed = await _store.AppendAsync(
            new Mutation(EventMapping.ToDraft(@event), new ChangeReservationState(old.Id, OptOutRegistry.Storage.ReservationState.Revoked, revoked.ToByteArray())),
            ct).ConfigureAwait(false);
        RegistryLog.ReservationRevoked(_log, old.Id, committed.Sequence);
        return new Pb.ReservationResponse { Reservation = revoked, Receipt = await _receipts.IssueAsync(committed, ct).ConfigureAwait(false) };
    });

    /// <summary>GetReservation.</summary>
    public Task<Pb.Reservation> GetReservation(Pb.GetReservationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var (_, reservation) = await LoadOwnAsync(caller, request.ReservationId, "reservation_id", context.CancellationToken).ConfigureAwait(false);
        return reservation;
    });

    /// <summary>ListReservations (registration order, as the store pages).</summary>
    public Task<Pb.ListReservationsResponse> ListReservations(Pb.ListReservationsRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var holderId = await ResolveHolderArgumentAsync(caller, request.HolderId, "holder_id", context.CancellationToken).ConfigureAwait(false);
        var size = request.PageSize == 0 ? 100 : request.PageSize;
        if (size is < 1 or > 1000)
        {
            throw new ModelValidationException("page_size", $"{request.PageSize} is outside 1..1000 (0 means 100)");
        }

        Page<ReservationRecord> page;
        try
        {
            page = await _store.ListReservationsByHolderAsync(holderId, string.IsNullOrEmpty(request.PageToken) ? null : request.PageToken, size, context.CancellationToken)
                .ConfigureAwait(false);
        }
        catch (ArgumentException ex) when (ex is not ModelValidationException)
        {
            throw new ModelValidationException("page_token", "was not issued by this registry for this listing");
        }

        var response = new Pb.ListReservationsResponse { NextPageToken = page.NextPageToken ?? string.Empty };
        foreach (var record in page.Items)
        {
            response.Reservations.Add(ReservationMapping.ParsePayload(record.Payload));
        }

        return response;
    });

    /// <summary>SearchWorks: public fields only, so anonymous callers may search too.</summary>
    public Task<Pb.SearchWorksResponse> SearchWorks(Pb.SearchWorksRequest request, ServerCallContext context) => Guard(async () =>
    {
        _ = await _callers.ResolveAsync(context).ConfigureAwait(false);
        var query = (request.Query ?? string.Empty).Trim();
        if (query.Length == 0)
        {
            throw new ModelValidationException("query", "is required: words of a title, creator or holder name, or an identifier such as isbn:9780306406157");
        }

        ReservationSpecValidator.CheckText(query, "query", MaxQueryLength);
        var limit = request.Limit == 0 ? 20 : request.Limit;
        if (limit is < 1 or > 100)
        {
            throw new ModelValidationException("limit", $"{request.Limit} is outside 1..100 (0 means 20)");
        }

        if (query.Contains(':') && StandardIdentifier.TryParse(query, out var identifier, out _))
        {
            // Identifiers are stored normalised ("isbn:9780306406157"); search for the same form.
            query = identifier.ToString();
        }

        var hits = await _store.SearchWorksAsync(query, limit, true, context.CancellationToken).ConfigureAwait(false);
        var response = new Pb.SearchWorksResponse();
        foreach (var hit in hits)
        {
            var record = await _store.GetReservationAsync(hit.ReservationId, context.CancellationToken).ConfigureAwait(false);
            if (record is null)
            {
                continue;
            }

            var reservation = ReservationMapping.ParsePayload(record.Payload);
            var result = new Pb.SearchHit
            {
                ReservationId = hit.ReservationId,
                Title = reservation.Work?.Title ?? string.Empty,
                HolderName = reservation.HolderName,
                Score = hit.Rank,
                State = EnumMapping.ToApi(hit.State),
            };
            if (reservation.Work is not null)
            {
                result.Creators.AddRange(reservation.Work.Creators);
            }

            response.Hits.Add(result);
        }

        return response;
    });

    /// <summary>GetReservationHistory.</summary>
    public Task<Pb.GetReservationHistoryResponse> GetReservationHistory(Pb.GetReservationHistoryRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var (_, reservation) = await LoadOwnAsync(caller, request.ReservationId, "reservation_id", context.CancellationToken).ConfigureAwait(false);
        var history = await _store.GetReservationHistoryAsync(reservation.Id, context.CancellationToken).ConfigureAwait(false);
        var response = new Pb.GetReservationHistoryResponse();
        foreach (var entry in history)
        {
            var state = EnumMapping.ToApi(entry.State);
            response.Entries.Add(new Pb.ReservationHistoryEntry
            {
                State = state,
                Time = ReservationMapping.ToTimestamp(entry.At),
                Sequence = entry.Sequence,
                RelatedReservationId = state switch
                {
                    Pb.ReservationState.Superseded => reservation.SupersededBy,
                    Pb.ReservationState.Active => reservation.Supersedes,
                    _ => string.Empty,
                },
            });
        }

        return response;
    });

    /// <summary>GetReceipt: events are public (the feed serves them to anyone), so anonymous callers may ask.</summary>
    public Task<Pb.Receipt> GetReceipt(Pb.GetReceiptRequest request, ServerCallContext context) => Guard(async () =>
    {
        _ = await _callers.ResolveAsync(context).ConfigureAwait(false);
        if (request.Sequence < 0)
        {
            throw new ModelValidationException("sequence", $"{request.Sequence} is negative");
        }

        var events = await _store.ReadEventsAsync(request.Sequence, 1, context.CancellationToken).ConfigureAwait(false);
        if (events.Count == 0 || events[0].Sequence != request.Sequence)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"sequence: the log has no event {request.Sequence}"));
        }

        return await _receipts.IssueAsync(events[0], context.CancellationToken).ConfigureAwait(false);
    });

    // ---------------------------------------------------------------- shared by create, amend and import

    private Pb.Reservation BuildReservation(string id, HolderRecord holder, string publicContact, ValidatedSpec spec, DateTimeOffset now,
        IReadOnlySet<string> verifiedHosts, string fieldPrefix)
    {
        var reservation = new Pb.Reservation
        {
            Id = id,
            HolderId = holder.Id,
            HolderName = holder.DisplayName,
            RegisteredAt = ReservationMapping.ToTimestamp(now),
            ValidFrom = ReservationMapping.ToTimestamp(spec.ValidFrom ?? now),
            State = Pb.ReservationState.Active,
            PolicyUrl = spec.PolicyUrl,
            PublicContact = publicContact,
            Work = spec.Work,
        };
        if (spec.ValidUntil is { } until)
        {
            reservation.ValidUntil = ReservationMapping.ToTimestamp(until);
        }

        reservation.Selectors.AddRange(spec.Selectors);
        reservation.Statements.AddRange(spec.Statements);
        for (var i = 0; i < spec.CoreSelectors.Count; i++)
        {
            var selector = spec.CoreSelectors[i];
            var verified = selector.Kind.IsLocationKind() && IsHostVerified(selector.Authority!, verifiedHosts);
            if (!verified && selector.Kind.NeedsHostVerification())
            {
                // DESIGN.md "Verification": broad selectors need proof of control of the host; url and content selectors
                // are accepted unverified and marked so.
                var kind = ReservationSpecValidator.KindName(spec.Selectors[i].ValueCase);
                throw new RpcException(new Status(StatusCode.PermissionDenied,
                    $"{fieldPrefix}.selectors[{i}].{kind}: control of '{HostOf(selector.Authority!)}' is not verified for this holder; a {kind} selector needs a verified host (optout verify-host {HostOf(selector.Authority!)})"));
            }

            reservation.SelectorVerified.Add(verified);
        }

        return reservation;
    }

    private static Mutation CreationMutation(Pb.Reservation reservation, Caller caller, string? idempotencyKey)
    {
        var @event = new Pb.Event { Actor = caller.Actor, ReservationCreated = reservation };
        var work = reservation.Work;
        var put = new PutReservation(
            reservation.Id,
            reservation.HolderId,
            OptOutRegistry.Storage.ReservationState.Active,
            reservation.ValidFrom.ToDateTimeOffset(),
            reservation.ValidUntil?.ToDateTimeOffset(),
            new StoreWork(string.IsNullOrEmpty(work.Title) ? null : work.Title, [.. work.Creators], [.. work.Identifiers], string.IsNullOrEmpty(work.Language) ? null : work.Language),
            reservation.HolderName,
            reservation.ToByteArray());
        return idempotencyKey is null
            ? new Mutation(EventMapping.ToDraft(@event), put)
            : new Mutation(EventMapping.ToDraft(@event), [put, new RecordIdempotencyKey(reservation.HolderId, idempotencyKey, reservation.Id)]);
    }

    /// <summary>A host is verified when it or one of its parent domains was verified for the holder.</summary>
    private static bool IsHostVerified(string authority, IReadOnlySet<string> verifiedHosts)
    {
        if (verifiedHosts.Count == 0)
        {
            return false;
        }

        var host = HostOf(authority);
        while (true)
        {
            if (verifiedHosts.Contains(host))
            {
                return true;
            }

            var dot = host.IndexOf('.');
            if (dot < 0 || host[0] == '[')
            {
                return false;
            }

            host = host[(dot + 1)..];
        }
    }

    /// <summary>The host of <c>host[:port]</c> (IPv6 literals keep their brackets).</summary>
    private static string HostOf(string authority)
    {
        if (authority.StartsWith('['))
        {
            var end = authority.IndexOf(']');
            return end < 0 ? authority : authority[..(end + 1)];
        }

        var colon = authority.LastIndexOf(':');
        return colon < 0 ? authority : authority[..colon];
    }

    private async Task<IReadOnlySet<string>> LoadVerifiedHostsAsync(string holderId, CancellationToken cancellationToken)
    {
        var hosts = await _store.ListVerifiedHostsAsync(holderId, cancellationToken).ConfigureAwait(false);
        var set = new HashSet<string>(hosts.Count, StringComparer.Ordinal);
        foreach (var host in hosts)
        {
            set.Add(host.Host);
        }

        return set;
    }

    private static string? ValidateIdempotencyKey(string? key, string field)
    {
        if (string.IsNullOrEmpty(key))
        {
            return null;
        }

        ReservationSpecValidator.CheckText(key, field, MaxIdempotencyKeyLength);
        return key;
    }

    private async Task<ReservationRecord?> FindByIdempotencyKeyAsync(string holderId, string key, CancellationToken cancellationToken)
    {
        var id = await _store.FindIdempotencyKeyAsync(holderId, key, cancellationToken).ConfigureAwait(false);
        return id is null ? null : await _store.GetReservationAsync(id, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Pb.ReservationResponse> RespondWithCreatedAsync(ReservationRecord record, CancellationToken cancellationToken)
    {
        // The receipt of the creation event: a retried request gets the same proof as the first one.
        var events = await _store.ReadEventsAsync(record.CreatedSequence, 1, cancellationToken).ConfigureAwait(false);
        return new Pb.ReservationResponse
        {
            Reservation = ReservationMapping.ParsePayload(record.Payload),
            Receipt = await _receipts.IssueAsync(events[0], cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>
    /// Loads a reservation the caller may see. A holder asking for another holder's reservation, or for one that does not
    /// exist, gets the same PERMISSION_DENIED, so the answer says nothing about what exists.
    /// </summary>
    private async Task<(ReservationRecord Record, Pb.Reservation Reservation)> LoadOwnAsync(Caller caller, string? id, string field, CancellationToken cancellationToken)
    {
        var reservationId = (id ?? string.Empty).Trim();
        if (reservationId.Length == 0)
        {
            throw new ModelValidationException(field, "is required");
        }

        ReservationSpecValidator.CheckText(reservationId, field, Reservation.MaxIdLength);
        var record = await _store.GetReservationAsync(reservationId, cancellationToken).ConfigureAwait(false);
        if (record is null || (!caller.IsAdmin && !string.Equals(record.HolderId, caller.HolderId, StringComparison.Ordinal)))
        {
            throw caller.IsAdmin
                ? new RpcException(new Status(StatusCode.NotFound, $"{field}: reservation '{reservationId}' does not exist"))
                : new RpcException(new Status(StatusCode.PermissionDenied, $"{field}: '{Shorten(reservationId)}' is not one of your reservations"));
        }

        return (record, ReservationMapping.ParsePayload(record.Payload));
    }

    private static void RequireActive(Pb.Reservation reservation, string field)
    {
        if (reservation.State == Pb.ReservationState.Active)
        {
            return;
        }

        var detail = reservation.State == Pb.ReservationState.Superseded
            ? $"{field}: reservation '{reservation.Id}' was superseded by '{reservation.SupersededBy}'; change that one instead"
            : $"{field}: reservation '{reservation.Id}' is already revoked";
        throw new RpcException(new Status(StatusCode.FailedPrecondition, detail));
    }
}
