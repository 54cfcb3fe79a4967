using OptOutRegistry.Core.Identifiers;

namespace OptOutRegistry.Core.Model;

/// <summary>A selector of a reservation together with whether the holder's control of its host was verified.</summary>
/// <param name="Selector">The selector.</param>
/// <param name="HostVerified">True when the holder proved control of the host (DESIGN.md "Verification"); content selectors are never verified.</param>
public sealed record ReservationSelector(Selector Selector, bool HostVerified = false);

/// <summary>Optional metadata about the reserved work, for search (never used for matching).</summary>
/// <param name="Title">Title of the work.</param>
/// <param name="Creators">Creators (authors, artists), in the holder's order.</param>
/// <param name="Language">BCP 47 language tag.</param>
/// <param name="Identifiers">Standard identifiers of the work.</param>
public sealed record WorkMetadata(string? Title = null, IReadOnlyList<string>? Creators = null, string? Language = null,
    IReadOnlyList<StandardIdentifier>? Identifiers = null)
{
    /// <summary>No metadata.</summary>
    public static WorkMetadata Empty { get; } = new();
}

/// <summary>
/// One declaration by one holder (DESIGN.md "The model"): which content (selectors) it covers, what it says
/// per usage category (statements), and when it is in force. Immutable: state changes return new instances
/// (<see cref="Supersede"/>, <see cref="Revoke"/>). The constructor validates every field and throws
/// <see cref="ModelValidationException"/> naming the field.
/// </summary>
public sealed class Reservation
{
    /// <summary>Longest id / holder id accepted.</summary>
    public const int MaxIdLength = 128;

    /// <summary>Most selectors in one reservation; bulk imports split larger sets.</summary>
    public const int MaxSelectors = 100_000;

    /// <summary>Creates and validates a reservation.</summary>
    /// <param name="id">Registry-assigned id (printable ASCII, no spaces, ≤ 128 characters).</param>
    /// <param name="holderId">The holder's id (same rules).</param>
    /// <param name="registeredAt">Server time of registration (never client-supplied).</param>
    /// <param name="validFrom">Start of validity; must be ≥ <paramref name="registeredAt"/> (never retroactive).</param>
    /// <param name="validUntil">Optional end of validity (exclusive); must be after <paramref name="validFrom"/>.</param>
    /// <param name="selectors">What the reservation covers; at least one.</param>
    /// <param name="statements">What it says per category; at least one statement.</param>
    /// <param name="policyUrl">Optional absolute http(s) URL of a policy or licence.</param>
    /// <param name="state">Life-cycle state; with <see cref="ReservationState.Superseded"/> or <see cref="ReservationState.Revoked"/>, <paramref name="stateChangedAt"/> is required.</param>
    /// <param name="stateChangedAt">When the state changed; ≥ <paramref name="registeredAt"/>.</param>
    /// <param name="supersededBy">The id of the replacing reservation, only when superseded.</param>
    /// <param name="work">Optional work metadata.</param>
    /// <param name="publicContact">Optional public contact (never private data).</param>
    public Reservation(
        string id,
        string holderId,
        DateTimeOffset registeredAt,
        DateTimeOffset validFrom,
        DateTimeOffset? validUntil,
        IEnumerable<ReservationSelector> selectors,
        UsageStatements statements,
        string? policyUrl = null,
        ReservationState state = ReservationState.Active,
        DateTimeOffset? stateChangedAt = null,
        string? supersededBy = null,
        WorkMetadata? work = null,
        string? publicContact = null)
    {
        ValidateId("id", id);
        ValidateId("holder_id", holderId);
        if (validFrom < registeredAt)
        {
            throw new ModelValidationException("valid_from", $"{validFrom:O} is before registered_at {registeredAt:O}; a reservation is never retroactive");
        }

        if (validUntil is { } until && until <= validFrom)
        {
            throw new ModelValidationException("valid_until", $"{until:O} is not after valid_from {validFrom:O}");
        }

        ArgumentNullException.ThrowIfNull(selectors);
        var list = selectors.ToArray();
        if (list.Length == 0)
        {
            throw new ModelValidationException("selectors", "a reservation needs at least one selector");
        }

        if (list.Length > MaxSelectors)
        {
            throw new ModelValidationException("selectors", $"{list.Length} selectors; at most {MaxSelectors} per reservation");
        }

        for (var i = 0; i < list.Length; i++)
        {
            if (list[i]?.Selector is null)
            {
                throw new ModelValidationException($"selectors[{i}]", "is null");
            }

            if (list[i].HostVerified && !list[i].Selector.Kind.IsLocationKind())
            {
                throw new ModelValidationException($"selectors[{i}].host_verified", $"a {list[i].Selector.Kind.ToWireName()} selector has no host to verify");
            }
        }

        ArgumentNullException.ThrowIfNull(statements);
        if (statements.Count == 0)
        {
            throw new ModelValidationException("statements", "a reservation needs at least one usage statement");
        }

        if (policyUrl is not null)
        {
            if (!Uri.TryCreate(policyUrl, UriKind.Absolute, out var u) || (u.Scheme != Uri.UriSchemeHttps && u.Scheme != Uri.UriSchemeHttp))
            {
                throw new ModelValidationException("policy_url", $"'{policyUrl}' is not an absolute http(s) URL");
            }
        }

        switch (state)
        {
            case ReservationState.Active:
                if (stateChangedAt is not null || supersededBy is not null)
                {
                    throw new ModelValidationException("state_changed_at", "an active reservation has no state change");
                }

                break;
            case ReservationState.Superseded:
            case ReservationState.Revoked:
                if (stateChangedAt is not { } changed)
                {
                    throw new ModelValidationException("state_changed_at", $"a {state.ToString().ToLowerInvariant()} reservation needs the time of the change");
                }

                if (changed < registeredAt)
                {
                    throw new ModelValidationException("state_changed_at", $"{changed:O} is before registered_at {registeredAt:O}");
                }

                if (state == ReservationState.Superseded)
                {
                    ValidateId("superseded_by", supersededBy);
                }
                else if (supersededBy is not null)
                {
                    throw new ModelValidationException("superseded_by", "only a superseded reservation names its replacement");
                }

                break;
            default:
                throw new ModelValidationException("state", $"unknown state {(int)state}");
        }

        Id = id;
        HolderId = holderId;
        RegisteredAt = registeredAt;
        ValidFrom = validFrom;
        ValidUntil = validUntil;
        Selectors = list;
        Statements = statements;
        PolicyUrl = policyUrl;
        State = state;
        StateChangedAt = stateChangedAt;
        SupersededBy = supersededBy;
        Work = work ?? WorkMetadata.Empty;
        PublicContact = publicContact;
    }

