using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OptOutRegistry.Fuzz.Rpc;

/// <summary>
/// Builds protobuf request bodies from the descriptors: well-formed messages with hostile values (values chosen by
/// field name — URLs for url fields, ISCC codes for iscc fields, ids seen in earlier responses — plus extremes), and
/// wire-level damage: wrong varints, wrong wire types, deep unknown groups and nested fields, invalid UTF-8.
/// </summary>
public sealed class ProtoGenerator
{
    private static readonly string[] s_urls =
    [
        "https://example.com/photos/a.jpg", "HTTPS://Example.COM:443/a/./b?q=1#x", "http://[::1]/", "https://bücher.example/ä", "ftp://x/", "not a url",
        "https://example.com/" + new string('a', 9000), "https://a..b/", "https://xn--/", "http://0x7f.1/", "",
    ];

    private static readonly string[] s_iscc = ["ISCC:EAASKDNZNYGUUF5A", "ISCC:KACT4EBWK27737D2AYCJRAL5Z36G76RFRMO4554RU26HZ4ORJGIVHDI", "ISCC:", "ISCC:AAAA", "iscc:zz"];
    private static readonly string[] s_hosts = ["example.com", "co.uk", "github.io", "bücher.de", "[::1]", "a.b.example.co.uk", "-bad-.com", "localhost", "*"];
    private static readonly string[] s_identifiers = ["isbn:9780306406157", "isbn:9780306406158", "doi:10.1000/xyz", "issn:0317-8471", "ark:/1/2", "x:y"];
    private static readonly string[] s_patterns = ["/photos/*.jpg$", "/a*a*a*a*a*a*a*a*a*b", "*", "$", "no-slash", "/%zz"];
    private static readonly string[] s_misc =
    [
        "", " ", "train-ai", "all", "admin", "rsv_00000000000000000000000000", "hld_00000000000000000000000000", "a@example.com", "\u0000", "\ud800",
        "\u202e\u0000\r\n", "🦀", new string('x', 300), new string('y', 20_000), "../../etc/passwd", "' OR 1=1 --", "%s%n", "${jndi:ldap://x}",
        "grpc.health.v1.Health", "optout.v1.Registry", "optout/v1/registry.proto", "grpc.reflection.v1.ServerReflection",
    ];

    private static readonly long[] s_numbers = [0, 1, -1, 2, 100, 1000, 10_001, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue, 253_402_300_799, 253_402_300_800, -62_135_596_801];

    private readonly Random _random;
    private readonly List<string> _seen = [];

    /// <summary>Creates a generator.</summary>
    public ProtoGenerator(Random random) => _random = random;

    /// <summary>Adds strings found in responses (ids, keys) so later requests can name real objects.</summary>
    public void Learn(string value)
    {
        if (value.Length is > 0 and < 200 && _seen.Count < 1000 && !_seen.Contains(value))
        {
            _seen.Add(value);
        }
    }

    /// <summary>A well-formed message of <paramref name="descriptor"/> with random field values.</summary>
    public byte[] Message(MessageDescriptor descriptor)
    {
        using var memory = new MemoryStream();
        var output = new CodedOutputStream(memory);
        WriteMessage(output, descriptor, 0);
        output.Flush();
        return memory.ToArray();
    }

    private void WriteMessage(CodedOutputStream output, MessageDescriptor descriptor, int depth)
    {
        foreach (var field in descriptor.Fields.InFieldNumberOrder())
        {
            if (_random.Next(100) >= (depth == 0 ? 75 : 50))
            {
                continue;
            }

            var count = field.IsRepeated ? _random.Next(_random.Next(8) == 0 ? 200 : 4) : 1;
            for (var i = 0; i < count; i++)
            {
                WriteField(output, field, depth);
            }
        }
    }

