using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Feed;

/// <summary>Turns stored events into <c>optout.v1.Event</c> messages.</summary>
public static class StoredEvents
{
    /// <summary>
    /// The event as published: the stored payload is the serialized <c>optout.v1.Event</c> with <c>sequence</c> 0
    /// (services-common: the sequence is the leaf index); the sequence, and the time and actor if the payload lacks
    /// them, come from the store's columns.
    /// </summary>
    public static Pb.Event ToProto(CommittedEvent committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        Pb.Event message;
        try
        {
            message = Pb.Event.Parser.ParseFrom(committed.Payload);
        }
        catch (InvalidProtocolBufferException)
        {
            // Not an Event payload (should not happen): publish the envelope so followers keep their sequence.
            message = new Pb.Event();
        }

        message.Sequence = committed.Sequence;
        message.Time ??= Timestamp.FromDateTimeOffset(committed.Time);
        if (message.Actor.Length == 0)
        {
            message.Actor = committed.Actor;
        }

        return message;
    }
}
