using Google.Protobuf;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Mapping;

/// <summary>
/// How events are stored. The store's leaf (Storage <c>EventLeaf</c>) carries the sequence, the server time, the actor,
/// a type name and an opaque payload; the payload is the serialized <see cref="Pb.Event"/> with <c>sequence</c> 0 and
/// <c>time</c> unset, because the store assigns both inside the append transaction (the leaf carries them, and a receipt's
/// inclusion proof proves them). <see cref="ToApi"/> puts them back.
/// </summary>
public static class EventMapping
{
    /// <summary>Type name of each event kind, as stored and hashed into the leaf.</summary>
    public static string TypeName(Pb.Event.ChangeOneofCase change) => change switch
    {
        Pb.Event.ChangeOneofCase.ReservationCreated => "reservation.created",
        Pb.Event.ChangeOneofCase.ReservationSuperseded => "reservation.superseded",
        Pb.Event.ChangeOneofCase.ReservationRevoked => "reservation.revoked",
        Pb.Event.ChangeOneofCase.HolderCreated => "holder.created",
        Pb.Event.ChangeOneofCase.HostVerified => "host.verified",
        Pb.Event.ChangeOneofCase.ApiKeyCreated => "api-key.created",
        Pb.Event.ChangeOneofCase.ApiKeyRevoked => "api-key.revoked",
        _ => throw new ArgumentOutOfRangeException(nameof(change)),
    };

    /// <summary>The event part of a mutation for <paramref name="event"/> (its sequence and time are ignored).</summary>
    public static EventDraft ToDraft(Pb.Event @event)
    {
        var payload = @event.Clone();
        payload.Sequence = 0;
        payload.Time = null;
        return new EventDraft(@event.Actor, TypeName(@event.ChangeCase), payload.ToByteArray());
    }

    /// <summary>The wire event of a committed one: the payload with the committed sequence and time.</summary>
    /// <exception cref="InvalidProtocolBufferException">The payload is not an <see cref="Pb.Event"/>.</exception>
    public static Pb.Event ToApi(CommittedEvent committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        var @event = Pb.Event.Parser.ParseFrom(committed.Payload);
        @event.Sequence = committed.Sequence;
        @event.Time = ReservationMapping.ToTimestamp(committed.Time);
        @event.Actor = committed.Actor;
        return @event;
    }

    /// <summary>The reservation id an event is about, or empty.</summary>
    public static string ReservationId(Pb.Event @event) => @event.ChangeCase switch
    {
        Pb.Event.ChangeOneofCase.ReservationCreated => @event.ReservationCreated.Id,
        Pb.Event.ChangeOneofCase.ReservationSuperseded => @event.ReservationSuperseded.ReservationId,
        Pb.Event.ChangeOneofCase.ReservationRevoked => @event.ReservationRevoked.ReservationId,
        _ => string.Empty,
    };
}
