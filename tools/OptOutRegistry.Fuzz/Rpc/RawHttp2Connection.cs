using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace OptOutRegistry.Fuzz.Rpc;

/// <summary>HTTP/2 frame types (RFC 9113 §6).</summary>
public enum FrameType : byte
{
    /// <summary>DATA.</summary>
    Data = 0,

    /// <summary>HEADERS.</summary>
    Headers = 1,

    /// <summary>PRIORITY.</summary>
    Priority = 2,

    /// <summary>RST_STREAM.</summary>
    RstStream = 3,

    /// <summary>SETTINGS.</summary>
    Settings = 4,

    /// <summary>PUSH_PROMISE.</summary>
    PushPromise = 5,

    /// <summary>PING.</summary>
    Ping = 6,

    /// <summary>GOAWAY.</summary>
    GoAway = 7,

    /// <summary>WINDOW_UPDATE.</summary>
    WindowUpdate = 8,

    /// <summary>CONTINUATION.</summary>
    Continuation = 9,
}

/// <summary>How the server ended a raw exchange.</summary>
public enum RawOutcome
{
    /// <summary>A HEADERS frame for the stream (a response, with or without a gRPC status).</summary>
    Headers,

    /// <summary>RST_STREAM for the stream.</summary>
    Reset,

    /// <summary>GOAWAY.</summary>
    GoAway,

    /// <summary>The connection closed without GOAWAY.</summary>
    Closed,

    /// <summary>Nothing within the time limit.</summary>
    Timeout,
}

/// <summary>
/// A deliberately minimal HTTP/2 client over a raw socket (RFC 9113): it writes exactly the frames it is told to,
/// valid or not, and reads frames back only far enough to see how the server answered. Header blocks are HPACK
/// literals without indexing or Huffman coding (RFC 7541 §6.2.2), so any header, legal or not, can be sent.
/// </summary>
public sealed class RawHttp2Connection : IAsyncDisposable
{
    private static readonly byte[] s_preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawHttp2Connection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Connects and (unless <paramref name="preface"/> is false) sends the preface and an empty SETTINGS frame.</summary>
    public static async Task<RawHttp2Connection> ConnectAsync(Uri address, bool preface = true)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(address.Host, address.Port);
        var connection = new RawHttp2Connection(socket);
        if (preface)
        {
            await connection.WriteRawAsync(s_preface);
            await connection.WriteFrameAsync(FrameType.Settings, 0, 0, []);
        }

        return connection;
    }

    /// <summary>Writes bytes as they are.</summary>
    public async Task WriteRawAsync(byte[] bytes)
    {
        try
        {
            await _stream.WriteAsync(bytes);
        }
        catch (IOException)
        {
            // The server already closed the connection: what it sent before is what the reader sees.
        }
    }

    /// <summary>Ends the sending direction, as a client that stops mid-frame does.</summary>
    public void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already closed by the server.
        }
    }

    /// <summary>Writes one frame (the length field is the payload's true length unless <paramref name="lengthOverride"/>).</summary>
    public Task WriteFrameAsync(FrameType type, byte flags, int streamId, byte[] payload, int? lengthOverride = null) =>
        WriteRawAsync(Frame((byte)type, flags, streamId, payload, lengthOverride));

    /// <summary>Encodes one frame.</summary>
    public static byte[] Frame(byte type, byte flags, int streamId, byte[] payload, int? lengthOverride = null)
    {
        var frame = new byte[9 + payload.Length];
        var length = lengthOverride ?? payload.Length;
        frame[0] = (byte)(length >> 16);
        frame[1] = (byte)(length >> 8);
        frame[2] = (byte)length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }

    /// <summary>An HPACK header block of literal fields (no indexing, no Huffman).</summary>
    public static byte[] HeaderBlock(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            block.Add(0x00);
            AppendString(block, Encoding.Latin1.GetBytes(name));
            AppendString(block, Encoding.Latin1.GetBytes(value));
        }

        return [.. block];
    }

    /// <summary>The headers of a gRPC request to <paramref name="path"/>.</summary>
    public static List<KeyValuePair<string, string>> GrpcRequestHeaders(string authority, string path) =>
    [
        new(":method", "POST"), new(":scheme", "http"), new(":authority", authority), new(":path", path),
        new("content-type", "application/grpc"), new("te", "trailers"),
    ];

    /// <summary>A gRPC length-prefixed message (uncompressed).</summary>
    public static byte[] GrpcMessage(byte[] message)
    {
        var framed = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    private static void AppendString(List<byte> block, byte[] bytes)
    {
        // RFC 7541 §5.1 integer with a 7-bit prefix (H bit 0).
        var value = bytes.Length;
        if (value < 127)
        {
            block.Add((byte)value);
        }
        else
        {
            block.Add(127);
            value -= 127;
            while (value >= 128)
            {
                block.Add((byte)(value % 128 + 128));
                value /= 128;
            }

            block.Add((byte)value);
        }

        block.AddRange(bytes);
    }

    /// <summary>
    /// Reads frames until the server answers stream <paramref name="streamId"/> (HEADERS or RST_STREAM), sends GOAWAY,
    /// closes, or <paramref name="timeout"/> passes. SETTINGS are acknowledged and PINGs answered on the way.
    /// </summary>
    public async Task<(RawOutcome Outcome, string Detail)> ReadAnswerAsync(int streamId, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var header = new byte[9];
        try
        {
            while (true)
            {
                if (!await ReadExactlyAsync(header, cancel.Token))
                {
                    return (RawOutcome.Closed, "connection closed");
                }

                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = (FrameType)header[3];
                var flags = header[4];
                var stream = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF;
                var payload = new byte[length];
                if (!await ReadExactlyAsync(payload, cancel.Token))
                {
                    return (RawOutcome.Closed, "connection closed inside a frame");
                }

                switch (type)
                {
                    case FrameType.Settings when (flags & 1) == 0:
                        await WriteFrameAsync(FrameType.Settings, 1, 0, []);
                        break;
                    case FrameType.Ping when (flags & 1) == 0:
                        await WriteFrameAsync(FrameType.Ping, 1, 0, payload);
                        break;
                    case FrameType.GoAway:
                        var code = length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4)) : 0;
                        return (RawOutcome.GoAway, $"GOAWAY error {code}");
                    case FrameType.RstStream when stream == streamId || streamId == 0:
                        return (RawOutcome.Reset, $"RST_STREAM error {(length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(payload) : 0)}");
                    case FrameType.Headers when stream == streamId:
                        return (RawOutcome.Headers, $"HEADERS ({length} bytes, end_stream={(flags & 1) != 0})");
                }
            }
        }
        catch (OperationCanceledException)
        {
            return (RawOutcome.Timeout, $"no answer within {timeout.TotalSeconds:F0} s");
        }
        catch (IOException ex)
        {
            return (RawOutcome.Closed, "connection reset: " + ex.Message);
        }
        catch (SocketException ex)
        {
            return (RawOutcome.Closed, "connection reset: " + ex.Message);
        }
    }

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already closed by the server.
        }

        await _stream.DisposeAsync();
    }
}
