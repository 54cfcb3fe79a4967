using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using OptOutRegistry.Grpc.Client.Http2;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>One frame as the fake server read it.</summary>
public readonly record struct RawFrame(byte Type, byte Flags, int StreamId, byte[] Payload)
{
    public bool EndStream => (Flags & 0x1) != 0;
}

/// <summary>
/// A raw-socket HTTP/2 "server" for tests of the client transport against misbehaving peers: it accepts connections
/// and hands each to a script that reads and writes frames byte by byte, so a test can send exactly the wrong thing.
/// </summary>
public sealed class FakeHttp2Server : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<FakeHttp2Connection, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly List<Task> _connections = new();

    public FakeHttp2Server(Func<FakeHttp2Connection, Task> script, int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _script = script;
        _listener.Start();
        Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _acceptLoop = AcceptAsync();
    }

    public string Address { get; }

    /// <summary>Exceptions thrown by the scripts (a script's own assertion failures surface here).</summary>
    public List<Exception> Errors { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }
            lock (_connections)
            {
                _connections.Add(RunAsync(socket));
            }
        }
    }

    private async Task RunAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            await _script(new FakeHttp2Connection(stream, _stop.Token));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or EndOfStreamException)
        {
            // The client closed the connection: expected in most scripts.
        }
        catch (Exception ex)
        {
            lock (Errors)
            {
                Errors.Add(ex);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _acceptLoop;
        Task[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}

/// <summary>One accepted connection of <see cref="FakeHttp2Server"/>.</summary>
public sealed class FakeHttp2Connection(NetworkStream stream, CancellationToken stop)
{
    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;

    /// <summary>Reads the client preface (RFC 7540 3.5) and fails if it is not there.</summary>
    public async Task ReadPrefaceAsync()
    {
        var preface = new byte[24];
        await stream.ReadExactlyAsync(preface, stop);
        Assert.Equal("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), preface);
    }

    /// <summary>Preface in, our SETTINGS out (with optional settings as id/value pairs).</summary>
    public async Task HandshakeAsync(params (ushort Id, uint Value)[] settings)
    {
        await ReadPrefaceAsync();
        var payload = new byte[settings.Length * 6];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(i * 6), settings[i].Id);
            BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan((i * 6) + 2), settings[i].Value);
        }
        await WriteFrameAsync(Settings, 0, 0, payload);
    }

    public async Task<RawFrame> ReadFrameAsync()
    {
        var header = new byte[9];
        await stream.ReadExactlyAsync(header, stop);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, stop);
        return new RawFrame(header[3], header[4], (int)(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF), payload);
    }

    /// <summary>Reads frames until one of <paramref name="type"/> arrives (skipping SETTINGS ACKs, WINDOW_UPDATEs and the like).</summary>
    public async Task<RawFrame> ReadUntilAsync(byte type, Func<RawFrame, bool>? match = null)
    {
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame.Type == type && (match is null || match(frame)))
            {
                return frame;
            }
        }
    }

    /// <summary>Reads a whole request: its HEADERS, then DATA up to END_STREAM; returns the stream id.</summary>
    public async Task<int> ReadRequestAsync()
    {
        var headers = await ReadUntilAsync(Headers);
        if (headers.EndStream)
        {
            return headers.StreamId;
        }
        await ReadUntilAsync(Data, f => f.StreamId == headers.StreamId && f.EndStream);
        return headers.StreamId;
    }

    public async Task WriteFrameAsync(byte type, byte flags, int streamId, ReadOnlyMemory<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(5), (uint)streamId);
        payload.CopyTo(frame.AsMemory(9));
        await stream.WriteAsync(frame, stop);
        await stream.FlushAsync(stop);
    }

    /// <summary>An HPACK block of literal fields without indexing (name/value pairs).</summary>
    public static byte[] Block(params string[] nameValues)
    {
        var size = 0;
        for (var i = 0; i < nameValues.Length; i += 2)
        {
            size += HpackEncoder.MaxLiteralSize(nameValues[i].Length, nameValues[i + 1].Length);
        }
        var buffer = new byte[size];
        var pos = 0;
        for (var i = 0; i < nameValues.Length; i += 2)
        {
            pos += HpackEncoder.WriteLiteral(buffer.AsSpan(pos), 0, nameValues[i], nameValues[i + 1]);
        }
        return buffer.AsSpan(0, pos).ToArray();
    }

    /// <summary>A framed gRPC message (5-byte prefix + protobuf).</summary>
    public static byte[] Message(IMessage message)
    {
        var bytes = message.ToByteArray();
        var framed = new byte[5 + bytes.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)bytes.Length);
        bytes.CopyTo(framed, 5);
        return framed;
    }

    /// <summary>A whole OK response: headers, one message, trailers.</summary>
    public async Task WriteResponseAsync(int streamId, IMessage message)
    {
        await WriteFrameAsync(Headers, 0x4, streamId, Block(":status", "200", "content-type", "application/grpc"));
        await WriteFrameAsync(Data, 0, streamId, Message(message));
        await WriteFrameAsync(Headers, 0x5, streamId, Block("grpc-status", "0"));
    }

    /// <summary>Waits until the client closes the connection (or the server stops).</summary>
    public async Task DrainAsync()
    {
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer, stop) > 0)
        {
        }
    }
}
