using System.Text.Json;

namespace OptOutRegistry.Fingerprints.Tests;

/// <summary>Loads the upstream vector files copied under corpora/ (see corpora/README.md).</summary>
internal static class Corpus
{
    public static string PathOf(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "corpora", .. parts]);

    public static JsonDocument Load(params string[] parts) =>
        JsonDocument.Parse(File.ReadAllBytes(PathOf(parts)));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