    /// <summary>Registry-assigned id.</summary>
    public string Id { get; }

    /// <summary>The declaring holder.</summary>
    public string HolderId { get; }

    /// <summary>Server time of registration.</summary>
    public DateTimeOffset RegisteredAt { get; }

    /// <summary>Start of validity (inclusive), ≥ <see cref="RegisteredAt"/>.</summary>
    public DateTimeOffset ValidFrom { get; }

    /// <summary>End of validity (exclusive), if any.</summary>
    public DateTimeOffset? ValidUntil { get; }

    /// <summary>What the reservation covers.</summary>
    public IReadOnlyList<ReservationSelector> Selectors { get; }

    /// <summary>What it says per usage category.</summary>
    public UsageStatements Statements { get; }

    /// <summary>Policy or licence URL, if any.</summary>
    public string? PolicyUrl { get; }

    /// <summary>Life-cycle state.</summary>
    public ReservationState State { get; }

    /// <summary>When the state became <see cref="ReservationState.Superseded"/> or <see cref="ReservationState.Revoked"/>.</summary>
    public DateTimeOffset? StateChangedAt { get; }

    /// <summary>The id of the reservation that replaced this one.</summary>
    public string? SupersededBy { get; }

    /// <summary>Work metadata (search only).</summary>
    public WorkMetadata Work { get; }

    /// <summary>Public contact, if the holder published one.</summary>
    public string? PublicContact { get; }

    /// <summary>
    /// The end of the interval in which the reservation is in force: the earlier of
    /// <see cref="ValidUntil"/> and <see cref="StateChangedAt"/>; null when open-ended.
    /// </summary>
    public DateTimeOffset? EffectiveUntil => (ValidUntil, StateChangedAt) switch
    {
        ({ } u, { } c) => u < c ? u : c,
        ({ } u, null) => u,
        (null, { } c) => c,
        _ => null,
    };

    /// <summary>
    /// Whether the reservation is in force at <paramref name="instant"/>: in [<see cref="ValidFrom"/>,
    /// <see cref="EffectiveUntil"/>). A reservation superseded or revoked at T applies to instants before T
    /// (time travel keeps history), not at or after T.
    /// </summary>
    public bool IsInForceAt(DateTimeOffset instant) =>
        instant >= ValidFrom && (EffectiveUntil is not { } end || instant < end);

    /// <summary>A copy marked superseded by <paramref name="replacementId"/> at <paramref name="at"/>.</summary>
    /// <exception cref="ModelValidationException">The reservation is not active, or the instant is before registration.</exception>
    public Reservation Supersede(string replacementId, DateTimeOffset at)
    {
        EnsureActive();
        return new Reservation(Id, HolderId, RegisteredAt, ValidFrom, ValidUntil, Selectors, Statements, PolicyUrl,
            ReservationState.Superseded, at, replacementId, Work, PublicContact);
    }

    /// <summary>A copy marked revoked at <paramref name="at"/>.</summary>
    /// <exception cref="ModelValidationException">The reservation is not active, or the instant is before registration.</exception>
    public Reservation Revoke(DateTimeOffset at)
    {
        EnsureActive();
        return new Reservation(Id, HolderId, RegisteredAt, ValidFrom, ValidUntil, Selectors, Statements, PolicyUrl,
            ReservationState.Revoked, at, null, Work, PublicContact);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Id} by {HolderId} ({State}, {Selectors.Count} selectors, {Statements})";

    private void EnsureActive()
    {
        if (State != ReservationState.Active)
        {
            throw new ModelValidationException("state", $"reservation {Id} is already {State.ToString().ToLowerInvariant()}");
        }
    }

    private static void ValidateId(string field, string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new ModelValidationException(field, "is empty");
        }

        if (id.Length > MaxIdLength)
        {
            throw new ModelValidationException(field, $"is longer than {MaxIdLength} characters");
        }

        foreach (var c in id)
        {
            if (c is <= ' ' or > '~')
            {
                throw new ModelValidationException(field, $"contains '{(c < ' ' ? $"U+{(int)c:X4}" : c.ToString())}'; ids are printable ASCII without spaces");
            }
        }
    }
}
