namespace OptOutRegistry.Core.Model;

/// <summary>The life-cycle state of a reservation. Superseded and revoked reservations are kept (history, as-of checks).</summary>
public enum ReservationState : byte
{
    /// <summary>In force within its validity window.</summary>
    Active = 0,

    /// <summary>Replaced by another reservation (an amendment) from <see cref="Reservation.StateChangedAt"/> on.</summary>
    Superseded = 1,

    /// <summary>Withdrawn by the holder from <see cref="Reservation.StateChangedAt"/> on.</summary>
    Revoked = 2,
}
