using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// Decodes a stored <c>optout.v1.Reservation</c> (common.proto) straight from its bytes into what the matcher keeps
/// (<see cref="PreparedReservation"/>, <see cref="PreparedSelector"/>): a hand-written walk of the protobuf wire format
/// (protobuf.dev/programming-guides/encoding) that reads ids, holder, validity, state, statements, selectors and
/// their verified flags, and skips <c>work</c>, <c>public_contact</c>, statement sources and unknown fields without
/// decoding them — no generated message objects, and for url selectors no strings at all (the value is decoded into a
/// stack buffer, canonicalised and hashed). It accepts and refuses what <c>Reservation.Parser</c> followed by
/// <see cref="ProtoConvert.ToCore(Api.V1.Reservation)"/> accepts and refuses, so the matcher is the same either way
/// (tested on the same payloads); damaged bytes (truncated, wrong wire types, lengths past the end, invalid UTF-8)
/// are refused with a reason, never an exception. One instance per thread (it keeps scratch lists and a string cache).
/// </summary>
public sealed class ReservationWireDecoder
{
    // Field numbers of optout.v1.Reservation, Selector, PathPattern, UsageStatement and google.protobuf.Timestamp.
    private const int FieldId = 1, FieldHolderId = 2, FieldHolderName = 3, FieldRegisteredAt = 4, FieldValidFrom = 5,
        FieldValidUntil = 6, FieldState = 7, FieldStateChangedAt = 8, FieldSupersededBy = 9, FieldSelectors = 11,
        FieldStatements = 12, FieldPolicyUrl = 13, FieldSelectorVerified = 16;

    private const int WireVarint = 0, WireFixed64 = 1, WireLength = 2, WireFixed32 = 5;
    private const int StackChars = 512;

    // Strict UTF-8: protobuf strings must be valid UTF-8; a payload that is not is damaged and refused.
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly List<(int Start, int Length)> _selectorRanges = [];
    private readonly List<bool> _verified = [];
    private readonly StringCache _strings = new();

