using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching;

/// <summary>
/// Builds a <see cref="MatcherIndex"/> in bulk from prepared rows (<see cref="PreparedReservation"/>,
/// <see cref="PreparedSelector"/>): the same index <see cref="MatcherIndex.Build"/> makes from the equivalent
/// <see cref="Reservation"/> objects, for a caller that validates and canonicalises on other threads and keeps only
/// table inserts on the building one (the server's rebuild at start, issue 4: 10 M reservations in ≤ 20 s).
/// Not thread-safe; the index is not visible to anyone until <see cref="Complete"/>.
/// </summary>
public sealed class MatcherBuilder
{
    private readonly MatcherIndex _index;
    private bool _completed;

    /// <summary>An empty builder; size the tables with <see cref="MatcherOptions.ExpectedSelectors"/>.</summary>
    public MatcherBuilder(MatcherOptions? options = null) => _index = new MatcherIndex(options);

    /// <summary>Reservations added so far.</summary>
    public int Count => _index.ReservationCount;

    /// <summary>
    /// Adds one reservation with its selectors, or nothing: refused (false, with the reason) when it has no selector,
    /// too many, or a policy URL that is not an absolute http(s) URL — the checks that need the builder's state or
    /// are done once per distinct value.
    /// </summary>
    /// <param name="reservation">The reservation, from <see cref="PreparedReservation.TryCreate"/>.</param>
    /// <param name="selectors">Its selectors, from <see cref="PreparedSelector.TryPrepare"/> or <see cref="PreparedSelector.From"/>.</param>
    /// <param name="field">On refusal: the field.</param>
    /// <param name="error">On refusal: why.</param>
    /// <exception cref="ModelValidationException">The id is already in the index (as <see cref="MatcherIndex.Build"/>: the store is inconsistent).</exception>
    /// <exception cref="ArgumentException">A default (unprepared) reservation or selector.</exception>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryAdd(in PreparedReservation reservation, ReadOnlySpan<PreparedSelector> selectors, out string? field, out string? error)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (reservation.Id is null)
        {
            throw new ArgumentException("reservation: not made by PreparedReservation.TryCreate", nameof(reservation));
        }

        if (selectors.IsEmpty)
        {
            field = "selectors";
            error = "a reservation needs at least one selector";
            return false;
        }

        if (selectors.Length > Reservation.MaxSelectors)
        {
            field = "selectors";
            error = $"{selectors.Length} selectors; at most {Reservation.MaxSelectors} per reservation";
            return false;
        }

        for (var i = 0; i < selectors.Length; i++)
        {
            if (!selectors[i].IsValid)
            {
                throw new ArgumentException($"selectors[{i}]: not made by PreparedSelector.TryPrepare or From", nameof(selectors));
            }
        }

        return _index.TryAddPrepared(reservation, selectors, out field, out error);
    }

    /// <summary>Lays the rules out for checks and returns the index; the builder cannot be used afterwards.</summary>
    public MatcherIndex Complete()
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        _completed = true;
        _index.CompleteBuild();
        return _index;
    }
}
