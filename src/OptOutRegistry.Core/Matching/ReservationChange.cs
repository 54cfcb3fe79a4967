using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching;

/// <summary>What a <see cref="ReservationChange"/> does.</summary>
public enum ReservationChangeKind : byte
{
    /// <summary>A new reservation.</summary>
    Add = 0,

    /// <summary>A reservation is replaced by a new one (an amendment) from an instant on.</summary>
    Supersede = 1,

    /// <summary>A reservation is withdrawn from an instant on.</summary>
    Revoke = 2,
}

/// <summary>
/// One write to the matcher, as derived from the event log. Use the factories; superseded and revoked
/// reservations stay in the index with the instant of the change, so as-of checks before it still see them.
/// </summary>
public sealed record ReservationChange
{
    private ReservationChange(ReservationChangeKind kind, Reservation? reservation, string? reservationId, DateTimeOffset? at)
    {
        Kind = kind;
        Reservation = reservation;
        ReservationId = reservationId;
        At = at;
    }

    /// <summary>The kind of change.</summary>
    public ReservationChangeKind Kind { get; }

    /// <summary>The new reservation (add) or the replacement (supersede).</summary>
    public Reservation? Reservation { get; }

    /// <summary>The reservation superseded or revoked.</summary>
    public string? ReservationId { get; }

    /// <summary>The instant of a supersession or revocation.</summary>
    public DateTimeOffset? At { get; }

    /// <summary>Adds a reservation (in any state: history can be replayed).</summary>
    public static ReservationChange Add(Reservation reservation) =>
        new(ReservationChangeKind.Add, reservation ?? throw new ArgumentNullException(nameof(reservation)), null, null);

    /// <summary>Marks <paramref name="reservationId"/> superseded at <paramref name="at"/> and adds <paramref name="replacement"/>.</summary>
    public static ReservationChange Supersede(string reservationId, DateTimeOffset at, Reservation replacement) =>
        new(ReservationChangeKind.Supersede, replacement ?? throw new ArgumentNullException(nameof(replacement)),
            reservationId ?? throw new ArgumentNullException(nameof(reservationId)), at);

    /// <summary>Marks <paramref name="reservationId"/> revoked at <paramref name="at"/>.</summary>
    public static ReservationChange Revoke(string reservationId, DateTimeOffset at) =>
        new(ReservationChangeKind.Revoke, null, reservationId ?? throw new ArgumentNullException(nameof(reservationId)), at);
}
