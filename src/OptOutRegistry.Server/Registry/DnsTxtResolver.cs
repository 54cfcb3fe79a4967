using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace OptOutRegistry.Server.Registry;

/// <summary>
/// A minimal DNS client for TXT records (.NET has no TXT resolver): one RFC 1035 query over UDP to a resolver, falling
/// back to TCP when the answer is truncated (RFC 1035 §4.2.2, RFC 7766). The resolver is configurable
/// (<c>verification:dns-server</c>, "IP[:port]"); by default the first <c>nameserver</c> of <c>/etc/resolv.conf</c>.
/// Answers are parsed defensively: a malformed packet yields an error, never an exception from the parser.
/// </summary>
public sealed class DnsTxtResolver
{
    private const ushort TypeTxt = 16;
    private const ushort ClassIn = 1;
    private readonly IPEndPoint? _server;
    private readonly TimeSpan _timeout;

    /// <summary>Creates a resolver that asks <paramref name="server"/> (null: the system resolver).</summary>
    public DnsTxtResolver(IPEndPoint? server, TimeSpan? timeout = null)
    {
        _server = server;
        _timeout = timeout ?? TimeSpan.FromSeconds(5);
    }

    /// <summary>Parses "IP", "IP:port" or "[IPv6]:port".</summary>
    /// <exception cref="ArgumentException">Not an IP endpoint.</exception>
    public static IPEndPoint ParseEndpoint(string value)
    {
        if (IPAddress.TryParse(value, out var bare))
        {
            return new IPEndPoint(bare, 53);
        }

        if (IPEndPoint.TryParse(value, out var endpoint))
        {
            if (endpoint.Port == 0)
            {
                endpoint.Port = 53;
            }

            return endpoint;
        }

        throw new ArgumentException($"verification:dns-server: '{value}' is not an IP address with an optional port");
    }

