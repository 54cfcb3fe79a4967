using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Folds an event log into the reservations it describes, each in its state after the last folded event: what a full
/// snapshot as of a sequence holds. Built from events rather than from the current reservation rows so that a
/// snapshot is exact at its sequence even while new events are being committed.
/// </summary>
public sealed class ReservationFold
{
    private readonly Dictionary<string, Pb.Reservation> _byId = new(StringComparer.Ordinal);
    private readonly List<Pb.Reservation> _inOrder = [];

    /// <summary>The last sequence folded; -1 before any.</summary>
    public long Sequence { get; private set; } = -1;

    /// <summary>The reservations, in the order they were created.</summary>
    public IReadOnlyList<Pb.Reservation> Reservations => _inOrder;

    /// <summary>Folds one event (events must come in sequence order; others are ignored).</summary>
    public void Apply(Pb.Event @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        if (@event.Sequence <= Sequence)
        {
            return;
        }

        Sequence = @event.Sequence;
        switch (@event.ChangeCase)
        {
            case Pb.Event.ChangeOneofCase.ReservationCreated:
                var created = @event.ReservationCreated.Clone();
                if (_byId.TryAdd(created.Id, created))
                {
                    _inOrder.Add(created);
                }

                break;
            case Pb.Event.ChangeOneofCase.ReservationSuperseded when _byId.TryGetValue(@event.ReservationSuperseded.ReservationId, out var old):
                old.State = Pb.ReservationState.Superseded;
                old.StateChangedAt = @event.Time;
                old.SupersededBy = @event.ReservationSuperseded.SupersededBy;
                break;
            case Pb.Event.ChangeOneofCase.ReservationRevoked when _byId.TryGetValue(@event.ReservationRevoked.ReservationId, out var revoked):
                revoked.State = Pb.ReservationState.Revoked;
                revoked.StateChangedAt = @event.Time;
                break;
        }
    }
}
