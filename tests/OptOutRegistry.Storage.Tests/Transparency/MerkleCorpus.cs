using System.Text.Json;

namespace OptOutRegistry.Storage.Tests.Transparency;

/// <summary>Loads corpora/rfc6962-merkle (see its README and LICENSE).</summary>
internal static class MerkleCorpus
{
    private static readonly Lazy<JsonDocument> Vectors = new(() => Load("merkle_vectors.json"));
    private static readonly Lazy<JsonDocument> Probes = new(() => Load("merkle_verify_probes.json"));
    private static readonly Lazy<JsonDocument> Derived = new(() => Load("merkle_all_proofs_8_leaves.derived.json"));

    public static JsonElement VectorsRoot => Vectors.Value.RootElement;

    public static JsonElement ProbesRoot => Probes.Value.RootElement;

    public static JsonElement DerivedRoot => Derived.Value.RootElement;

    public static byte[][] Leaves => [.. VectorsRoot.GetProperty("leaves_hex").EnumerateArray().Select(e => Hex(e))];

    public static byte[] Hex(JsonElement element) =>
        element.ValueKind == JsonValueKind.Null ? [] : Convert.FromHexString(element.GetString()!);

    public static byte[][] HexList(JsonElement element) =>
        element.ValueKind == JsonValueKind.Null ? [] : [.. element.EnumerateArray().Select(Hex)];

    public static string ToHex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    public static TheoryData<int> Indexes(JsonElement root, string property)
    {
        var data = new TheoryData<int>();
        var count = root.GetProperty(property).GetArrayLength();
        for (var i = 0; i < count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    private static JsonDocument Load(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpora", "rfc6962-merkle", name)));
}
