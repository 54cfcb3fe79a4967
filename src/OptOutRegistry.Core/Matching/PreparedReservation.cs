using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching;

/// <summary>
/// One reservation reduced to the fields the matcher keeps (validity interval, state, packed statements, holder, policy),
/// validated by the rules of the <see cref="Reservation"/> constructor, for <see cref="MatcherBuilder"/>. Made by the
/// server's rebuild at start straight from stored payload bytes, without the <see cref="Reservation"/>,
/// <see cref="UsageStatements"/> and selector objects the matcher would only read a few fields of.
/// Times are UTC ticks (<see cref="DateTimeOffset.UtcTicks"/>).
/// </summary>
public readonly struct PreparedReservation
{
    private PreparedReservation(string id, string holderId, long validFrom, long end, ReservationState state, ushort statements, string? policyUrl)
    {
        Id = id;
        HolderId = holderId;
        ValidFromTicks = validFrom;
        EffectiveUntilTicks = end;
        State = state;
        PackedStatements = statements;
        PolicyUrl = policyUrl;
    }

    /// <summary>The reservation id.</summary>
    public string Id { get; }

    /// <summary>The holder's id.</summary>
    public string HolderId { get; }

    /// <summary>Start of validity (UTC ticks).</summary>
    public long ValidFromTicks { get; }

    /// <summary>End of the interval in force (<see cref="Reservation.EffectiveUntil"/>), <see cref="long.MaxValue"/> when open.</summary>
    public long EffectiveUntilTicks { get; }

    /// <summary>Life-cycle state.</summary>
    public ReservationState State { get; }

    /// <summary>The statements packed as <see cref="UsageStatements.Packed"/>.</summary>
    public ushort PackedStatements { get; }

    /// <summary>The policy URL, if any; checked by <see cref="MatcherBuilder"/> (once per distinct URL).</summary>
    public string? PolicyUrl { get; }

    /// <summary>
    /// Adds one statement to a packed set (<see cref="UsageStatements.Packed"/>: 2 bits per category), refusing what
    /// <see cref="UsageStatements"/> refuses: an unknown category or permission, or a second statement for a category.
    /// </summary>
    /// <param name="packed">The set so far (0 = empty).</param>
    /// <param name="category">The statement's category.</param>
    /// <param name="permission">The statement's permission.</param>
    /// <param name="error">On failure: why (the caller names the field).</param>
    public static bool TryAddStatement(ref ushort packed, UsageCategory category, UsagePermission permission, out string? error)
    {
        if ((uint)category >= UsageCategories.Count)
        {
            error = $"unknown category {(int)category}";
            return false;
        }

        if (permission is not (UsagePermission.Allow or UsagePermission.Disallow))
        {
            error = $"unknown permission {(int)permission}";
            return false;
        }

        var shift = 2 * (int)category;
        if (((packed >> shift) & 3) != 0)
        {
            error = $"'{category.ToWireName()}' has more than one statement; combine them first (the crosswalk's most-restrictive merge does)";
            return false;
        }

        packed = (ushort)(packed | ((int)permission << shift));
        error = null;
        return true;
    }

    /// <summary>
    /// Validates and prepares a reservation (selectors are prepared separately, <see cref="PreparedSelector"/>). The
    /// checks are the <see cref="Reservation"/> constructor's, except the policy URL, which the builder checks.
    /// </summary>
    /// <param name="id">Reservation id.</param>
    /// <param name="holderId">Holder id.</param>
    /// <param name="registeredAtTicks">Registration time.</param>
    /// <param name="validFromTicks">Start of validity, ≥ registration.</param>
    /// <param name="validUntilTicks">End of validity, after its start; null when open-ended.</param>
    /// <param name="state">State.</param>
    /// <param name="stateChangedAtTicks">When superseded or revoked (required then, ≥ registration); must be null when active.</param>
    /// <param name="supersededBy">The replacement's id: required when superseded, null otherwise.</param>
    /// <param name="packedStatements">Statements packed by <see cref="TryAddStatement"/>; at least one.</param>
    /// <param name="policyUrl">Policy URL or null.</param>
    /// <param name="reservation">The result.</param>
    /// <param name="field">On failure: the field (e.g. <c>valid_until</c>).</param>
    /// <param name="error">On failure: why.</param>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryCreate(string id, string holderId, long registeredAtTicks, long validFromTicks, long? validUntilTicks,
        ReservationState state, long? stateChangedAtTicks, string? supersededBy, ushort packedStatements, string? policyUrl,
        out PreparedReservation reservation, out string? field, out string? error)
    {
        reservation = default;
        if (!CheckId("id", id, out field, out error) || !CheckId("holder_id", holderId, out field, out error))
        {
            return false;
        }

        if (validFromTicks < registeredAtTicks)
        {
            return Fail("valid_from", $"{Format(validFromTicks)} is before registered_at {Format(registeredAtTicks)}; a reservation is never retroactive", out field, out error);
        }

        if (validUntilTicks is { } until && until <= validFromTicks)
        {
            return Fail("valid_until", $"{Format(until)} is not after valid_from {Format(validFromTicks)}", out field, out error);
        }

        if (packedStatements == 0)
        {
            return Fail("statements", "a reservation needs at least one usage statement", out field, out error);
        }

        switch (state)
        {
            case ReservationState.Active:
                if (stateChangedAtTicks is not null || supersededBy is not null)
                {
                    return Fail("state_changed_at", "an active reservation has no state change", out field, out error);
                }

                break;
            case ReservationState.Superseded:
            case ReservationState.Revoked:
                if (stateChangedAtTicks is not { } changed)
                {
                    return Fail("state_changed_at", $"a {state.ToString().ToLowerInvariant()} reservation needs the time of the change", out field, out error);
                }

                if (changed < registeredAtTicks)
                {
                    return Fail("state_changed_at", $"{Format(changed)} is before registered_at {Format(registeredAtTicks)}", out field, out error);
                }

                if (state == ReservationState.Superseded)
                {
                    if (!CheckId("superseded_by", supersededBy, out field, out error))
                    {
                        return false;
                    }
                }
                else if (supersededBy is not null)
                {
                    return Fail("superseded_by", "only a superseded reservation names its replacement", out field, out error);
                }

                break;
            default:
                return Fail("state", $"unknown state {(int)state}", out field, out error);
        }

        // Reservation.EffectiveUntil: the earlier of valid_until and the state change.
        var end = validUntilTicks ?? long.MaxValue;
        if (stateChangedAtTicks is { } c && c < end)
        {
            end = c;
        }

        reservation = new PreparedReservation(id, holderId, validFromTicks, end, state, packedStatements, policyUrl);
        return true;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool CheckId(string name, string? id, out string? field, out string? error)
    {
        field = null;
        error = null;
        if (string.IsNullOrEmpty(id))
        {
            return Fail(name, "is empty", out field, out error);
        }

        if (id.Length > Reservation.MaxIdLength)
        {
            return Fail(name, $"is longer than {Reservation.MaxIdLength} characters", out field, out error);
        }

        foreach (var c in id)
        {
            if (c is <= ' ' or > '~')
            {
                return Fail(name, $"contains '{(c < ' ' ? $"U+{(int)c:X4}" : c.ToString())}'; ids are printable ASCII without spaces", out field, out error);
            }
        }

        return true;
    }

    private static bool Fail(string name, string reason, out string? field, out string? error)
    {
        field = name;
        error = reason;
        return false;
    }

    private static string Format(long ticks) => new DateTimeOffset(ticks, TimeSpan.Zero).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
}
