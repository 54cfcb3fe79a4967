namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>
/// Encodes request header fields for HPACK (RFC 7541) without touching the dynamic table: names from the static
/// table where one exists, values as raw literals "without indexing" (6.2.2). Leaving the dynamic table alone means a
/// header block does not depend on the blocks sent before it, so blocks can be encoded outside the connection's
/// write lock and the per-method prefix can be encoded once and copied; on loopback the bytes an index would save
/// (~60 per request) cost less than the ordering a shared encoder table would impose on every sender.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>Static-table indexes (RFC 7541 Appendix A) of the names and name/value pairs a gRPC request uses.</summary>
    private const int AuthorityName = 1;
    private const int MethodPost = 3;
    private const int PathName = 4;
    private const int SchemeHttp = 6;
    private const int SchemeHttps = 7;
    private const int ContentTypeName = 31;
    private const int UserAgentName = 58;

    /// <summary>
    /// The pseudo-header fields of a request, which are the same for every call of a method on a channel
    /// (RFC 7540 8.1.2.3): <c>:method POST</c>, <c>:scheme</c>, <c>:path</c>, <c>:authority</c>.
    /// </summary>
    public static byte[] EncodePseudoHeaders(bool https, string path, string authority)
    {
        var buffer = new byte[16 + path.Length + authority.Length];
        var pos = 0;
        buffer[pos++] = 0x80 | MethodPost;
        buffer[pos++] = (byte)(0x80 | (https ? SchemeHttps : SchemeHttp));
        pos += WriteLiteral(buffer.AsSpan(pos), PathName, null, path);
        pos += WriteLiteral(buffer.AsSpan(pos), AuthorityName, null, authority);
        return buffer.AsSpan(0, pos).ToArray();
    }

    /// <summary>The most bytes <see cref="WriteLiteral"/> can write for a name and value of these lengths.</summary>
    public static int MaxLiteralSize(int nameLength, int valueLength) => 1 + 5 + nameLength + 5 + valueLength;

    /// <summary>
    /// Writes a "Literal Header Field without Indexing" (6.2.2) with a static name index when <paramref name="name"/>
    /// is null, else with a literal name lowercased (RFC 7540 8.1.2: field names are lowercase in HTTP/2).
    /// Values are written as Latin-1 bytes. Returns the bytes written.
    /// </summary>
    public static int WriteLiteral(Span<byte> destination, int nameIndex, string? name, string value)
    {
        var pos = 0;
        if (name is null)
        {
            pos += WriteInteger(destination, nameIndex, 4, 0x00);
        }
        else
        {
            destination[pos++] = 0x00;
            pos += WriteInteger(destination.Slice(pos), name.Length, 7, 0x00);
            for (var i = 0; i < name.Length; i++)
            {
                var c = name[i];
                destination[pos++] = (byte)(c is >= 'A' and <= 'Z' ? c + 32 : c);
            }
        }
        pos += WriteInteger(destination.Slice(pos), value.Length, 7, 0x00);
        for (var i = 0; i < value.Length; i++)
        {
            destination[pos++] = (byte)value[i];
        }
        return pos;
    }

    /// <summary>The static name index to use for a header, or 0 for a literal name.</summary>
    public static int StaticNameIndex(string name) => name.Length switch
    {
        12 when string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase) => ContentTypeName,
        10 when string.Equals(name, "user-agent", StringComparison.OrdinalIgnoreCase) => UserAgentName,
        _ => 0,
    };

    /// <summary>RFC 7541 5.1: an integer with an N-bit prefix; <paramref name="firstByteFlags"/> fills the bits above it.</summary>
    public static int WriteInteger(Span<byte> destination, int value, int prefixBits, byte firstByteFlags)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            destination[0] = (byte)(firstByteFlags | value);
            return 1;
        }
        destination[0] = (byte)(firstByteFlags | max);
        value -= max;
        var pos = 1;
        while (value >= 0x80)
        {
            destination[pos++] = (byte)((value & 0x7F) | 0x80);
            value >>= 7;
        }
        destination[pos++] = (byte)value;
        return pos;
    }
}
