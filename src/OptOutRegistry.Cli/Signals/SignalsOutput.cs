using System.Text.Json;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Resolution;

namespace OptOutRegistry.Cli.Signals;

/// <summary>Prints site-signal decisions for <c>optout signals</c> and <c>optout check-site</c>.</summary>
internal static class SignalsOutput
{
    /// <summary>The purposes accepted by <c>--purpose</c>.</summary>
    public const string PurposeHelp = "all, train-ai, train-genai, ai-use or search";

    public static bool TryParsePurpose(string? text, out UsageCategory purpose, out string? error)
    {
        if (text is not null && UsageCategories.TryParse(text, out purpose))
        {
            error = null;
            return true;
        }

        purpose = default;
        error = $"--purpose '{text}': expected {PurposeHelp}";
        return false;
    }

    public static void Write(TextWriter output, SiteDecision decision, bool json)
    {
        if (json)
        {
            using var stream = new MemoryStream();
            // Relaxed escaping: the output is for terminals and JSON tools, not for embedding in HTML.
            using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                decision.WriteJson(writer);
            }

            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }

        output.WriteLine($"{decision.Url}  {SiteDecision.VerdictName(decision.Decision)}  (agent {decision.Agent}, purpose {decision.Purpose.ToWireName()})");
        if (decision.Contributions.Count == 0)
        {
            output.WriteLine("  (no signals)");
        }

        foreach (var c in decision.Contributions)
        {
            output.WriteLine($"  {SiteDecision.MechanismName(c.Mechanism),-26} {SiteDecision.VerdictName(c.Verdict),-10} {c.Source}: {c.Detail}");
        }
    }

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"optout: {message}");
        return 2;
    }
}
