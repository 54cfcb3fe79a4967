using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Converts between the public API messages (<c>optout.v1</c>) and Core's model, for everything that rebuilds a
/// matcher from protobuf: the server's matcher host (store payloads are serialized <c>optout.v1.Reservation</c>),
/// replicas (the feed) and offline checkers (snapshot files). The enums differ in numbering (proto reserves 0 for
/// UNSPECIFIED), which is why every conversion goes through here.
/// </summary>
public static class ProtoConvert
{
    /// <summary>Core category of a request purpose; UNSPECIFIED means ALL (check.proto).</summary>
    public static UsageCategory ToCore(Pb.UsageCategory category) => category switch
    {
        Pb.UsageCategory.Unspecified or Pb.UsageCategory.All => UsageCategory.All,
        Pb.UsageCategory.TrainAi => UsageCategory.TrainAi,
        Pb.UsageCategory.TrainGenai => UsageCategory.TrainGenAi,
        Pb.UsageCategory.AiUse => UsageCategory.AiUse,
        Pb.UsageCategory.Search => UsageCategory.Search,
        _ => throw new ModelValidationException("purpose", $"unknown usage category {(int)category}"),
    };

    /// <summary>Proto category of a Core category.</summary>
    public static Pb.UsageCategory ToProto(UsageCategory category) => (Pb.UsageCategory)((int)category + 1);

    /// <summary>Proto verdict of a Core verdict.</summary>
    public static Pb.Verdict ToProto(Verdict verdict) => (Pb.Verdict)((int)verdict + 1);

    /// <summary>Proto selector kind of a Core selector kind.</summary>
    public static Pb.SelectorKind ToProto(SelectorKind kind) => (Pb.SelectorKind)((int)kind + 1);

    /// <summary>A match as sent to clients: public fields only (never the holder's private contact data).</summary>
    public static Pb.Match ToProto(Match match, string? holderName)
    {
        ArgumentNullException.ThrowIfNull(match);
        return new Pb.Match
        {
            ReservationId = match.ReservationId,
            HolderId = match.HolderId,
            HolderName = holderName ?? string.Empty,
            SelectorKind = ToProto(match.SelectorKind),
            Selector = match.SelectorText,
            Verified = match.HostVerified,
            PolicyUrl = match.PolicyUrl ?? string.Empty,
            Verdict = ToProto(match.Permission.ToVerdict()),
            DecidedBy = ToProto(match.DecidingCategory),
            Distance = match.HammingDistance ?? 0,
        };
    }

    /// <summary>Converts and validates a reservation message.</summary>
    /// <exception cref="ModelValidationException">A field is invalid (the field is named, e.g. <c>selectors[2].value</c>).</exception>
    public static Reservation ToCore(Pb.Reservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var selectors = new ReservationSelector[reservation.Selectors.Count];
        for (var i = 0; i < selectors.Length; i++)
        {
            Selector selector;
            try
            {
                selector = ToCore(reservation.Selectors[i]);
            }
            catch (ModelValidationException ex)
            {
                throw ex.WithFieldPrefix($"selectors[{i}]");
            }

            var verified = i < reservation.SelectorVerified.Count && reservation.SelectorVerified[i] && selector.Kind.IsLocationKind();
            selectors[i] = new ReservationSelector(selector, verified);
        }

        var statements = new UsageStatement[reservation.Statements.Count];
        for (var i = 0; i < statements.Length; i++)
        {
            var s = reservation.Statements[i];
            if (s.Category == Pb.UsageCategory.Unspecified)
            {
                throw new ModelValidationException($"statements[{i}].category", "is unspecified");
            }

            var permission = s.Permission switch
            {
                Pb.Permission.Disallow => UsagePermission.Disallow,
                Pb.Permission.Allow => UsagePermission.Allow,
                _ => throw new ModelValidationException($"statements[{i}].permission", $"unknown permission {(int)s.Permission}"),
            };
            StatementSource? source = null;
            if (s.SourceVocabulary.Length > 0)
            {
                var eq = s.SourceTerm.IndexOf('=', StringComparison.Ordinal);
                source = eq < 0
                    ? new StatementSource(s.SourceVocabulary, s.SourceVersion, s.SourceTerm, string.Empty)
                    : new StatementSource(s.SourceVocabulary, s.SourceVersion, s.SourceTerm[..eq], s.SourceTerm[(eq + 1)..]);
            }

            statements[i] = new UsageStatement(ToCore(s.Category), permission, source);
        }

        var state = reservation.State switch
        {
            Pb.ReservationState.Active or Pb.ReservationState.Unspecified => ReservationState.Active,
            Pb.ReservationState.Superseded => ReservationState.Superseded,
            Pb.ReservationState.Revoked => ReservationState.Revoked,
            _ => throw new ModelValidationException("state", $"unknown state {(int)reservation.State}"),
        };
        var registeredAt = Required(reservation.RegisteredAt, "registered_at");
        return new Reservation(
            reservation.Id,
            reservation.HolderId,
            registeredAt,
            reservation.ValidFrom is null ? registeredAt : Time(reservation.ValidFrom, "valid_from"),
            reservation.ValidUntil is null ? null : Time(reservation.ValidUntil, "valid_until"),
            selectors,
            new UsageStatements(statements),
            reservation.PolicyUrl.Length == 0 ? null : reservation.PolicyUrl,
            state,
            state == ReservationState.Active ? null : Required(reservation.StateChangedAt, "state_changed_at"),
            state == ReservationState.Superseded ? reservation.SupersededBy : null,
            publicContact: reservation.PublicContact.Length == 0 ? null : reservation.PublicContact);
    }

