using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace OptOutRegistry.Filtering;

/// <summary>
/// The fast path of <see cref="FieldPath.Locate"/> for one JSON Lines record: validates the line against the RFC 8259
/// grammar and finds the string values at up to two dotted paths in a single forward pass, without materialising
/// anything. It answers only lines it fully understands (valid UTF-8, no escapes, no control characters, nesting
/// below <see cref="MaxDepth"/>, the fields found as strings, null or absent); for everything else it returns false
/// and the caller runs <see cref="FieldPath.Locate"/>, whose <c>Utf8JsonReader</c> gives the exact error message
/// and position. A line is therefore never accepted here that the reader would reject, and the error behaviour is
/// the reader's. Path semantics are the reader path's: the first occurrence of a name wins, a path stops at a
/// non-object, and only the object a path descended into can hold its next segment.
/// </summary>
internal static class JsonLineScanner
{
    /// <summary>Nesting the fast path handles; deeper lines go to the reader (whose limit is 64).</summary>
    public const int MaxDepth = 60;

    // Bytes that send a line to the reader: control characters (only legal as whitespace outside strings, rare in
    // JSON Lines) and the backslash (an escape: names must be compared unescaped and values unescaped to check them).
    private static readonly SearchValues<byte> s_unsure = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, (byte)'\\']);

    /// <summary>
    /// Returns true with the values' positions when the line is a well-formed JSON object this scanner fully
    /// understands; false when the caller must use <see cref="FieldPath.Locate"/> (malformed, escaped, a field of
    /// the wrong type, or anything unusual).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryLocate(ReadOnlySpan<byte> json, FieldPath first, FieldPath? second, out JsonStringRef firstValue, out JsonStringRef secondValue)
    {
        firstValue = JsonStringRef.None;
        secondValue = JsonStringRef.None;
        if (json.IndexOfAny(s_unsure) >= 0 || !Utf8.IsValid(json))
        {
            return false;
        }

        var segments1 = first.Segments;
        var segments2 = second?.Segments;
        var matched1 = 0;
        var matched2 = segments2 is null ? -1 : 0;
        var i = SkipSpaces(json, 0);
        if (i >= json.Length || json[i] != (byte)'{')
        {
            return false;
        }

        // Bit d of arrays is set when the container at depth d (1-based) is an array.
        ulong arrays = 0;
        var depth = 1;
        i++;
        var expectValue = false;   // inside an array: a value is next
        var afterOpen = true;      // right after '{' or '[': the container may close at once
        while (true)
        {
            i = SkipSpaces(json, i);
            if (i >= json.Length)
            {
                return false;
            }

            var inArray = (arrays & (1UL << depth)) != 0;
            var c = json[i];
            if (afterOpen && c == (byte)(inArray ? ']' : '}'))
            {
                i++;
                goto Closed;
            }

            afterOpen = false;
            var hit1 = false;
            var hit2 = false;
            if (!inArray && !expectValue)
            {
                // A property: "name" ws : ws value
                if (c != (byte)'"')
                {
                    return false;
                }

                var nameStart = i + 1;
                var nameLength = json[nameStart..].IndexOf((byte)'"');
                if (nameLength < 0)
                {
                    return false;
                }

                var name = json.Slice(nameStart, nameLength);
                hit1 = matched1 >= 0 && depth == matched1 + 1 && name.SequenceEqual(segments1[matched1]);
                hit2 = matched2 >= 0 && depth == matched2 + 1 && name.SequenceEqual(segments2![matched2]);
                i = SkipSpaces(json, nameStart + nameLength + 1);
                if (i >= json.Length || json[i] != (byte)':')
                {
                    return false;
                }

                i = SkipSpaces(json, i + 1);
                if (i >= json.Length)
                {
                    return false;
                }

                c = json[i];
            }

            expectValue = false;
            switch (c)
            {
                case (byte)'"':
                {
                    var start = i + 1;
                    var length = json[start..].IndexOf((byte)'"');
                    if (length < 0)
                    {
                        return false;
                    }

                    if (hit1)
                    {
                        if (matched1 == segments1.Length - 1) { firstValue = new JsonStringRef(start, length, false); }
                        matched1 = -1;
                    }

                    if (hit2)
                    {
                        if (matched2 == segments2!.Length - 1) { secondValue = new JsonStringRef(start, length, false); }
                        matched2 = -1;
                    }

                    i = start + length + 1;
                    break;
                }

                case (byte)'{' or (byte)'[':
                {
                    var isObject = c == (byte)'{';
                    // The last segment must be a string: the reader path names the wrong type.
                    if ((hit1 && (matched1 == segments1.Length - 1)) || (hit2 && (matched2 == segments2!.Length - 1)))
                    {
                        return false;
                    }

                    if (depth >= MaxDepth)
                    {
                        return false;
                    }

                    depth++;
                    if (hit1) { matched1 = isObject ? depth - 1 : -1; }
                    if (hit2) { matched2 = isObject ? depth - 1 : -1; }
                    if (isObject)
                    {
                        arrays &= ~(1UL << depth);
                    }
                    else
                    {
                        arrays |= 1UL << depth;
                        expectValue = true;
                    }

                    afterOpen = true;
                    i++;
                    continue;
                }

                default:
                {
                    var end = ScanScalar(json, i);
                    if (end < 0)
                    {
                        return false;
                    }

                    // null ends a path like a missing field; any other scalar at the last segment is the reader's error.
                    var isNull = end - i == 4 && c == (byte)'n';
                    if (hit1)
                    {
                        if (matched1 == segments1.Length - 1 && !isNull) { return false; }
                        matched1 = -1;
                    }

                    if (hit2)
                    {
                        if (matched2 == segments2!.Length - 1 && !isNull) { return false; }
                        matched2 = -1;
                    }

                    i = end;
                    break;
                }
            }

            inArray = (arrays & (1UL << depth)) != 0;
            switch (AfterValue(json, ref i, inArray))
            {
                case Next.Reject:
                    return false;
                case Next.Comma:
                    expectValue = inArray;
                    continue;
            }

        Closed:
            var closedObject = (arrays & (1UL << depth)) == 0;
            depth--;
            if (closedObject)
            {
                // Leaving the object a path descended into: the path cannot match anywhere later.
                if (matched1 > 0 && depth == matched1) { matched1 = -1; }
                if (matched2 > 0 && depth == matched2) { matched2 = -1; }
            }

            if (depth == 0)
            {
                // One value per line: only whitespace may follow.
                return SkipSpaces(json, i) == json.Length;
            }

            // The closed container was a value of the one around it.
            inArray = (arrays & (1UL << depth)) != 0;
            switch (AfterValue(json, ref i, inArray))
            {
                case Next.Reject:
                    return false;
                case Next.Comma:
                    expectValue = inArray;
                    continue;
            }

            goto Closed;
        }
    }

    private enum Next
    {
        Reject,
        Comma,
        Close,
    }

    /// <summary>
    /// The step after a value: ',' continues the container (<see cref="Next.Comma"/>), its closing bracket ends it
    /// (<see cref="Next.Close"/>); <paramref name="i"/> is moved past either. Inlined at its two call sites, after a
    /// scalar and after a closed container: as one shared loop with two entries the control flow is irreducible and
    /// the JIT's code ran ~12% slower (measured against the two inline copies this replaces).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Next AfterValue(ReadOnlySpan<byte> json, ref int i, bool inArray)
    {
        i = SkipSpaces(json, i);
        if (i >= json.Length)
        {
            return Next.Reject;
        }

        if (json[i] == (byte)',')
        {
            i++;
            return Next.Comma;
        }

        if (json[i] != (byte)(inArray ? ']' : '}'))
        {
            return Next.Reject;
        }

        i++;
        return Next.Close;
    }

    // Control characters were ruled out up front, so the space is the only whitespace left.
    private static int SkipSpaces(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] == (byte)' ')
        {
            i++;
        }

        return i;
    }

    // true, false, null or an RFC 8259 §6 number; returns the index after it, or -1.
    private static int ScanScalar(ReadOnlySpan<byte> json, int i)
    {
        var rest = json[i..];
        if (rest.StartsWith("true"u8)) { return Delimited(json, i + 4); }
        if (rest.StartsWith("false"u8)) { return Delimited(json, i + 5); }
        if (rest.StartsWith("null"u8)) { return Delimited(json, i + 4); }

        // number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
        if (json[i] == (byte)'-') { i++; }
        if (i >= json.Length) { return -1; }
        if (json[i] == (byte)'0')
        {
            i++;
        }
        else if (json[i] is >= (byte)'1' and <= (byte)'9')
        {
            i = Digits(json, i);
        }
        else
        {
            return -1;
        }

        if (i < json.Length && json[i] == (byte)'.')
        {
            var d = Digits(json, i + 1);
            if (d == i + 1) { return -1; }
            i = d;
        }

        if (i < json.Length && json[i] is (byte)'e' or (byte)'E')
        {
            i++;
            if (i < json.Length && json[i] is (byte)'+' or (byte)'-') { i++; }
            var d = Digits(json, i);
            if (d == i) { return -1; }
            i = d;
        }

        return Delimited(json, i);
    }

    private static int Digits(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is >= (byte)'0' and <= (byte)'9')
        {
            i++;
        }

        return i;
    }

    // A scalar must be followed by whitespace, ',', '}' or ']' (or the end, which the caller rejects).
    private static int Delimited(ReadOnlySpan<byte> json, int i) =>
        i >= json.Length || json[i] is (byte)' ' or (byte)',' or (byte)'}' or (byte)']' ? i : -1;
}
