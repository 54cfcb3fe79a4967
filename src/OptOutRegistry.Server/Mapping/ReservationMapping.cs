using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Mapping;

/// <summary>
/// Stored reservations are the serialized <see cref="Pb.Reservation"/> (services-common "Events"); this turns one back
/// into Core's model for the matcher, and builds the public view of one.
/// </summary>
public static class ReservationMapping
{
    /// <summary>Parses a stored payload.</summary>
    public static Pb.Reservation ParsePayload(byte[] payload) => Pb.Reservation.Parser.ParseFrom(payload);

    /// <summary>
    /// The Core reservation for a stored (already validated) wire reservation.
    /// </summary>
    /// <exception cref="ModelValidationException">The reservation does not validate (a payload written by another version).</exception>
    public static Reservation ToCore(Pb.Reservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var selectors = new ReservationSelector[reservation.Selectors.Count];
        for (var i = 0; i < selectors.Length; i++)
        {
            var (_, core) = ReservationSpecValidator.ValidateSelector(reservation.Selectors[i], $"selectors[{i}]");
            var verified = i < reservation.SelectorVerified.Count && reservation.SelectorVerified[i] && core.Kind.IsLocationKind();
            selectors[i] = new ReservationSelector(core, verified);
        }

        var statements = new UsageStatement[reservation.Statements.Count];
        for (var i = 0; i < statements.Length; i++)
        {
            var s = reservation.Statements[i];
            if (!EnumMapping.TryToCore(s.Category, out var category) || !EnumMapping.TryToCore(s.Permission, out var permission))
            {
                throw new ModelValidationException($"statements[{i}]", "has an unspecified category or permission");
            }

            var source = s.SourceVocabulary.Length > 0
                ? new StatementSource(s.SourceVocabulary, s.SourceVersion, s.SourceTerm, string.Empty)
                : null;
            statements[i] = new UsageStatement(category, permission, source);
        }

        var identifiers = new List<StandardIdentifier>(reservation.Work?.Identifiers.Count ?? 0);
        if (reservation.Work is not null)
        {
            foreach (var id in reservation.Work.Identifiers)
            {
                if (StandardIdentifier.TryParse(id, out var parsed, out _))
                {
                    identifiers.Add(parsed);
                }
            }
        }

        var work = reservation.Work is null
            ? WorkMetadata.Empty
            : new WorkMetadata(Empty(reservation.Work.Title), [.. reservation.Work.Creators], Empty(reservation.Work.Language), identifiers);
        var registeredAt = reservation.RegisteredAt.ToDateTimeOffset();
        return new Reservation(
            reservation.Id,
            reservation.HolderId,
            registeredAt,
            reservation.ValidFrom?.ToDateTimeOffset() ?? registeredAt,
            reservation.ValidUntil?.ToDateTimeOffset(),
            selectors,
            new UsageStatements(statements),
            Empty(reservation.PolicyUrl),
            EnumMapping.ToCore(reservation.State),
            reservation.StateChangedAt?.ToDateTimeOffset(),
            Empty(reservation.SupersededBy),
            work,
            Empty(reservation.PublicContact));
    }

    /// <summary>A timestamp with microsecond precision (what the store keeps).</summary>
    public static Timestamp ToTimestamp(DateTimeOffset time) => Timestamp.FromDateTimeOffset(ReservationSpecValidator.TruncateToMicroseconds(time));

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
