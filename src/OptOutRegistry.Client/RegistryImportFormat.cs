using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client;

/// <summary>A line of a JSON Lines import that could not be read: <see cref="Field"/> and the reason.</summary>
public sealed class ImportFormatException(string field, string reason) : FormatException($"{field}: {reason}")
{
    /// <summary>The key at fault, e.g. <c>disallow[1]</c>.</summary>
    public string Field { get; } = field;

    /// <summary>Why.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// The JSON Lines import format (issue 6 item 6; docs/import-format.md): one JSON object per line, a selector as a
/// top-level key (<c>url</c>, <c>prefix</c>, <c>pattern</c> {host, path}, <c>host</c>, <c>domain</c>, <c>sha256</c>,
/// <c>iscc</c>, <c>identifier</c>) and/or a <c>selectors</c> list of such objects, the statements as <c>disallow</c> /
/// <c>allow</c> lists of category names, and optionally <c>valid_from</c>, <c>valid_until</c> (RFC 3339),
/// <c>policy_url</c>, <c>idempotency_key</c>, <c>title</c>, <c>creators</c>, <c>language</c>, <c>identifiers</c>.
/// The same mapping serves <c>optout register</c>'s flags. This reads the syntax; the server validates the values.
/// </summary>
public static class RegistryImportFormat
{
    /// <summary>Longest line accepted (bytes of UTF-16 text); longer lines are refused before parsing.</summary>
    public const int MaxLineLength = 1 << 20;

    /// <summary>Deepest JSON nesting accepted (the format needs 3).</summary>
    public const int MaxDepth = 8;

    private static readonly string[] s_selectorKeys = ["url", "prefix", "pattern", "host", "domain", "sha256", "iscc", "identifier"];

    /// <summary>Reads one line into an import item. When the line has no <c>idempotency_key</c>, one is derived from its content.</summary>
    /// <exception cref="ImportFormatException">The line is not a valid item (names the key).</exception>
    public static Pb.ImportReservationsRequest ParseLine(string line, string clientReference)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (line.Length > MaxLineLength)
        {
            throw new ImportFormatException("line", $"is {line.Length} characters; the limit is {MaxLineLength}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException ex)
        {
            throw new ImportFormatException("line", "is not JSON: " + ex.Message);
        }

        try
        {
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new ImportFormatException("line", "must be a JSON object");
                }

                var spec = new Pb.ReservationSpec();
                string? key = null;
                var disallow = new List<string>();
                var allow = new List<string>();
                foreach (var property in root.EnumerateObject())
                {
                    var name = property.Name;
                    var value = property.Value;
                    switch (name)
                    {
                        case "url" or "prefix" or "pattern" or "host" or "domain" or "sha256" or "iscc" or "identifier":
                            spec.Selectors.Add(ParseSelectorValue(name, value, name));
                            break;
                        case "any_query" or "include_subdomains":
                            // Options of the top-level selector; applied below once every key has been read.
                            RequireBool(value, name);
                            break;
                        case "selectors":
                            if (value.ValueKind != JsonValueKind.Array)
                            {
                                throw new ImportFormatException(name, "must be a list of selector objects");
                            }

                            var i = 0;
                            foreach (var item in value.EnumerateArray())
                            {
                                spec.Selectors.Add(ParseSelectorObject(item, $"selectors[{i}]"));
                                i++;
                            }

                            break;
                        case "disallow":
                            disallow.AddRange(ReadStrings(value, name));
                            break;
                        case "allow":
                            allow.AddRange(ReadStrings(value, name));
                            break;
                        case "valid_from":
                            spec.ValidFrom = ParseTime(RequireString(value, name), name);
                            break;
                        case "valid_until":
                            spec.ValidUntil = ParseTime(RequireString(value, name), name);
                            break;
                        case "policy_url":
                            spec.PolicyUrl = RequireString(value, name);
                            break;
                        case "idempotency_key":
                            key = RequireString(value, name);
                            break;
                        case "title":
                            (spec.Work ??= new Pb.WorkMetadata()).Title = RequireString(value, name);
                            break;
                        case "creators":
                            (spec.Work ??= new Pb.WorkMetadata()).Creators.AddRange(ReadStrings(value, name));
                            break;
                        case "language":
                            (spec.Work ??= new Pb.WorkMetadata()).Language = RequireString(value, name);
                            break;
                        case "identifiers":
                            (spec.Work ??= new Pb.WorkMetadata()).Identifiers.AddRange(ReadStrings(value, name));
                            break;
                        default:
                            throw new ImportFormatException(name, "is not a key of the import format (see docs/import-format.md)");
                    }
                }

                ApplyTopLevelOptions(root, spec);
                if (spec.Selectors.Count == 0)
                {
                    throw new ImportFormatException("line", "has no selector: give one of url, prefix, pattern, host, domain, sha256, iscc, identifier, or a selectors list");
                }

                AddStatements(spec, disallow, allow);
                return new Pb.ImportReservationsRequest
                {
                    Spec = spec,
                    IdempotencyKey = key ?? DeriveIdempotencyKey(line),
                    ClientReference = clientReference,
                };
            }
        }
        catch (InvalidOperationException ex)
        {
            // JsonDocument.Parse checks the structure only; GetString throws InvalidOperationException for a string that
            // is not valid UTF-8 or holds an unpaired surrogate escape such as "\ud800" (RFC 8259 §8.1, §8.2).
            throw new ImportFormatException("line", "has a string that is not valid Unicode (invalid UTF-8 or an unpaired surrogate escape): " + ex.Message);
        }
    }