    private void WriteField(CodedOutputStream output, FieldDescriptor field, int depth)
    {
        var number = field.FieldNumber;
        switch (field.FieldType)
        {
            case FieldType.Message when depth < 6:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(Message(field.MessageType, depth + 1)));
                break;
            case FieldType.Message:
                break;
            case FieldType.String:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                if (_random.Next(20) == 0)
                {
                    // Invalid UTF-8 where the schema says string.
                    output.WriteBytes(ByteString.CopyFrom([0x68, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xFF, 0x69]));
                }
                else
                {
                    output.WriteString(StringFor(field.Name));
                }

                break;
            case FieldType.Bytes:
                output.WriteTag(number, WireFormat.WireType.LengthDelimited);
                var bytes = new byte[_random.Next(4) == 0 ? 32 : _random.Next(0, 100)];
                _random.NextBytes(bytes);
                output.WriteBytes(ByteString.CopyFrom(bytes));
                break;
            case FieldType.Bool:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteUInt64((ulong)_random.Next(3));
                break;
            case FieldType.Enum:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteInt32(_random.Next(4) == 0 ? (int)Number() : _random.Next(-1, field.EnumType.Values.Count + 1));
                break;
            case FieldType.Double:
                output.WriteTag(number, WireFormat.WireType.Fixed64);
                output.WriteDouble(_random.Next(4) switch { 0 => double.NaN, 1 => double.PositiveInfinity, 2 => -0.0, _ => _random.NextDouble() * 1e6 });
                break;
            case FieldType.Float:
                output.WriteTag(number, WireFormat.WireType.Fixed32);
                output.WriteFloat(_random.Next(3) == 0 ? float.NaN : (float)_random.NextDouble());
                break;
            case FieldType.Fixed32 or FieldType.SFixed32:
                output.WriteTag(number, WireFormat.WireType.Fixed32);
                output.WriteFixed32((uint)Number());
                break;
            case FieldType.Fixed64 or FieldType.SFixed64:
                output.WriteTag(number, WireFormat.WireType.Fixed64);
                output.WriteFixed64((ulong)Number());
                break;
            case FieldType.SInt32:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteSInt32((int)Number());
                break;
            case FieldType.SInt64:
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteSInt64(Number());
                break;
            case FieldType.Group:
                break;
            default:
                // int32, int64, uint32, uint64.
                output.WriteTag(number, WireFormat.WireType.Varint);
                output.WriteUInt64((ulong)Number());
                break;
        }
    }

    private byte[] Message(MessageDescriptor descriptor, int depth)
    {
        using var memory = new MemoryStream();
        var output = new CodedOutputStream(memory);
        WriteMessage(output, descriptor, depth);
        output.Flush();
        return memory.ToArray();
    }

    private long Number() => _random.Next(3) == 0 ? _random.NextInt64(long.MinValue, long.MaxValue) : s_numbers[_random.Next(s_numbers.Length)];

    private string StringFor(string name)
    {
        if (_seen.Count > 0 && _random.Next(3) == 0)
        {
            return _seen[_random.Next(_seen.Count)];
        }

        string[] pool = name switch
        {
            _ when name.Contains("url", StringComparison.Ordinal) || name == "prefix" => s_urls,
            _ when name.Contains("iscc", StringComparison.Ordinal) => s_iscc,
            _ when name.Contains("host", StringComparison.Ordinal) || name.Contains("domain", StringComparison.Ordinal) => s_hosts,
            _ when name.Contains("identifier", StringComparison.Ordinal) => s_identifiers,
            "path" => s_patterns,
            _ => s_misc,
        };
        return _random.Next(6) == 0 ? s_misc[_random.Next(s_misc.Length)] : pool[_random.Next(pool.Length)];
    }

    /// <summary>Wire-level damage: unknown groups nested <paramref name="depth"/> deep.</summary>
    public static byte[] DeepGroups(int depth)
    {
        using var memory = new MemoryStream();
        var output = new CodedOutputStream(memory);
        for (var i = 0; i < depth; i++)
        {
            output.WriteTag(999, WireFormat.WireType.StartGroup);
        }

        for (var i = 0; i < depth; i++)
        {
            output.WriteTag(999, WireFormat.WireType.EndGroup);
        }

        output.Flush();
        return memory.ToArray();
    }

    /// <summary>An unknown length-delimited field nested <paramref name="depth"/> deep (each level a message in a field).</summary>
    public static byte[] DeepLengthDelimited(int depth, int fieldNumber)
    {
        var inner = Array.Empty<byte>();
        for (var i = 0; i < depth; i++)
        {
            using var memory = new MemoryStream();
            var output = new CodedOutputStream(memory);
            output.WriteTag(fieldNumber, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(inner));
            output.Flush();
            inner = memory.ToArray();
        }

        return inner;
    }

    /// <summary>Damaged encodings every parser must refuse or skip.</summary>
    public static IEnumerable<(string Name, byte[] Body)> WireDamage()
    {
        yield return ("empty message", []);
        yield return ("varint of 11 bytes", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        yield return ("truncated varint", [0x08, 0xFF]);
        yield return ("wire type 6", [0x0E, 0x00]);
        yield return ("wire type 7", [0x0F, 0x00]);
        yield return ("field number 0", [0x00, 0x01]);
        yield return ("field 1 as fixed32 (wrong wire type)", [0x0D, 1, 2, 3, 4]);
        yield return ("field 1 as group (wrong wire type)", [0x0B, 0x0C]);
        yield return ("end group without start", [0x0C]);
        yield return ("length beyond the message", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x41]);
        yield return ("negative length", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        yield return ("invalid UTF-8 in field 1", [0x0A, 0x04, 0xC3, 0x28, 0xFF, 0xFE]);
        yield return ("unpaired surrogate in field 1", [0x0A, 0x03, 0xED, 0xA0, 0x80]);
        yield return ("unknown groups 200 deep", DeepGroups(200));
        yield return ("unknown groups 100000 deep", DeepGroups(100_000));
        yield return ("unknown field 5000 deep", DeepLengthDelimited(5000, 999));
        yield return ("field 1 nested 200 deep", DeepLengthDelimited(200, 1));
        yield return ("100000 unknown varint fields", Repeat([0xB8, 0x3E, 0x01], 100_000));
        yield return ("string of 4 MB", LongField(4 * 1024 * 1024));
        yield return ("field 1 repeated 50000 times", Repeat([0x0A, 0x01, 0x61], 50_000));
        yield return ("field 1 as varint", [0x08, 0x96, 0x01]);
        yield return ("packed field with odd length", [0x0A, 0x03, 1, 2, 3]);
        yield return ("text bytes", Encoding.ASCII.GetBytes("{\"url\":\"https://example.com\"}"));
    }

    private static byte[] Repeat(byte[] unit, int times)
    {
        var result = new byte[unit.Length * times];
        for (var i = 0; i < times; i++)
        {
            unit.CopyTo(result, i * unit.Length);
        }

        return result;
    }

    private static byte[] LongField(int length)
    {
        using var memory = new MemoryStream();
        var output = new CodedOutputStream(memory);
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(new byte[length]));
        output.Flush();
        return memory.ToArray();
    }
}
