using System.Text;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Internal;

/// <summary>
/// Checks a mutation before any row is touched, so both stores refuse the same inputs with the same messages.
/// Limits are explicit (DESIGN.md "Bad input").
/// </summary>
internal static class MutationValidator
{
    public const int MaxIdLength = 128;
    public const int MaxNameLength = 500;
    public const int MaxHostLength = 253;
    public const int MaxShortLength = 64;
    public const int MaxTitleLength = 2000;
    public const int MaxListItems = 100;
    public const int MaxPayloadBytes = 1 << 20;
    public const int MaxChangesPerMutation = 64;

    public static void Validate(Mutation mutation)
    {
        if (mutation is null)
        {
            throw Invalid("mutation", "is missing");
        }

        if (mutation.Event is null)
        {
            throw Invalid("event", "is missing");
        }

        RequireName(mutation.Event.Actor, "event.actor");
        RequireName(mutation.Event.Type, "event.type");
        RequirePayload(mutation.Event.Payload, "event.payload");
        if (mutation.Changes is null || mutation.Changes.Count == 0)
        {
            throw Invalid("changes", "a mutation must change something");
        }

        if (mutation.Changes.Count > MaxChangesPerMutation)
        {
            throw Invalid("changes", $"has {mutation.Changes.Count} entries; the limit is {MaxChangesPerMutation}");
        }

        for (var i = 0; i < mutation.Changes.Count; i++)
        {
            ValidateChange(mutation.Changes[i], ChangePath(i));
        }
    }

    // "changes[i]" for every index a mutation may have: the field prefix of every check, built once rather than per
    // change (the bulk-import path validates tens of thousands of changes per second).
    private static readonly string[] ChangePaths = [.. Enumerable.Range(0, MaxChangesPerMutation).Select(i => $"changes[{i}]")];

    internal static string ChangePath(int i) => i < ChangePaths.Length ? ChangePaths[i] : $"changes[{i}]";

    public static void ValidateChallenge(VerificationChallenge challenge)
    {
        if (challenge is null)
        {
            throw Invalid("challenge", "is missing");
        }

        RequireText(challenge.HolderId, "challenge.holder_id", MaxIdLength);
        RequireText(challenge.Host, "challenge.host", MaxHostLength);
        RequireText(challenge.Token, "challenge.token", MaxNameLength);
        if (challenge.ExpiresAt <= challenge.CreatedAt)
        {
            throw Invalid("challenge.expires_at", "must be after created_at");
        }
    }

    private static void ValidateChange(StoreChange change, string path)
    {
        switch (change)
        {
            case CreateHolder c:
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                RequireText(c.DisplayName, path, ".display_name", MaxNameLength);
                OptionalText(c.ContactEmail, path, ".contact_email", MaxNameLength);
                break;
            case AddApiKey c:
                RequireText(c.KeyId, path, ".key_id", MaxIdLength);
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                if (c.KeyHash is null || c.KeyHash.Length != 32)
                {
                    throw Invalid(path + ".key_hash", "must be the 32-byte SHA-256 of the key");
                }

                RequireText(c.Prefix, path, ".prefix", MaxShortLength);
                OptionalText(c.Label, path, ".label", MaxNameLength);
                break;
            case RevokeApiKey c:
                RequireText(c.KeyId, path, ".key_id", MaxIdLength);
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                break;
            case AddVerifiedHost c:
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                RequireText(c.Host, path, ".host", MaxHostLength);
                RequireText(c.Method, path, ".method", MaxShortLength);
                break;
            case PutReservation c:
                RequireText(c.ReservationId, path, ".reservation_id", MaxIdLength);
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                RequireState(c.State, path, ".state");
                if (c.ValidFrom is { } from && c.ValidUntil is { } until && until <= from)
                {
                    throw Invalid(path + ".valid_until", "must be after valid_from");
                }

                OptionalText(c.HolderDisplayName, path, ".holder_display_name", MaxNameLength);
                RequirePayload(c.Payload, path, ".payload");
                if (c.Work is { } work)
                {
                    OptionalText(work.Title, path, ".work.title", MaxTitleLength);
                    OptionalText(work.Language, path, ".work.language", MaxShortLength);
                    RequireList(work.Creators, path, ".work.creators");
                    RequireList(work.Identifiers, path, ".work.identifiers");
                }

                break;
            case ChangeReservationState c:
                RequireText(c.ReservationId, path, ".reservation_id", MaxIdLength);
                RequireState(c.State, path, ".state");
                if (c.Payload is not null)
                {
                    RequirePayload(c.Payload, path, ".payload");
                }

                break;
            case RecordIdempotencyKey c:
                RequireText(c.HolderId, path, ".holder_id", MaxIdLength);
                RequireText(c.Key, path, ".key", MaxNameLength);
                RequireText(c.ResultId, path, ".result_id", MaxIdLength);
                break;
            case null:
                throw Invalid(path, "is missing");
            default:
                throw Invalid(path, $"unknown change type {change.GetType().Name}");
        }
    }