    /// <summary>The first nameserver of /etc/resolv.conf, or null.</summary>
    public static IPEndPoint? SystemResolver()
    {
        const string path = "/etc/resolv.conf";
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1].Split('%')[0], out var ip))
            {
                return new IPEndPoint(ip, 53);
            }
        }

        return null;
    }

    /// <summary>The TXT strings of <paramref name="name"/> (each record's character-strings concatenated).</summary>
    /// <exception cref="DnsLookupException">No resolver, timeout, malformed answer or an error RCODE other than NXDOMAIN.</exception>
    public async Task<IReadOnlyList<string>> QueryTxtAsync(string name, CancellationToken cancellationToken)
    {
        var server = _server ?? SystemResolver() ?? throw new DnsLookupException("no DNS resolver: /etc/resolv.conf names none and verification:dns-server is not set");
        var id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        var query = BuildQuery(id, name);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            byte[] answer;
            using (var udp = new UdpClient(server.AddressFamily))
            {
                udp.Connect(server);
                await udp.SendAsync(query, timeout.Token).ConfigureAwait(false);
                while (true)
                {
                    var received = await udp.ReceiveAsync(timeout.Token).ConfigureAwait(false);
                    // Ignore stray datagrams: only an answer with our id counts (RFC 5452 §9.1).
                    if (received.Buffer.Length >= 12 && BinaryPrimitives.ReadUInt16BigEndian(received.Buffer) == id)
                    {
                        answer = received.Buffer;
                        break;
                    }
                }
            }

            if ((answer[2] & 0x02) != 0)
            {
                answer = await QueryTcpAsync(server, query, timeout.Token).ConfigureAwait(false);
            }

            return ParseTxtAnswer(answer, id);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DnsLookupException($"the DNS resolver {server} did not answer within {_timeout.TotalSeconds:0} s");
        }
        catch (SocketException ex)
        {
            throw new DnsLookupException($"the DNS resolver {server} cannot be reached: {ex.Message}");
        }
    }

    private static async Task<byte[]> QueryTcpAsync(IPEndPoint server, byte[] query, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient(server.AddressFamily);
        await tcp.ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        var stream = tcp.GetStream();
        var framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        await stream.WriteAsync(framed, cancellationToken).ConfigureAwait(false);
        var lengthBytes = new byte[2];
        await stream.ReadExactlyAsync(lengthBytes, cancellationToken).ConfigureAwait(false);
        var answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(lengthBytes)];
        await stream.ReadExactlyAsync(answer, cancellationToken).ConfigureAwait(false);
        return answer;
    }

    /// <summary>An RFC 1035 §4.1 query for TXT records of <paramref name="name"/>, recursion desired.</summary>
    /// <exception cref="DnsLookupException">The name has an empty or over-long label.</exception>
    public static byte[] BuildQuery(ushort id, string name)
    {
        var labels = name.TrimEnd('.').Split('.');
        using var ms = new MemoryStream();
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        header[2] = 0x01; // RD
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1); // QDCOUNT
        ms.Write(header);
        foreach (var label in labels)
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length is 0 or > 63)
            {
                throw new DnsLookupException($"'{name}' is not a DNS name (label of {bytes.Length} bytes)");
            }

            ms.WriteByte((byte)bytes.Length);
            ms.Write(bytes);
        }

        ms.WriteByte(0);
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(tail, TypeTxt);
        BinaryPrimitives.WriteUInt16BigEndian(tail[2..], ClassIn);
        ms.Write(tail);
        return ms.ToArray();
    }

    /// <summary>The TXT records of an answer packet. NXDOMAIN and NOERROR/NODATA give an empty list.</summary>
    /// <exception cref="DnsLookupException">A malformed packet, a different id, or an error RCODE.</exception>
    public static IReadOnlyList<string> ParseTxtAnswer(ReadOnlySpan<byte> packet, ushort expectedId)
    {
        if (packet.Length < 12)
        {
            throw new DnsLookupException("the DNS answer is shorter than its header");
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(packet) != expectedId || (packet[2] & 0x80) == 0)
        {
            throw new DnsLookupException("the DNS answer does not match the query");
        }

        var rcode = packet[3] & 0x0F;
        if (rcode == 3)
        {
            return [];
        }

        if (rcode != 0)
        {
            throw new DnsLookupException($"the DNS resolver answered RCODE {rcode}");
        }

        var questions = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        var answers = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]);
        var offset = 12;
        for (var i = 0; i < questions; i++)
        {
            offset = SkipName(packet, offset) + 4;
        }

        var result = new List<string>();
        for (var i = 0; i < answers; i++)
        {
            offset = SkipName(packet, offset);
            if (offset + 10 > packet.Length)
            {
                throw new DnsLookupException("the DNS answer is truncated");
            }

            var type = BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
            var rdLength = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 8)..]);
            offset += 10;
            if (offset + rdLength > packet.Length)
            {
                throw new DnsLookupException("the DNS answer is truncated");
            }

            if (type == TypeTxt)
            {
                // RFC 1035 §3.3.14: one or more <character-string>s, each a length byte and that many bytes.
                var rdata = packet.Slice(offset, rdLength);
                var text = new StringBuilder();
                var p = 0;
                while (p < rdata.Length)
                {
                    var length = rdata[p++];
                    if (p + length > rdata.Length)
                    {
                        throw new DnsLookupException("a TXT record's string overruns its data");
                    }

                    text.Append(Encoding.UTF8.GetString(rdata.Slice(p, length)));
                    p += length;
                }

                result.Add(text.ToString());
            }

            offset += rdLength;
        }

        return result;
    }

    private static int SkipName(ReadOnlySpan<byte> packet, int offset)
    {
        // Labels end with a zero byte or a compression pointer (two bytes, top bits 11), RFC 1035 §4.1.4.
        for (var guard = 0; guard < 128; guard++)
        {
            if (offset >= packet.Length)
            {
                throw new DnsLookupException("the DNS answer is truncated inside a name");
            }

            var length = packet[offset];
            if (length == 0)
            {
                return offset + 1;
            }

            if ((length & 0xC0) == 0xC0)
            {
                return offset + 2;
            }

            if ((length & 0xC0) != 0)
            {
                throw new DnsLookupException("the DNS answer has an unsupported label type");
            }

            offset += 1 + length;
        }

        throw new DnsLookupException("the DNS answer has a name with too many labels");
    }
}

/// <summary>A DNS lookup failed (not the same as "no record").</summary>
public sealed class DnsLookupException(string message) : Exception(message);