    /// <summary>
    /// The idempotency key of a line without one: <c>line-sha256:</c> and the SHA-256 of the line's UTF-8 bytes (surrounding
    /// whitespace removed). Keys are scoped to the holder by the server, so (holder, content hash) identifies the item:
    /// importing the same line again, by the same holder, creates nothing new.
    /// </summary>
    public static string DeriveIdempotencyKey(string line) =>
        "line-sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(line.Trim())));

    /// <summary>Adds one statement per category name (disallow first); a category in both lists is refused.</summary>
    /// <exception cref="ImportFormatException">Unknown category, a category listed twice, or no statement at all.</exception>
    public static void AddStatements(Pb.ReservationSpec spec, IReadOnlyList<string> disallow, IReadOnlyList<string> allow)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var seen = new Dictionary<Pb.UsageCategory, string>();
        Add(disallow, "disallow", Pb.Permission.Disallow);
        Add(allow, "allow", Pb.Permission.Allow);
        if (spec.Statements.Count == 0)
        {
            throw new ImportFormatException("disallow", "is missing: say which uses are reserved, e.g. \"disallow\": [\"train-ai\"] (categories: all, train-ai, train-genai, ai-use, search)");
        }

        void Add(IReadOnlyList<string> names, string field, Pb.Permission permission)
        {
            for (var i = 0; i < names.Count; i++)
            {
                var category = ParseCategory(names[i], $"{field}[{i}]");
                if (seen.TryGetValue(category, out var first))
                {
                    throw new ImportFormatException($"{field}[{i}]", $"'{names[i]}' is already listed in {first}");
                }

                seen[category] = $"{field}[{i}]";
                spec.Statements.Add(new Pb.UsageStatement { Category = category, Permission = permission });
            }
        }
    }

    /// <summary>A category wire name (all, train-ai, train-genai, ai-use, search).</summary>
    /// <exception cref="ImportFormatException">Unknown name.</exception>
    public static Pb.UsageCategory ParseCategory(string name, string field) => name.Trim().ToLowerInvariant() switch
    {
        "all" => Pb.UsageCategory.All,
        "train-ai" => Pb.UsageCategory.TrainAi,
        "train-genai" => Pb.UsageCategory.TrainGenai,
        "ai-use" => Pb.UsageCategory.AiUse,
        "search" => Pb.UsageCategory.Search,
        _ => throw new ImportFormatException(field, $"'{name}' is not a usage category (all, train-ai, train-genai, ai-use, search)"),
    };

    /// <summary>The wire name of a category.</summary>
    public static string CategoryName(Pb.UsageCategory category) => category switch
    {
        Pb.UsageCategory.All => "all",
        Pb.UsageCategory.TrainAi => "train-ai",
        Pb.UsageCategory.TrainGenai => "train-genai",
        Pb.UsageCategory.AiUse => "ai-use",
        Pb.UsageCategory.Search => "search",
        _ => "unspecified",
    };

    /// <summary>An RFC 3339 time.</summary>
    /// <exception cref="ImportFormatException">Not RFC 3339 with an offset.</exception>
    public static Timestamp ParseTime(string value, string field)
    {
        // RFC 3339 §5.6 requires the offset (Z or ±hh:mm); a local time would depend on the importing machine.
        if (value.Length < 20 || !(value.EndsWith('Z') || value.EndsWith('z') || value[^6] is '+' or '-')
            || !DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            throw new ImportFormatException(field, $"'{value}' is not an RFC 3339 time such as 2026-12-01T00:00:00Z");
        }

        return Timestamp.FromDateTimeOffset(time);
    }

    private static void ApplyTopLevelOptions(JsonElement root, Pb.ReservationSpec spec)
    {
        var anyQuery = root.TryGetProperty("any_query", out var aq) && aq.ValueKind == JsonValueKind.True;
        var includeSubdomains = root.TryGetProperty("include_subdomains", out var isd) && isd.ValueKind == JsonValueKind.True;
        if (!anyQuery && !includeSubdomains)
        {
            return;
        }

        // The options belong to the top-level selector (the first ones added, before any "selectors" list entries).
        var topLevel = 0;
        foreach (var key in s_selectorKeys)
        {
            if (root.TryGetProperty(key, out _))
            {
                topLevel++;
            }
        }

        if (topLevel == 0)
        {
            throw new ImportFormatException(anyQuery ? "any_query" : "include_subdomains", "applies to a top-level selector; inside \"selectors\" put it in the selector's object");
        }

        for (var i = 0; i < topLevel; i++)
        {
            spec.Selectors[i].AnyQuery |= anyQuery && spec.Selectors[i].ValueCase == Pb.Selector.ValueOneofCase.Url;
            spec.Selectors[i].IncludeSubdomains |= includeSubdomains && spec.Selectors[i].ValueCase == Pb.Selector.ValueOneofCase.Host;
        }
    }

    private static Pb.Selector ParseSelectorObject(JsonElement item, string field)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new ImportFormatException(field, "must be an object with one selector key, e.g. {\"url\": \"https://example.com/a.jpg\"}");
        }

        Pb.Selector? selector = null;
        bool anyQuery = false, includeSubdomains = false;
        foreach (var property in item.EnumerateObject())
        {
            switch (property.Name)
            {
                case "url" or "prefix" or "pattern" or "host" or "domain" or "sha256" or "iscc" or "identifier":
                    if (selector is not null)
                    {
                        throw new ImportFormatException($"{field}.{property.Name}", "a selector object has exactly one selector key");
                    }

                    selector = ParseSelectorValue(property.Name, property.Value, $"{field}.{property.Name}");
                    break;
                case "any_query":
                    anyQuery = RequireBool(property.Value, $"{field}.any_query");
                    break;
                case "include_subdomains":
                    includeSubdomains = RequireBool(property.Value, $"{field}.include_subdomains");
                    break;
                default:
                    throw new ImportFormatException($"{field}.{property.Name}", "is not a selector key (url, prefix, pattern, host, domain, sha256, iscc, identifier, any_query, include_subdomains)");
            }
        }

        if (selector is null)
        {
            throw new ImportFormatException(field, "has no selector key");
        }

        selector.AnyQuery = anyQuery;
        selector.IncludeSubdomains = includeSubdomains;
        return selector;
    }

    private static Pb.Selector ParseSelectorValue(string kind, JsonElement value, string field)
    {
        if (kind == "pattern")
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw new ImportFormatException(field, "must be an object {\"host\": \"example.com\", \"path\": \"/photos/*.jpg$\"}");
            }

            var pattern = new Pb.PathPattern();
            foreach (var property in value.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "host": pattern.Host = RequireString(property.Value, field + ".host"); break;
                    case "path": pattern.Path = RequireString(property.Value, field + ".path"); break;
                    default: throw new ImportFormatException($"{field}.{property.Name}", "is not a key of a pattern (host, path)");
                }
            }

            return new Pb.Selector { Pattern = pattern };
        }

        var text = RequireString(value, field);
        return kind switch
        {
            "url" => new Pb.Selector { Url = text },
            "prefix" => new Pb.Selector { Prefix = text },
            "host" => new Pb.Selector { Host = text },
            "domain" => new Pb.Selector { Domain = text },
            "sha256" => new Pb.Selector { Sha256 = text },
            "iscc" => new Pb.Selector { Iscc = text },
            _ => new Pb.Selector { Identifier = text },
        };
    }

    private static string RequireString(JsonElement value, string field) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new ImportFormatException(field, $"must be a string, not {Describe(value)}");

    private static bool RequireBool(JsonElement value, string field) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new ImportFormatException(field, $"must be true or false, not {Describe(value)}"),
    };

    private static List<string> ReadStrings(JsonElement value, string field)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            // A single name is accepted for a one-element list: "disallow": "all".
            return [value.GetString()!];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new ImportFormatException(field, $"must be a list of strings, not {Describe(value)}");
        }

        var result = new List<string>();
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            result.Add(RequireString(item, $"{field}[{i}]"));
            i++;
        }

        return result;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "a string",
    };
}