    // Field names are (path, suffix[, index]) and concatenated only when a check fails: a valid change allocates nothing.
    private static string Field(string path, string suffix, int index = -1) =>
        index < 0 ? path + suffix : $"{path}{suffix}[{index}]";

    private static void RequireState(ReservationState state, string path, string suffix)
    {
        if (state is not (ReservationState.Active or ReservationState.Superseded or ReservationState.Revoked))
        {
            throw Invalid(Field(path, suffix), $"{(int)state} is not a reservation state");
        }
    }

    private static void RequireList(IReadOnlyList<string>? items, string path, string suffix)
    {
        if (items is null)
        {
            throw Invalid(Field(path, suffix), "is missing (use an empty list)");
        }

        if (items.Count > MaxListItems)
        {
            throw Invalid(Field(path, suffix), $"has {items.Count} entries; the limit is {MaxListItems}");
        }

        for (var i = 0; i < items.Count; i++)
        {
            RequireText(items[i], path, suffix, MaxNameLength, i);
        }
    }

    private static void RequireName(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw Invalid(field, "must not be empty");
        }

        if (Encoding.UTF8.GetByteCount(value) > EventLeaf.MaxNameBytes)
        {
            throw Invalid(field, $"is longer than {EventLeaf.MaxNameBytes} UTF-8 bytes");
        }

        RejectControl(value, field, string.Empty, -1);
    }

    private static void RequirePayload(byte[]? payload, string field) => RequirePayload(payload, field, string.Empty);

    private static void RequirePayload(byte[]? payload, string path, string suffix)
    {
        if (payload is null)
        {
            throw Invalid(Field(path, suffix), "is missing (use an empty array)");
        }

        if (payload.Length > MaxPayloadBytes)
        {
            throw Invalid(Field(path, suffix), $"is {payload.Length} bytes; the limit is {MaxPayloadBytes}");
        }
    }

    private static void RequireText(string? value, string field, int maxLength) => RequireText(value, field, string.Empty, maxLength);

    private static void RequireText(string? value, string path, string suffix, int maxLength, int index = -1)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid(Field(path, suffix, index), "must not be empty");
        }

        OptionalText(value, path, suffix, maxLength, index);
    }

    private static void OptionalText(string? value, string field, int maxLength) => OptionalText(value, field, string.Empty, maxLength);

    private static void OptionalText(string? value, string path, string suffix, int maxLength, int index = -1)
    {
        if (value is null)
        {
            return;
        }

        if (value.Length > maxLength)
        {
            throw Invalid(Field(path, suffix, index), $"is {value.Length} characters; the limit is {maxLength}");
        }

        RejectControl(value, path, suffix, index);
    }

    // PostgreSQL text cannot hold NUL, and list columns are joined with U+001F: refuse all C0/C1 controls in
    // both stores so they accept exactly the same inputs. The vectorised range searches let the common case (no
    // control character, no surrogate) through without a per-character loop.
    private static void RejectControl(string value, string path, string suffix, int index)
    {
        var span = value.AsSpan();
        var control = span.IndexOfAnyInRange('\u0000', '\u001F');
        if (control < 0)
        {
            control = span.IndexOfAnyInRange('\u007F', '\u009F');
        }

        if (control >= 0)
        {
            throw Invalid(Field(path, suffix, index), $"contains the control character U+{(int)span[control]:X4}");
        }

        if (span.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0 && !IsWellFormed(value))
        {
            throw Invalid(Field(path, suffix, index), "is not well-formed UTF-16 (unpaired surrogate)");
        }
    }

    private static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    public static StoreException Invalid(string field, string reason) => new(StoreErrorKind.Invalid, field, reason);
}
