using System.Text.Json;
using OptOutRegistry.Signals.Robots;

namespace OptOutRegistry.Signals.Tdmrep;

/// <summary>One rule of <c>/.well-known/tdmrep.json</c>.</summary>
/// <param name="Index">0-based position in the array (rules are matched in order).</param>
/// <param name="Location">The compiled <c>location</c> pattern.</param>
/// <param name="Reservation">The reservation (unset when the value is invalid).</param>
/// <param name="Policy">The policy URL, if any.</param>
/// <param name="Error">What was invalid in the rule, if anything.</param>
public sealed record TdmrepRule(int Index, PathPattern Location, TdmReservation Reservation, string? Policy, string? Error);

/// <summary>
/// <c>/.well-known/tdmrep.json</c> (TDMRep §4.1): a JSON array of rules with <c>location</c>, <c>tdm-reservation</c>
/// and optional <c>tdm-policy</c>. "The most specific match is the first in sequence", so rules are tried in file order
/// (unlike robots.txt's longest match). Locations use robots.txt pattern syntax (<c>*</c>, <c>$</c>, percent-encoded
/// unreserved characters decoded) and match case-sensitively.
/// </summary>
public sealed class TdmrepFile
{
    /// <summary>Largest file read (bigger files are a protocol error, not a crash).</summary>
    public const int MaxBytes = 512 * 1024;

    /// <summary>Deepest JSON nesting accepted (the format needs 2).</summary>
    public const int MaxDepth = 16;

    private TdmrepFile(IReadOnlyList<TdmrepRule> rules, string? error)
    {
        Rules = rules;
        Error = error;
    }

    /// <summary>The valid rules in file order.</summary>
    public IReadOnlyList<TdmrepRule> Rules { get; }

    /// <summary>Why the file (or some of its rules) could not be used, or null.</summary>
    public string? Error { get; }

    /// <summary>A file that could not be used, with the reason (e.g. too large).</summary>
    public static TdmrepFile Invalid(string error) => new([], error);

    /// <summary>Parses the file. Never throws: a malformed file yields no rules and an <see cref="Error"/>.</summary>
    public static TdmrepFile Parse(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxBytes)
        {
            return new TdmrepFile([], $"tdmrep.json: larger than {MaxBytes} bytes; ignored");
        }

        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            return new TdmrepFile([], $"tdmrep.json: not valid JSON ({ex.Message})");
        }

        using (doc)
        {
            try
            {
                return FromDocument(doc);
            }
            catch (InvalidOperationException ex)
            {
                // JsonElement.GetString on a string that is not valid UTF-8.
                return new TdmrepFile([], $"tdmrep.json: {ex.Message}");
            }
        }
    }

    private static TdmrepFile FromDocument(JsonDocument doc)
    {
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
            {
                // §4.1: the file is an array of rules, even for a single rule.
                return new TdmrepFile([], $"tdmrep.json: the top level must be a JSON array, found {root.ValueKind}");
            }

            var rules = new List<TdmrepRule>();
            var errors = new List<string>();
            var index = 0;
            foreach (var e in root.EnumerateArray())
            {
                var i = index++;
                if (e.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"rule {i}: not an object");
                    continue;
                }

                if (!e.TryGetProperty("location", out var loc) || loc.ValueKind != JsonValueKind.String || loc.GetString() is not { Length: > 0 } location)
                {
                    errors.Add($"rule {i}: \"location\" must be a non-empty string");
                    continue;
                }

                string? ruleError = null;
                var reservation = TdmReservation.Unset;
                if (!e.TryGetProperty("tdm-reservation", out var res))
                {
                    ruleError = $"rule {i}: \"tdm-reservation\" is missing (unset)";
                }
                else if (res.ValueKind == JsonValueKind.Number && res.TryGetInt32(out var n) && n is 0 or 1 && !res.GetRawText().Contains('.'))
                {
                    reservation = n == 1 ? TdmReservation.Reserved : TdmReservation.NotReserved;
                }
                else
                {
                    // standards.md §10 case 4: "1" as a string, 2 or true are protocol errors ⇒ unset (strict, logged).
                    ruleError = $"rule {i}: \"tdm-reservation\" must be the number 0 or 1, found {TdmrepRules.Truncate(res.GetRawText())} (unset)";
                }

                string? policy = null;
                if (e.TryGetProperty("tdm-policy", out var pol))
                {
                    policy = TdmrepRules.ParsePolicy(pol.ValueKind == JsonValueKind.String ? pol.GetString() : pol.GetRawText(), out var pe);
                    ruleError ??= pe is null ? null : $"rule {i}: {pe}";
                }

                if (ruleError is not null)
                {
                    errors.Add(ruleError);
                }

                rules.Add(new TdmrepRule(i, PathPattern.Compile(location), reservation, policy, ruleError));
            }

            return new TdmrepFile(rules, errors.Count == 0 ? null : "tdmrep.json: " + string.Join("; ", errors));
        }
    }

    /// <summary>The first rule whose location matches the path, or null (then the reservation is unset for that URL).</summary>
    public TdmrepRule? Match(ReadOnlySpan<char> pathAndQuery)
    {
        var path = PathNormalizer.NormalizeString(pathAndQuery.IsEmpty ? "/" : pathAndQuery);
        foreach (var rule in Rules)
        {
            if (rule.Location.Matches(path))
            {
                return rule;
            }
        }

        return null;
    }

    /// <summary>The statement the file makes about a path, for the precedence chain.</summary>
    public TdmrepStatement Statement(ReadOnlySpan<char> pathAndQuery, string source)
    {
        var rule = Match(pathAndQuery);
        return rule is null
            ? new TdmrepStatement(TdmrepTechnique.WellKnownFile, TdmReservation.Unset, null, $"{source}: no rule matches", Error)
            : new TdmrepStatement(TdmrepTechnique.WellKnownFile, rule.Reservation, rule.Policy,
                $"{source} rule {rule.Index} (location \"{rule.Location.Text}\")", rule.Error);
    }
}
