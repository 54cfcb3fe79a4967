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
        firstValue = null;
        secondValue = null;
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

                            var name = reader.GetString();
                            reader.Read();
                            if (hit1)
                            {
                                var error = Step(ref reader, first, ref matched1, ref firstValue, name);
                                if (error is not null) { return error; }
                            }

                            if (hit2)
                            {
                                var error = Step(ref reader, second!, ref matched2, ref secondValue, name);
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
    }

    private static string? Step(ref Utf8JsonReader reader, FieldPath path, ref int matched, ref string? value, string? name)
    {
        if (matched == path._segments.Length - 1)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                value = reader.GetString();
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
        _ = name;
        return null;
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
