using System.Text;
using System.Text.Json;

namespace OptOutRegistry.Filtering;

/// <summary>A dotted field path (<c>meta.source.url</c>) into a JSON object, matched while validating the whole line.</summary>
public sealed class FieldPath
{
    private readonly byte[][] _segments;

    /// <summary>Parses a dotted path; segments must be non-empty.</summary>
    /// <exception cref="ArgumentException">An empty path or segment.</exception>
    public FieldPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Text = path;
        var parts = path.Split('.');
        _segments = new byte[parts.Length][];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length == 0)
            {
                throw new ArgumentException($"field path '{path}': segment {i + 1} is empty", nameof(path));
            }

            _segments[i] = Encoding.UTF8.GetBytes(parts[i]);
        }
    }

    /// <summary>The UTF-8 segments, for the fast scanner.</summary>
    internal byte[][] Segments => _segments;

    /// <summary>The path as given.</summary>
    public string Text { get; }

    /// <summary>The column name for CSV/TSV (the path taken literally).</summary>
    public override string ToString() => Text;

    /// <summary>
    /// Validates <paramref name="json"/> as one JSON object and returns the string values at <paramref name="first"/> and
    /// (optionally) <paramref name="second"/>. Returns an error naming the problem for malformed JSON, a non-object, or
    /// a field that is present but not a string; a missing field gives null.
    /// </summary>
    public static string? Extract(ReadOnlySpan<byte> json, FieldPath first, FieldPath? second, out string? firstValue, out string? secondValue)
    {
        var error = Locate(json, first, second, out var a, out var b);
        firstValue = error is null ? a.GetString(json) : null;
        secondValue = error is null ? b.GetString(json) : null;
        return error;
    }

    /// <summary>
    /// Like <see cref="Extract"/> but allocation-free: returns where the string values are in <paramref name="json"/>
    /// (the hot path of <c>optout filter</c>, which transcodes them straight into its buffers).
    /// </summary>
    internal static string? Locate(ReadOnlySpan<byte> json, FieldPath first, FieldPath? second, out JsonStringRef firstValue, out JsonStringRef secondValue)
    {
        firstValue = JsonStringRef.None;
        secondValue = JsonStringRef.None;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "not a JSON object";
            }

            // matchedN: number of leading segments of each path whose objects we are inside; -1 once the path is ruled out.
            var matched1 = 0;
            var matched2 = second is null ? -1 : 0;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        {
                            var depth = reader.CurrentDepth;
                            var hit1 = matched1 >= 0 && depth == matched1 + 1 && reader.ValueTextEquals(first._segments[matched1]);
                            var hit2 = matched2 >= 0 && depth == matched2 + 1 && reader.ValueTextEquals(second!._segments[matched2]);
                            if (!hit1 && !hit2)
                            {
                                break;
                            }

                            reader.Read();
                            if (hit1)
                            {
                                var error = Step(ref reader, first, ref matched1, ref firstValue);
                                if (error is not null) { return error; }
                            }

                            if (hit2)
                            {
                                var error = Step(ref reader, second!, ref matched2, ref secondValue);
                                if (error is not null) { return error; }
                            }

                            if (reader.TokenType is JsonTokenType.StartArray || (reader.TokenType is JsonTokenType.StartObject && !(hit1 && matched1 == depth) && !(hit2 && matched2 == depth)))
                            {
                                reader.Skip();
                            }

                            break;
                        }

                    case JsonTokenType.EndObject:
                        // Leaving an object we descended into: the path cannot match anywhere later.
                        if (matched1 > 0 && reader.CurrentDepth == matched1) { matched1 = -1; }
                        if (matched2 > 0 && reader.CurrentDepth == matched2) { matched2 = -1; }
                        break;
                }
            }

            return null;
        }
        catch (JsonException ex)
        {
            return $"malformed JSON at byte {reader.BytesConsumed}: {ex.Message}";
        }
        catch (InvalidOperationException)
        {
            // ValueTextEquals unescapes a property name and throws for an unpaired surrogate escape such as "\ud800"
            // (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
            return $"malformed JSON at byte {reader.BytesConsumed}: a property name is not valid Unicode (unpaired surrogate escape)";
        }
    }

    private static string? Step(ref Utf8JsonReader reader, FieldPath path, ref int matched, ref JsonStringRef value)
    {
        if (matched == path._segments.Length - 1)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                // Utf8JsonReader checks escapes only when unescaping: "\ud800" (an unpaired surrogate) or invalid UTF-8 in
                // an escaped string would throw InvalidOperationException later, in GetString/CopyString (fuzz finding,
                // benchmarks/Reliability/FUZZ-RESULTS.md). Unescape once here so the record is rejected as malformed.
                if (reader.ValueIsEscaped && !CanUnescape(ref reader))
                {
                    return $"field '{path.Text}' is not valid Unicode (invalid UTF-8 or an unpaired surrogate escape)";
                }

                // For a string token read from a span, TokenStartIndex is the opening quote and ValueSpan the raw content.
                value = new JsonStringRef((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length, reader.ValueIsEscaped);
                matched = -1;
                return null;
            }

            if (reader.TokenType == JsonTokenType.Null)
            {
                matched = -1;
                return null;
            }

            return $"field '{path.Text}' is a {Describe(reader.TokenType)}, not a string";
        }

        if (reader.TokenType == JsonTokenType.StartObject)
        {
            matched++;
            return null;
        }

        matched = -1;
        return null;
    }

    private static bool CanUnescape(ref Utf8JsonReader reader)
    {
        // Unescaped text is never longer than its escaped form.
        var length = reader.ValueSpan.Length;
        var rented = length <= 256 ? null : System.Buffers.ArrayPool<char>.Shared.Rent(length);
        Span<char> buffer = rented ?? stackalloc char[256];
        try
        {
            reader.CopyString(buffer);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>Where a JSON string value is inside a record: its raw content (between the quotes), possibly escaped.</summary>
internal readonly record struct JsonStringRef(int Start, int Length, bool Escaped)
{
    /// <summary>No value (field missing or null).</summary>
    public static JsonStringRef None => new(-1, 0, false);

    /// <summary>Whether a value was found.</summary>
    public bool Found => Start >= 0;

    /// <summary>The value as a string (null when not found).</summary>
    public string? GetString(ReadOnlySpan<byte> json)
    {
        if (!Found) { return null; }
        if (!Escaped) { return Encoding.UTF8.GetString(json.Slice(Start, Length)); }
        var reader = Reader(json);
        return reader.GetString();
    }

    /// <summary>Unescaped UTF-16 into <paramref name="destination"/> (at least <see cref="Length"/> chars); returns the count.</summary>
    public int CopyChars(ReadOnlySpan<byte> json, Span<char> destination)
    {
        if (!Escaped) { return Encoding.UTF8.GetChars(json.Slice(Start, Length), destination); }
        var reader = Reader(json);
        return reader.CopyString(destination);
    }

    /// <summary>Unescaped UTF-8 into <paramref name="destination"/> (at least <see cref="Length"/> bytes); returns the count.</summary>
    public int CopyUtf8(ReadOnlySpan<byte> json, Span<byte> destination)
    {
        if (!Escaped)
        {
            json.Slice(Start, Length).CopyTo(destination);
            return Length;
        }

        var reader = Reader(json);
        return reader.CopyString(destination);
    }

    // The string token again, quotes included: the reader unescapes it (the whole line was validated already).
    private Utf8JsonReader Reader(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json.Slice(Start - 1, Length + 2));
        reader.Read();
        return reader;
    }
}