    /// <summary>
    /// Decodes one payload. On success the reservation's selectors have been appended to <paramref name="selectors"/>
    /// (in order); on failure nothing is appended and <paramref name="error"/> names the field and the reason.
    /// </summary>
    /// <param name="payload">The stored bytes.</param>
    /// <param name="selectors">Where the prepared selectors go.</param>
    /// <param name="reservation">The prepared reservation.</param>
    /// <param name="holderName">The holder's display name carried by the payload, or null when empty.</param>
    /// <param name="id">The reservation id when it could be read (also on failure, for the report), else empty.</param>
    /// <param name="error">On failure: <c>field: reason</c>.</param>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryDecode(ReadOnlySpan<byte> payload, List<PreparedSelector> selectors, out PreparedReservation reservation,
        out string? holderName, out string id, out string? error)
    {
        ArgumentNullException.ThrowIfNull(selectors);
        reservation = default;
        holderName = null;
        id = string.Empty;
        var firstSelector = selectors.Count;
        _selectorRanges.Clear();
        _verified.Clear();
        if (!TryWalk(payload, out var fields, out var statements, out error))
        {
            // For the report: the id, when it was read before the damage.
            if (fields.Id.Length > 0 && TryString(payload, fields.Id, "id", cache: false, out var readId, out _))
            {
                id = readId!;
            }

            return false;
        }

        if (!TryString(payload, fields.Id, "id", cache: false, out var idText, out error))
        {
            return false;
        }

        id = idText!;
        if (!TryString(payload, fields.HolderId, "holder_id", cache: true, out var holderId, out error)
            || !TryString(payload, fields.HolderName, "holder_name", cache: true, out holderName, out error)
            || !TryString(payload, fields.PolicyUrl, "policy_url", cache: true, out var policyUrl, out error))
        {
            holderName = null;
            return false;
        }

        if (holderName?.Length == 0)
        {
            holderName = null;
        }

        if (!fields.RegisteredAt.Present)
        {
            error = "registered_at: is not set";
            return false;
        }

        if (!fields.RegisteredAt.TryTicks("registered_at", out var registeredAt, out error)
            || !fields.ValidFrom.TryTicks("valid_from", out var validFrom, out error)
            || !fields.ValidUntil.TryTicks("valid_until", out var validUntil, out error))
        {
            return false;
        }

        ReservationState state;
        switch (fields.State)
        {
            case 0 or 1: state = ReservationState.Active; break;
            case 2: state = ReservationState.Superseded; break;
            case 3: state = ReservationState.Revoked; break;
            default:
                error = $"state: unknown state {(int)fields.State}";
                return false;
        }

        long? stateChangedAt = null;
        string? supersededBy = null;
        if (state != ReservationState.Active)
        {
            if (!fields.StateChangedAt.Present)
            {
                error = "state_changed_at: is not set";
                return false;
            }

            if (!fields.StateChangedAt.TryTicks("state_changed_at", out var changed, out error))
            {
                return false;
            }

            stateChangedAt = changed;
            if (state == ReservationState.Superseded
                && !TryString(payload, fields.SupersededBy, "superseded_by", cache: false, out supersededBy, out error))
            {
                return false;
            }

        }

        for (var i = 0; i < _selectorRanges.Count; i++)
        {
            var (start, length) = _selectorRanges[i];
            if (!TrySelector(payload.Slice(start, length), i < _verified.Count && _verified[i], out var selector, out var field, out var reason))
            {
                selectors.RemoveRange(firstSelector, selectors.Count - firstSelector);
                error = $"selectors[{i}].{field}: {reason}";
                return false;
            }

            selectors.Add(selector);
        }

        if (!PreparedReservation.TryCreate(id, holderId ?? string.Empty, registeredAt, fields.ValidFrom.Present ? validFrom : registeredAt,
                fields.ValidUntil.Present ? validUntil : null, state, stateChangedAt, supersededBy, statements,
                string.IsNullOrEmpty(policyUrl) ? null : policyUrl, out reservation, out var f, out var r))
        {
            selectors.RemoveRange(firstSelector, selectors.Count - firstSelector);
            error = $"{f}: {r}";
            return false;
        }

        return true;
    }

    // ------------------------------------------------------------------------------------------------ top level

    private struct Fields
    {
        public (int Start, int Length) Id, HolderId, HolderName, SupersededBy, PolicyUrl;
        public Time RegisteredAt, ValidFrom, ValidUntil, StateChangedAt;
        public ulong State;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryWalk(ReadOnlySpan<byte> payload, out Fields fields, out ushort statements, out string? error)
    {
        fields = default;
        statements = 0;
        var statementIndex = 0;
        var position = 0;
        while (position < payload.Length)
        {
            if (!TryTag(payload, ref position, out var number, out var wire, out error))
            {
                return false;
            }

            if (wire == WireLength && number is >= FieldId and <= FieldSelectorVerified)
            {
                if (!TryLength(payload, ref position, out var start, out var length, out error))
                {
                    return false;
                }

                var body = payload.Slice(start, length);
                switch (number)
                {
                    case FieldId: fields.Id = (start, length); break;
                    case FieldHolderId: fields.HolderId = (start, length); break;
                    case FieldHolderName: fields.HolderName = (start, length); break;
                    case FieldRegisteredAt when !fields.RegisteredAt.TryMerge(body, "registered_at", out error):
                    case FieldValidFrom when !fields.ValidFrom.TryMerge(body, "valid_from", out error):
                    case FieldValidUntil when !fields.ValidUntil.TryMerge(body, "valid_until", out error):
                    case FieldStateChangedAt when !fields.StateChangedAt.TryMerge(body, "state_changed_at", out error):
                        return false;
                    case FieldSupersededBy: fields.SupersededBy = (start, length); break;
                    case FieldSelectors: _selectorRanges.Add((start, length)); break;
                    case FieldStatements:
                        if (!TryStatement(body, statementIndex++, ref statements, out error))
                        {
                            return false;
                        }

                        break;
                    case FieldPolicyUrl: fields.PolicyUrl = (start, length); break;
                    case FieldSelectorVerified:
                        // Packed repeated bool (proto3's default encoding).
                        var p = 0;
                        while (p < body.Length)
                        {
                            if (!TryVarint(body, ref p, out var flag))
                            {
                                error = "selector_verified: truncated";
                                return false;
                            }

                            _verified.Add(flag != 0);
                        }

                        break;
                }

                continue;
            }

            if (wire == WireVarint && number is FieldState or FieldSelectorVerified)
            {
                if (!TryVarint(payload, ref position, out var value))
                {
                    error = $"{(number == FieldState ? "state" : "selector_verified")}: truncated";
                    return false;
                }

                if (number == FieldState)
                {
                    // An enum is an int32 on the wire (sign-extended to 64 bits when negative).
                    fields.State = (ulong)(uint)(int)(long)value;
                }
                else
                {
                    _verified.Add(value != 0);
                }

                continue;
            }

            // work (15), public_contact (14), supersedes (10), unknown fields and known numbers with another wire type:
            // skipped, as the generated parser keeps them as unknown fields.
            if (!TrySkip(payload, ref position, wire, out error))
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryStatement(ReadOnlySpan<byte> body, int index, ref ushort packed, out string? error)
    {
        ulong category = 0, permission = 0;
        var position = 0;
        while (position < body.Length)
        {
            if (!TryTag(body, ref position, out var number, out var wire, out error))
            {
                error = $"statements[{index}]: {error}";
                return false;
            }

            if (wire == WireVarint && number is 1 or 2)
            {
                if (!TryVarint(body, ref position, out var value))
                {
                    error = $"statements[{index}]: truncated";
                    return false;
                }

                var enumValue = (ulong)(uint)(int)(long)value;
                if (number == 1)
                {
                    category = enumValue;
                }
                else
                {
                    permission = enumValue;
                }

                continue;
            }

            if (!TrySkip(body, ref position, wire, out error))
            {
                error = $"statements[{index}]: {error}";
                return false;
            }
        }

        // optout.v1.UsageCategory is Core's numbering + 1 (0 is UNSPECIFIED); Permission 1 = DISALLOW, 2 = ALLOW.
        if (category == 0)
        {
            error = $"statements[{index}].category: is unspecified";
            return false;
        }

        if (category > (ulong)UsageCategories.Count)
        {
            error = $"statements[{index}].category: unknown usage category {(int)category}";
            return false;
        }

        var corePermission = permission switch
        {
            1 => UsagePermission.Disallow,
            2 => UsagePermission.Allow,
            _ => (UsagePermission)0,
        };
        if (corePermission == 0)
        {
            error = $"statements[{index}].permission: unknown permission {(int)permission}";
            return false;
        }

        if (!PreparedReservation.TryAddStatement(ref packed, (UsageCategory)(int)(category - 1), corePermission, out var reason))
        {
            error = $"statements[{index}].category: {reason}";
            return false;
        }

        error = null;
        return true;
    }

    // ------------------------------------------------------------------------------------------------ selectors

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TrySelector(ReadOnlySpan<byte> body, bool verified, out PreparedSelector selector, out string field, out string? error)
    {
        selector = default;
        field = "value";
        var kind = 0;
        (int Start, int Length) value = default, patternHost = default, patternPath = default;
        var anyQuery = false;
        var includeSubdomains = false;
        var position = 0;
        while (position < body.Length)
        {
            if (!TryTag(body, ref position, out var number, out var wire, out error))
            {
                return false;
            }

            if (wire == WireLength && number is >= 1 and <= 8)
            {
                if (!TryLength(body, ref position, out var start, out var length, out error))
                {
                    return false;
                }

                if (number == 3)
                {
                    // A oneof message field: a second occurrence merges into the first (while the case is unchanged).
                    if (kind != 3)
                    {
                        patternHost = default;
                        patternPath = default;
                    }

                    if (!TryPattern(body, start, length, ref patternHost, ref patternPath, out error))
                    {
                        return false;
                    }
                }

                kind = number;
                value = (start, length);
                continue;
            }

            if (wire == WireVarint && number is 20 or 21)
            {
                if (!TryVarint(body, ref position, out var flag))
                {
                    error = "truncated";
                    return false;
                }

                if (number == 20)
                {
                    anyQuery = flag != 0;
                }
                else
                {
                    includeSubdomains = flag != 0;
                }

                continue;
            }

            if (!TrySkip(body, ref position, wire, out error))
            {
                return false;
            }
        }

        if (kind == 0)
        {
            error = "no selector value is set";
            return false;
        }

        // optout.v1.Selector's oneof numbers are Core's SelectorKind + 1 (url = 1 … identifier = 8).
        var coreKind = (SelectorKind)(kind - 1);
        var options = (anyQuery ? SelectorOptions.AnyQuery : SelectorOptions.None)
            | (includeSubdomains ? SelectorOptions.IncludeSubdomains : SelectorOptions.None);
        string? f;
        if (coreKind == SelectorKind.Pattern)
        {
            if (!TryDecodeString(body, patternHost, out var host, out error) || !TryDecodeString(body, patternPath, out var path, out error))
            {
                return false;
            }

            // As Selector.CreatePattern (which ProtoConvert uses): the path must start with '/' or '*'.
            if (!path.StartsWith('/') && !path.StartsWith('*'))
            {
                error = $"pattern '{path}' must start with '/' or '*'";
                return false;
            }

            // Pattern options are refused by Selector.TryCreate as for any other kind.
            var ok = PreparedSelector.TryPrepare(coreKind, host + path, options, verified, out selector, out f, out error);
            field = f ?? field;
            return ok;
        }

        var bytes = body.Slice(value.Start, value.Length);
        char[]? rented = null;
        Span<char> chars = bytes.Length <= StackChars ? stackalloc char[StackChars] : (rented = ArrayPool<char>.Shared.Rent(bytes.Length));
        try
        {
            int written;
            try
            {
                written = Utf8.GetChars(bytes, chars);
            }
            catch (DecoderFallbackException)
            {
                error = "is not valid UTF-8";
                return false;
            }

            var result = PreparedSelector.TryPrepare(coreKind, chars[..written], options, verified, out selector, out f, out error);
            field = f ?? field;
            return result;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryPattern(ReadOnlySpan<byte> body, int start, int length, ref (int, int) host, ref (int, int) path, out string? error)
    {
        var message = body.Slice(start, length);
        var position = 0;
        while (position < message.Length)
        {
            if (!TryTag(message, ref position, out var number, out var wire, out error))
            {
                return false;
            }

            if (wire == WireLength && number is 1 or 2)
            {
                if (!TryLength(message, ref position, out var s, out var n, out error))
                {
                    return false;
                }

                if (number == 1)
                {
                    host = (start + s, n);
                }
                else
                {
                    path = (start + s, n);
                }

                continue;
            }

            if (!TrySkip(message, ref position, wire, out error))
            {
                return false;
            }
        }

        error = null;
        return true;
    }

    // ------------------------------------------------------------------------------------------------ timestamps

    /// <summary>A google.protobuf.Timestamp being read: occurrences merge field by field, as the generated parser does.</summary>
    private struct Time
    {
        public bool Present;
        public long Seconds;
        public int Nanos;

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool TryMerge(ReadOnlySpan<byte> body, string name, out string? error)
        {
            Present = true;
            var position = 0;
            while (position < body.Length)
            {
                if (!TryTag(body, ref position, out var number, out var wire, out error))
                {
                    error = $"{name}: {error}";
                    return false;
                }

                if (wire == WireVarint && number is 1 or 2)
                {
                    if (!TryVarint(body, ref position, out var value))
                    {
                        error = $"{name}: truncated";
                        return false;
                    }

                    if (number == 1)
                    {
                        Seconds = (long)value;
                    }
                    else
                    {
                        Nanos = (int)(long)value;
                    }

                    continue;
                }

                if (!TrySkip(body, ref position, wire, out error))
                {
                    error = $"{name}: {error}";
                    return false;
                }
            }

            error = null;
            return true;
        }

        // As ProtoConvert: the proto3 range (0001-01-01..9999-12-31), nanos 0..999,999,999, whole ticks (100 ns).
        public readonly bool TryTicks(string name, out long ticks, out string? error)
        {
            ticks = 0;
            if (!Present)
            {
                error = null;
                return true;
            }

            if (Nanos is < 0 or > 999_999_999 || Seconds is < -62_135_596_800L or > 253_402_300_799L)
            {
                error = $"{name}: is not a valid timestamp (seconds 0001-01-01..9999-12-31, nanos 0..999999999)";
                return false;
            }

            ticks = DateTimeOffset.UnixEpoch.UtcTicks + (Seconds * TimeSpan.TicksPerSecond) + (Nanos / 100);
            error = null;
            return true;
        }
    }

    // ------------------------------------------------------------------------------------------------ wire primitives

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryString(ReadOnlySpan<byte> payload, (int Start, int Length) range, string name, bool cache, out string? value, out string? error)
    {
        var bytes = payload.Slice(range.Start, range.Length);
        if (cache && _strings.TryGet(bytes, out value))
        {
            error = null;
            return true;
        }

        try
        {
            value = bytes.IsEmpty ? string.Empty : Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            value = null;
            error = $"{name}: is not valid UTF-8";
            return false;
        }

        if (cache)
        {
            _strings.Add(bytes, value);
        }

        error = null;
        return true;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryDecodeString(ReadOnlySpan<byte> body, (int Start, int Length) range, out string value, out string? error)
    {
        try
        {
            value = range.Length == 0 ? string.Empty : Utf8.GetString(body.Slice(range.Start, range.Length));
            error = null;
            return true;
        }
        catch (DecoderFallbackException)
        {
            value = string.Empty;
            error = "is not valid UTF-8";
            return false;
        }
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryTag(ReadOnlySpan<byte> span, ref int position, out int number, out int wire, out string? error)
    {
        number = 0;
        wire = 0;
        if (!TryVarint(span, ref position, out var tag))
        {
            error = "truncated tag";
            return false;
        }

        // Field numbers are 1..2^29-1 (protobuf.dev encoding: "field numbers"); 0 is invalid.
        if (tag >> 3 is 0 or > 0x1FFF_FFFF)
        {
            error = $"invalid field number {tag >> 3}";
            return false;
        }

        number = (int)(tag >> 3);
        wire = (int)(tag & 7);
        error = null;
        return true;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryLength(ReadOnlySpan<byte> span, ref int position, out int start, out int length, out string? error)
    {
        start = 0;
        length = 0;
        if (!TryVarint(span, ref position, out var n) || n > (ulong)(span.Length - position))
        {
            error = "length-delimited field runs past the end";
            return false;
        }

        start = position;
        length = (int)n;
        position += length;
        error = null;
        return true;
    }

    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TrySkip(ReadOnlySpan<byte> span, ref int position, int wire, out string? error)
    {
        switch (wire)
        {
            case WireVarint:
                if (TryVarint(span, ref position, out _))
                {
                    error = null;
                    return true;
                }

                break;
            case WireFixed64 when span.Length - position >= 8:
                position += 8;
                error = null;
                return true;
            case WireFixed32 when span.Length - position >= 4:
                position += 4;
                error = null;
                return true;
            case WireLength:
                return TryLength(span, ref position, out _, out _, out error);
            case WireFixed64 or WireFixed32:
                break;
            default:
                // Groups (3, 4) are not used by optout.v1; 6 and 7 do not exist.
                error = $"unsupported wire type {wire}";
                return false;
        }

        error = "truncated field";
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryVarint(ReadOnlySpan<byte> span, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && position < span.Length; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A small direct-mapped cache of decoded strings by their bytes: holder ids, holder names and policy URLs repeat
    /// from row to row, so most rows decode none of them.
    /// </summary>
    private sealed class StringCache
    {
        private const int Slots = 256;
        private readonly byte[]?[] _keys = new byte[Slots][];
        private readonly string?[] _values = new string[Slots];

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool TryGet(ReadOnlySpan<byte> bytes, out string? value)
        {
            var slot = Slot(bytes);
            if (_keys[slot] is { } key && bytes.SequenceEqual(key))
            {
                value = _values[slot];
                return true;
            }

            value = null;
            return false;
        }

        public void Add(ReadOnlySpan<byte> bytes, string? value)
        {
            if (bytes.Length > 256)
            {
                return;
            }

            var slot = Slot(bytes);
            _keys[slot] = bytes.ToArray();
            _values[slot] = value;
        }

        // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static int Slot(ReadOnlySpan<byte> bytes)
        {
            var hash = new HashCode();
            hash.AddBytes(bytes);
            return hash.ToHashCode() & (Slots - 1);
        }
    }
}
