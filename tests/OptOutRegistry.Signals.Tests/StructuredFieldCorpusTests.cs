using System.Text.Json;
using System.Text.Json.Nodes;
using OptOutRegistry.Signals.StructuredFields;

namespace OptOutRegistry.Signals.Tests;

/// <summary>
/// httpwg/structured-field-tests (corpora/structured-field-tests): every parse case of every file, loaded as data.
/// A case passes when a <c>must_fail</c> input fails, a <c>can_fail</c> input either fails or parses to the expected
/// value, and any other input parses to exactly the expected value.
/// </summary>
public sealed class StructuredFieldCorpusTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Corpus.Path("structured-field-tests"), "*.json").Order())
        {
            var cases = JsonNode.Parse(File.ReadAllText(file))!.AsArray();
            foreach (var c in cases)
            {
                data.Add(System.IO.Path.GetFileName(file), c!["name"]!.GetValue<string>());
            }
        }

        return data;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonArray> Files = new();

    private static JsonArray Load(string relative) =>
        Files.GetOrAdd(relative, r => JsonNode.Parse(Corpus.Read("structured-field-tests", r))!.AsArray());

    [Fact]
    public void Corpus_HasAllDictionaryCases()
    {
        var dictionaryCases = 0;
        foreach (var file in Directory.GetFiles(Corpus.Path("structured-field-tests"), "*.json"))
        {
            foreach (var c in JsonNode.Parse(File.ReadAllText(file))!.AsArray())
            {
                if (c!["header_type"]!.GetValue<string>() == "dictionary")
                {
                    dictionaryCases++;
                }
            }
        }

        foreach (var file in Directory.GetFiles(Corpus.Path("structured-field-tests", "serialisation-tests"), "*.json"))
        {
            foreach (var c in JsonNode.Parse(File.ReadAllText(file))!.AsArray())
            {
                if (c!["header_type"]!.GetValue<string>() == "dictionary")
                {
                    dictionaryCases++;
                }
            }
        }

        // corpora/README.md: 621 dictionary cases in httpwg/structured-field-tests @ 1e280c3e (parse + serialisation).
        Assert.Equal(621, dictionaryCases);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parse_CorpusCase_MatchesExpected(string file, string name)
    {
        JsonNode? c = null;
        foreach (var candidate in Load(file))
        {
            if (candidate!["name"]!.GetValue<string>() == name)
            {
                c = candidate;
                break;
            }
        }

        Assert.NotNull(c);
        var raw = c!["raw"]!.AsArray().Select(r => r!.GetValue<string>()).ToList();
        var type = c["header_type"]!.GetValue<string>();
        var mustFail = c["must_fail"]?.GetValue<bool>() ?? false;
        var canFail = c["can_fail"]?.GetValue<bool>() ?? false;

        bool ok;
        JsonNode? actual = null;
        string? error;
        switch (type)
        {
            case "dictionary":
                ok = StructuredFieldParser.TryParseDictionary(raw, out var dict, out error);
                if (ok)
                {
                    actual = new JsonArray(dict.Entries.Select(e => (JsonNode)new JsonArray(JsonValue.Create(e.Key), Member(e.Value))).ToArray());
                }

                break;
            case "list":
                ok = StructuredFieldParser.TryParseList(raw, out var list, out error);
                if (ok)
                {
                    actual = new JsonArray(list.Select(Member).ToArray());
                }

                break;
            default:
                ok = StructuredFieldParser.TryParseItem(raw, out var item, out error);
                if (ok)
                {
                    actual = Item(item);
                }

                break;
        }

        if (mustFail)
        {
            Assert.False(ok, $"{name}: expected a parse failure, got {actual?.ToJsonString()}");
            return;
        }

        if (!ok && canFail)
        {
            return;
        }

        Assert.True(ok, $"{name}: {error}");
        var expected = c["expected"]!;
        Assert.True(JsonEquals(expected, actual!), $"{name}: expected {expected.ToJsonString()} got {actual!.ToJsonString()}");

        // Round trip: serialising the parsed value gives the canonical form (the raw value when none is given).
        var canonical = c["canonical"] is JsonArray canon ? string.Join(", ", canon.Select(x => x!.GetValue<string>())) : string.Join(", ", raw);
        Assert.True(Serialize(type, expected, out var text, out var serializeError), $"{name}: {serializeError}");
        Assert.Equal(canonical, text);
    }

    public static TheoryData<string, string> SerialisationCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(Corpus.Path("structured-field-tests", "serialisation-tests"), "*.json").Order())
        {
            foreach (var c in JsonNode.Parse(File.ReadAllText(file))!.AsArray())
            {
                data.Add(System.IO.Path.GetFileName(file), c!["name"]!.GetValue<string>());
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SerialisationCases))]
    public void Serialize_CorpusCase_MatchesCanonicalOrFails(string file, string name)
    {
        var c = Load(System.IO.Path.Combine("serialisation-tests", file))
            .Single(x => x!["name"]!.GetValue<string>() == name)!;
        var ok = Serialize(c["header_type"]!.GetValue<string>(), c["expected"]!, out var text, out var error);
        if (c["must_fail"]?.GetValue<bool>() ?? false)
        {
            Assert.False(ok, $"{name}: expected failure, got {text}");
            return;
        }

        Assert.True(ok, $"{name}: {error}");
        Assert.Equal(string.Join(", ", c["canonical"]!.AsArray().Select(x => x!.GetValue<string>())), text);
    }

    private static bool Serialize(string type, JsonNode expected, out string text, out string? error) => type switch
    {
        "dictionary" => StructuredFieldSerializer.TrySerializeDictionary(
            expected.AsArray().Select(e => new KeyValuePair<string, SfMember>(e![0]!.GetValue<string>(), ToMember(e[1]!))), out text, out error),
        "list" => StructuredFieldSerializer.TrySerializeList(expected.AsArray().Select(e => ToMember(e!)), out text, out error),
        _ => StructuredFieldSerializer.TrySerializeItem(ToItem(expected), out text, out error),
    };

    private static SfMember ToMember(JsonNode node) =>
        node[0] is JsonArray inner
            ? SfMember.FromInnerList(inner.Select(i => ToItem(i!)).ToList(), ToParams(node[1]!))
            : SfMember.FromItem(ToItem(node));

    private static SfItem ToItem(JsonNode node) => new(ToBare(node[0]!), ToParams(node[1]!));

    private static SfParameters ToParams(JsonNode node) =>
        new(node.AsArray().Select(p => new KeyValuePair<string, SfBareItem>(p![0]!.GetValue<string>(), ToBare(p[1]!))).ToList());

    private static SfBareItem ToBare(JsonNode node)
    {
        if (node is JsonObject o)
        {
            var t = o["__type"]!.GetValue<string>();
            return t switch
            {
                "token" => SfBareItem.FromToken(o["value"]!.GetValue<string>()),
                "date" => SfBareItem.FromDate(o["value"]!.GetValue<long>()),
                "displaystring" => SfBareItem.FromDisplayString(o["value"]!.GetValue<string>()),
                "binary" => SfBareItem.FromBytes(FromBase32(o["value"]!.GetValue<string>())),
                _ => throw new InvalidOperationException(t),
            };
        }

        var e = node.GetValue<JsonElement>();
        return e.ValueKind switch
        {
            JsonValueKind.True => SfBareItem.FromBoolean(true),
            JsonValueKind.False => SfBareItem.FromBoolean(false),
            JsonValueKind.String => SfBareItem.FromString(e.GetString()!),
            JsonValueKind.Number when e.TryGetInt64(out var l) && !e.GetRawText().Contains('.') => SfBareItem.FromInteger(l),
            JsonValueKind.Number => SfBareItem.FromDecimal(e.GetDecimal()),
            _ => throw new InvalidOperationException(e.ValueKind.ToString()),
        };
    }

    private static byte[] FromBase32(string s)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var ch in s.TrimEnd('='))
        {
            buffer = (buffer << 5) | Alphabet.IndexOf(ch);
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes.Add((byte)(buffer >> bits));
                buffer &= (1 << bits) - 1;
            }
        }

        return [.. bytes];
    }

    private static JsonNode Member(SfMember m) =>
        m.IsInnerList
            ? new JsonArray(new JsonArray(m.InnerList!.Select(Item).ToArray()), Params(m.Parameters))
            : Item(m.Item!);

    private static JsonNode Item(SfItem item) => new JsonArray(Bare(item.Value), Params(item.Parameters));

    private static JsonNode Params(SfParameters p) =>
        new JsonArray(p.Entries.Select(e => (JsonNode)new JsonArray(JsonValue.Create(e.Key), Bare(e.Value))).ToArray());

    private static JsonNode Bare(SfBareItem b) => b.Type switch
    {
        SfBareItemType.Integer => JsonValue.Create(b.Integer),
        SfBareItemType.Decimal => JsonValue.Create(b.Decimal),
        SfBareItemType.String => JsonValue.Create(b.Text!),
        SfBareItemType.Boolean => JsonValue.Create(b.Boolean),
        SfBareItemType.Token => new JsonObject { ["__type"] = "token", ["value"] = b.Text },
        SfBareItemType.Date => new JsonObject { ["__type"] = "date", ["value"] = b.Integer },
        SfBareItemType.DisplayString => new JsonObject { ["__type"] = "displaystring", ["value"] = b.Text },
        SfBareItemType.ByteSequence => new JsonObject { ["__type"] = "binary", ["value"] = Base32(b.Bytes.Span) },
        _ => throw new InvalidOperationException(),
    };

    private static string Base32(ReadOnlySpan<byte> bytes)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < bytes.Length; i += 5)
        {
            var n = Math.Min(5, bytes.Length - i);
            ulong buffer = 0;
            for (var k = 0; k < 5; k++)
            {
                buffer = (buffer << 8) | (k < n ? bytes[i + k] : 0u);
            }

            var chars = (int)Math.Ceiling(n * 8 / 5.0);
            for (var k = 0; k < 8; k++)
            {
                sb.Append(k < chars ? Alphabet[(int)((buffer >> (35 - (k * 5))) & 31)] : '=');
            }
        }

        return sb.ToString();
    }

    private static bool JsonEquals(JsonNode a, JsonNode b)
    {
        if (a is JsonArray aa && b is JsonArray ba)
        {
            return aa.Count == ba.Count && aa.Zip(ba).All(p => JsonEquals(p.First!, p.Second!));
        }

        if (a is JsonObject ao && b is JsonObject bo)
        {
            return ao.Count == bo.Count && ao.All(kv => bo.TryGetPropertyValue(kv.Key, out var v) && JsonEquals(kv.Value!, v!));
        }

        var ae = a.GetValue<JsonElement>();
        var be = b.AsValue().TryGetValue<JsonElement>(out var bj) ? bj : JsonSerializer.SerializeToElement(b);
        if (ae.ValueKind == JsonValueKind.Number && be.ValueKind == JsonValueKind.Number)
        {
            return ae.GetDecimal() == be.GetDecimal();
        }

        return ae.ValueKind == be.ValueKind && ae.ToString() == be.ToString();
    }
}
