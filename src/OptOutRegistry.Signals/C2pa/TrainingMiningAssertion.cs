using System.Text.Json;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.C2pa;

/// <summary>One entry of a training-and-data-mining assertion.</summary>
/// <param name="Key">The key as written (<c>cawg.ai_training</c>, <c>c2pa.data_mining</c>…).</param>
/// <param name="Use">The <c>use</c> value as written.</param>
/// <param name="Verdict">What it means: <c>allowed</c> ⇒ allowed; <c>notAllowed</c> and <c>constrained</c> ⇒ disallowed.</param>
/// <param name="ConstraintInfo">The free-text constraint (<c>constraint_info</c> or <c>constraints_info</c>).</param>
public sealed record TrainingMiningEntry(string Key, string Use, Verdict Verdict, string? ConstraintInfo);

/// <summary>A training-and-data-mining assertion found in a manifest.</summary>
/// <param name="Label">The assertion label (<c>c2pa.training-mining</c> or <c>cawg.training-mining</c>).</param>
/// <param name="Entries">Its entries.</param>
/// <param name="Validated">False when the manifest store reported validation failures.</param>
public sealed record TrainingMiningAssertion(string Label, IReadOnlyList<TrainingMiningEntry> Entries, bool Validated);

/// <summary>
/// Reads C2PA 1.x <c>c2pa.training-mining</c> and CAWG <c>cawg.training-mining</c> assertions from their JSON form
/// (a single assertion, an array of assertions, one manifest, or a c2patool-style manifest store whose
/// <c>active_manifest</c> is used; ingredients describe other assets and are not read). Entries may sit under
/// <c>data.entries</c> or directly under <c>data</c> (the CAWG CBOR example; early versions were unclear).
/// Binary C2PA manifests (JUMBF in JPEG/PNG/MP4) are not parsed here yet: extract them to JSON first (e.g. c2patool).
/// </summary>
public static class TrainingMining
{
    /// <summary>Deepest JSON nesting accepted.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses JSON. Never throws: malformed input yields no assertions and an error.</summary>
    public static IReadOnlyList<TrainingMiningAssertion> Parse(string json, out string? error)
    {
        error = null;
        var found = new List<TrainingMiningAssertion>();
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxDepth });
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("manifests", out var manifests) && manifests.ValueKind == JsonValueKind.Object)
            {
                var validated = !HasValidationFailures(root);
                if (root.TryGetProperty("active_manifest", out var active) && active.ValueKind == JsonValueKind.String &&
                    manifests.TryGetProperty(active.GetString()!, out var manifest))
                {
                    ReadManifest(manifest, validated, found);
                }
                else
                {
                    foreach (var m in manifests.EnumerateObject())
                    {
                        ReadManifest(m.Value, validated, found);
                    }
                }
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("assertions", out _))
            {
                ReadManifest(root, !HasValidationFailures(root), found);
            }
            else if (root.ValueKind == JsonValueKind.Array)
            {
                foreach (var a in root.EnumerateArray())
                {
                    ReadAssertion(a, true, found);
                }
            }
            else
            {
                ReadAssertion(root, true, found);
            }
        }
        catch (JsonException ex)
        {
            error = $"C2PA JSON: {ex.Message}";
        }
        catch (InvalidOperationException ex)
        {
            // JsonDocument.Parse checks the structure only; GetString throws InvalidOperationException for a string that
            // is not valid UTF-8 or holds an unpaired surrogate escape such as "\ud800" (RFC 8259 §8.1, §8.2).
            found.Clear();
            error = $"C2PA JSON: a string is not valid Unicode (invalid UTF-8 or an unpaired surrogate escape): {ex.Message}";
        }

        return found;
    }

    /// <summary>
    /// Maps assertions onto registry categories (standards.md §9): <c>data_mining</c> ⇒ all, <c>ai_training</c> ⇒
    /// train-ai, <c>ai_generative_training</c> ⇒ train-genai, <c>ai_inference</c> ⇒ ai-use. Several assertions combine
    /// most-restrictively. From an unvalidated manifest only restrictions are kept: an unverified permission is not trusted.
    /// </summary>
    public static UsagePreferences ToPreferences(IEnumerable<TrainingMiningAssertion> assertions)
    {
        var p = UsagePreferences.None;
        foreach (var a in assertions)
        {
            foreach (var e in a.Entries)
            {
                if (MapKey(e.Key) is not { } category)
                {
                    continue;
                }

                var v = !a.Validated && e.Verdict == Verdict.Allowed ? Verdict.Unknown : e.Verdict;
                p[category] = p[category].MostRestrictive(v);
            }
        }

        return p;
    }

    /// <summary>Maps an entry key with either prefix to a category, or null for custom keys.</summary>
    public static UsageCategory? MapKey(string key)
    {
        var dot = key.IndexOf('.');
        var prefix = dot < 0 ? "" : key[..dot];
        if (prefix is not ("c2pa" or "cawg"))
        {
            return null;
        }

        return key[(dot + 1)..] switch
        {
            "data_mining" => UsageCategory.All,
            "ai_training" => UsageCategory.TrainAi,
            "ai_generative_training" => UsageCategory.TrainGenAi,
            "ai_inference" => UsageCategory.AiUse,
            _ => null,
        };
    }

    private static bool HasValidationFailures(JsonElement e)
    {
        if (e.TryGetProperty("validation_state", out var state) && state.ValueKind == JsonValueKind.String)
        {
            return state.GetString() is not ("Valid" or "Trusted");
        }

        // c2patool lists failures in validation_status (success codes go to validation_results).
        return e.TryGetProperty("validation_status", out var status) && status.ValueKind == JsonValueKind.Array && status.GetArrayLength() > 0;
    }

    private static void ReadManifest(JsonElement manifest, bool validated, List<TrainingMiningAssertion> found)
    {
        if (manifest.ValueKind == JsonValueKind.Object && manifest.TryGetProperty("assertions", out var assertions) &&
            assertions.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in assertions.EnumerateArray())
            {
                ReadAssertion(a, validated, found);
            }
        }
    }

    private static void ReadAssertion(JsonElement a, bool validated, List<TrainingMiningAssertion> found)
    {
        if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("label", out var l) || l.ValueKind != JsonValueKind.String)
        {
            return;
        }

        var label = l.GetString()!;
        // C2PA appends "__N" to repeated labels.
        var baseLabel = label.Contains("__", StringComparison.Ordinal) ? label[..label.IndexOf("__", StringComparison.Ordinal)] : label;
        if (baseLabel is not ("c2pa.training-mining" or "cawg.training-mining") ||
            !a.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var container = data.TryGetProperty("entries", out var entries) && entries.ValueKind == JsonValueKind.Object ? entries : data;
        var list = new List<TrainingMiningEntry>();
        foreach (var p in container.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Object || !p.Value.TryGetProperty("use", out var use) || use.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            var u = use.GetString()!;
            var verdict = u switch
            {
                "allowed" => Verdict.Allowed,
                "notAllowed" => Verdict.Disallowed,
                // "In the absence of additional information, constrained shall be treated as equivalent to notAllowed."
                "constrained" => Verdict.Disallowed,
                _ => Verdict.Unknown,
            };
            string? info = null;
            foreach (var name in (ReadOnlySpan<string>)["constraint_info", "constraints_info"])
            {
                if (p.Value.TryGetProperty(name, out var ci) && ci.ValueKind == JsonValueKind.String)
                {
                    info = ci.GetString();
                }
            }

            list.Add(new TrainingMiningEntry(p.Name, u, verdict, info));
        }

        found.Add(new TrainingMiningAssertion(label, list, validated));
    }
}