    /// <summary>Converts and validates one selector.</summary>
    public static Selector ToCore(Pb.Selector selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var options = (selector.AnyQuery ? SelectorOptions.AnyQuery : SelectorOptions.None)
            | (selector.IncludeSubdomains ? SelectorOptions.IncludeSubdomains : SelectorOptions.None);
        return selector.ValueCase switch
        {
            Pb.Selector.ValueOneofCase.Url => Selector.Create(SelectorKind.Url, selector.Url, options),
            Pb.Selector.ValueOneofCase.Prefix => Selector.Create(SelectorKind.Prefix, selector.Prefix, options),
            Pb.Selector.ValueOneofCase.Pattern => Selector.CreatePattern(selector.Pattern.Host, selector.Pattern.Path),
            Pb.Selector.ValueOneofCase.Host => Selector.Create(SelectorKind.Host, selector.Host, options),
            Pb.Selector.ValueOneofCase.Domain => Selector.Create(SelectorKind.Domain, selector.Domain, options),
            Pb.Selector.ValueOneofCase.Sha256 => Selector.Create(SelectorKind.Sha256, selector.Sha256, options),
            Pb.Selector.ValueOneofCase.Iscc => Selector.Create(SelectorKind.Iscc, selector.Iscc, options),
            Pb.Selector.ValueOneofCase.Identifier => Selector.Create(SelectorKind.Identifier, selector.Identifier, options),
            _ => throw new ModelValidationException("value", "no selector value is set"),
        };
    }

    /// <summary>
    /// The matcher change an event makes, or null for events that do not affect matching (holders, host verification).
    /// A supersession is applied as the end of the old reservation at the event's time; the replacement arrives in its
    /// own <c>reservation_created</c> event (common.proto: one change per event).
    /// </summary>
    public static ReservationChange? ToChange(Pb.Event @event, DateTimeOffset fallbackTime)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var time = @event.Time is null ? fallbackTime : Time(@event.Time, "time");
        return @event.ChangeCase switch
        {
            Pb.Event.ChangeOneofCase.ReservationCreated => ReservationChange.Add(ToCore(@event.ReservationCreated)),
            Pb.Event.ChangeOneofCase.ReservationSuperseded => ReservationChange.Revoke(@event.ReservationSuperseded.ReservationId, time),
            Pb.Event.ChangeOneofCase.ReservationRevoked => ReservationChange.Revoke(@event.ReservationRevoked.ReservationId, time),
            _ => null,
        };
    }

    /// <summary>A timestamp for a Core instant.</summary>
    public static Timestamp ToTimestamp(DateTimeOffset time) => Timestamp.FromDateTimeOffset(time);

    private static DateTimeOffset Required(Timestamp? timestamp, string field) =>
        timestamp is null ? throw new ModelValidationException(field, "is not set") : Time(timestamp, field);

    // Timestamp.ToDateTimeOffset throws InvalidOperationException outside the proto3 range, which snapshot and feed
    // readers did not document (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md): a damaged record is a
    // ModelValidationException naming the field, which RegistryMirror reports as a SnapshotFormatException.
    private static DateTimeOffset Time(Timestamp timestamp, string field)
    {
        if (timestamp.Nanos is < 0 or > 999_999_999 || timestamp.Seconds is < -62_135_596_800L or > 253_402_300_799L)
        {
            throw new ModelValidationException(field, "is not a valid timestamp (seconds 0001-01-01..9999-12-31, nanos 0..999999999)");
        }

        return timestamp.ToDateTimeOffset();
    }
}
