using System.Buffers.Binary;
using System.Diagnostics;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// The client's own HTTP/2 transport against raw-socket servers that misbehave or exercise the protocol's corners
/// (RFC 7540): every failure must be a prompt RpcException with UNAVAILABLE or INTERNAL, never a hang or a crash.
/// </summary>
public sealed class Http2TransportTests
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(20);

    private static GrpcChannel Channel(FakeHttp2Server server, TimeSpan? connectTimeout = null)
        => GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            Transport = GrpcTransport.Http2,
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(10),
        });

    private static async Task<RpcException> CallFailsAsync(FakeHttp2Server server, TimeSpan? connectTimeout = null, DateTime? deadline = null)
    {
        using var channel = Channel(server, connectTimeout);
        return await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "x" }, new CallOptions(Deadline: deadline)).WaitAsync(s_limit));
    }

    private static byte[] UInt32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public async Task ServerThatNeverSendsSettings_FailsUnavailableAfterTheConnectTimeout()
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.ReadPrefaceAsync();
            await c.DrainAsync();
        });
        var watch = Stopwatch.StartNew();
        var ex = await CallFailsAsync(server, connectTimeout: TimeSpan.FromMilliseconds(500));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("SETTINGS", ex.Status.Detail);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task FirstFrameNotSettings_IsAProtocolErrorAndTheCallIsInternal()
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.ReadPrefaceAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.Ping, 0, 0, new byte[8]);
            await c.DrainAsync();
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("not SETTINGS", ex.Status.Detail);
    }

    [Fact]
    public async Task FrameLargerThanMaxFrameSize_IsInternalAndTheClientSendsGoAway()
    {
        var goAway = new TaskCompletionSource<RawFrame>();
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.Data, 0, id, new byte[20_000]);
            goAway.TrySetResult(await c.ReadUntilAsync(FakeHttp2Connection.GoAway));
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("20000-byte frame", ex.Status.Detail);
        var frame = await goAway.Task.WaitAsync(s_limit);
        Assert.Equal(0x6u, BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.AsSpan(4))); // FRAME_SIZE_ERROR
    }

    [Theory]
    [InlineData("80")] // index 0
    [InlineData("c5")] // dynamic index that does not exist
    [InlineData("0085 61")] // string past the end of the block
    public async Task BadHpackInResponseHeaders_IsInternal(string hex)
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0x4, id, Convert.FromHexString(hex.Replace(" ", "")));
            await c.DrainAsync();
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("HPACK", ex.Status.Detail);
    }

    [Fact]
    public async Task StreamWindowOverflow_ResetsTheStreamAndIsInternal()
    {
        var reset = new TaskCompletionSource<RawFrame>();
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.WindowUpdate, 0, id, UInt32(0x7FFFFFFF));
            reset.TrySetResult(await c.ReadUntilAsync(FakeHttp2Connection.RstStream));
            await c.DrainAsync();
        });
        // The channel stays open until the server has read the RST_STREAM: the reset is queued for the connection's next
        // flush (on the pool), and disposing the channel right after the failed call closes the socket, which may come
        // first when the pool is slow (seen on a loaded CI run: the server then never saw the frame).
        using var channel = Channel(server);
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "x" }).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("2^31-1", ex.Status.Detail);
        Assert.Equal(0x3u, BinaryPrimitives.ReadUInt32BigEndian((await reset.Task.WaitAsync(s_limit)).Payload)); // FLOW_CONTROL_ERROR
    }

    [Fact]
    public async Task ConnectionWindowOverflow_IsInternal()
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            await c.ReadRequestAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.WindowUpdate, 0, 0, UInt32(0x7FFFFFFF));
            await c.DrainAsync();
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("connection window", ex.Status.Detail);
    }

    [Theory]
    [InlineData(0x7u, StatusCode.Unavailable)] // REFUSED_STREAM: safe to retry
    [InlineData(0x8u, StatusCode.Cancelled)]
    [InlineData(0xBu, StatusCode.ResourceExhausted)] // ENHANCE_YOUR_CALM
    [InlineData(0x2u, StatusCode.Internal)]
    public async Task ServerRstStream_MapsToTheGrpcStatus(uint code, StatusCode expected)
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteFrameAsync(FakeHttp2Connection.RstStream, 0, id, UInt32(code));
            await c.DrainAsync();
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(expected, ex.StatusCode);
    }

    [Fact]
    public async Task GoAwayBelowTheStream_IsUnavailable_AndTheNextCallUsesANewConnection()
    {
        var connections = 0;
        await using var server = new FakeHttp2Server(async c =>
        {
            var n = Interlocked.Increment(ref connections);
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            if (n == 1)
            {
                // Last-Stream-ID 0: the call was never processed.
                await c.WriteFrameAsync(FakeHttp2Connection.GoAway, 0, 0, new byte[8]);
            }
            else
            {
                await c.WriteResponseAsync(id, new EchoResponse { Message = "second connection" });
            }
            await c.DrainAsync();
        });
        using var channel = Channel(server);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("GOAWAY", ex.Status.Detail);
        var response = await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit);
        Assert.Equal("second connection", response.Message);
        Assert.Equal(2, connections);
    }

    [Fact]
    public async Task ServerClosingTheSocket_IsUnavailable()
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            await c.ReadRequestAsync();
        });
        var ex = await CallFailsAsync(server);
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task ResponseSplitAcrossContinuationWithHuffmanAndIndexing_IsDecoded()
    {
        var ping = new TaskCompletionSource<RawFrame>();
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            // A PING first: the client must answer it with the same payload and ACK.
            await c.WriteFrameAsync(FakeHttp2Connection.Ping, 0, 0, "12345678"u8.ToArray());
            var id = 0;
            var ended = false;
            while (!ended || !ping.Task.IsCompleted)
            {
                var frame = await c.ReadFrameAsync();
                if (frame.Type == FakeHttp2Connection.Ping)
                {
                    ping.TrySetResult(frame);
                }
                else if (frame.Type == FakeHttp2Connection.Headers)
                {
                    id = frame.StreamId;
                }
                else if (frame.Type == FakeHttp2Connection.Data && frame.EndStream)
                {
                    ended = true;
                }
            }
            for (var call = 0; call < 2; call++)
            {
                if (call == 1)
                {
                    id = await c.ReadRequestAsync();
                }
                // First response: literals with incremental indexing, the value Huffman-coded, split over
                // HEADERS + CONTINUATION. Second response: content-type by dynamic-table index (63: the
                // trailers' grpc-status was inserted after it, at 62).
                var huffman = HpackTests.HuffmanEncode("application/grpc"u8.ToArray());
                byte[] block = call == 0
                    ? [0x88, 0x5F, (byte)(0x80 | huffman.Length), .. huffman, .. FakeHttp2Connection.Block("x-custom", "value")]
                    : [0x88, 0xBF, .. FakeHttp2Connection.Block("x-custom", "again")];
                if (call == 0)
                {
                    await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0, id, block.AsMemory(0, 3));
                    await c.WriteFrameAsync(FakeHttp2Connection.Continuation, 0, id, block.AsMemory(3, 4));
                    await c.WriteFrameAsync(FakeHttp2Connection.Continuation, 0x4, id, block.AsMemory(7));
                }
                else
                {
                    await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0x4, id, block);
                }
                // The message split over two DATA frames, the first one padded.
                var message = FakeHttp2Connection.Message(new EchoResponse { Message = "m" + call });
                byte[] padded = [3, .. message.AsSpan(0, 4), 0, 0, 0];
                await c.WriteFrameAsync(FakeHttp2Connection.Data, 0x8, id, padded);
                await c.WriteFrameAsync(FakeHttp2Connection.Data, 0, id, message.AsMemory(4));
                byte[] trailers = [0x40, .. FakeHttp2Connection.Block("grpc-status", "0").AsSpan(1)];
                await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0x5, id, trailers);
            }
            await c.DrainAsync();
        });
        using var channel = Channel(server);
        for (var call = 0; call < 2; call++)
        {
            using var pending = channel.AsyncUnaryCall(Methods.UnaryEcho, new EchoRequest());
            var response = await pending.ResponseAsync.WaitAsync(s_limit);
            Assert.Equal("m" + call, response.Message);
            Assert.Equal(call == 0 ? "value" : "again", (await pending.ResponseHeadersAsync).GetValue("x-custom"));
            Assert.Equal(StatusCode.OK, pending.GetStatus().StatusCode);
        }
        var pingAck = await ping.Task.WaitAsync(s_limit);
        Assert.Equal(0x1, pingAck.Flags);
        Assert.Equal("12345678"u8.ToArray(), pingAck.Payload);
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task SmallServerWindow_RequestWaitsForWindowUpdate()
    {
        var received = new TaskCompletionSource<int>();
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync((0x4, 16)); // SETTINGS_INITIAL_WINDOW_SIZE = 16
            var headers = await c.ReadUntilAsync(FakeHttp2Connection.Headers);
            var total = 0;
            while (true)
            {
                var data = await c.ReadUntilAsync(FakeHttp2Connection.Data);
                Assert.True(data.Payload.Length <= 16, $"DATA of {data.Payload.Length} bytes exceeds the 16-byte window");
                total += data.Payload.Length;
                if (data.EndStream)
                {
                    break;
                }
                await c.WriteFrameAsync(FakeHttp2Connection.WindowUpdate, 0, headers.StreamId, UInt32((uint)data.Payload.Length));
            }
            received.TrySetResult(total);
            await c.WriteResponseAsync(headers.StreamId, new EchoResponse { Message = "ok" });
            await c.DrainAsync();
        });
        using var channel = Channel(server);
        var request = new EchoRequest { Message = new string('a', 100) };
        var response = await channel.UnaryAsync(Methods.UnaryEcho, request).WaitAsync(s_limit);
        Assert.Equal("ok", response.Message);
        Assert.Equal(5 + request.CalculateSize(), await received.Task);
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task Deadline_SendsRstStreamCancel_AndIsDeadlineExceeded()
    {
        var reset = new TaskCompletionSource<RawFrame>();
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var headers = await c.ReadUntilAsync(FakeHttp2Connection.Headers);
            await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0x4, headers.StreamId, FakeHttp2Connection.Block(":status", "200", "content-type", "application/grpc"));
            reset.TrySetResult(await c.ReadUntilAsync(FakeHttp2Connection.RstStream));
            await c.DrainAsync();
        });
        // The channel stays open until the reset has been seen: disposing it closes the socket at once.
        using var channel = Channel(server);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest(),
            new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300))).WaitAsync(s_limit));
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var frame = await reset.Task.WaitAsync(s_limit);
        Assert.Equal(0x8u, BinaryPrimitives.ReadUInt32BigEndian(frame.Payload)); // CANCEL
    }

    [Fact]
    public async Task HeaderBlockOverTheLimit_FailsTheCallOnly()
    {
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            var block = FakeHttp2Connection.Block(":status", "200", "x-big", new string('b', 15_000), "x-big2", new string('c', 15_000),
                "x-big3", new string('d', 15_000), "x-big4", new string('e', 15_000), "x-big5", new string('f', 15_000));
            await c.WriteFrameAsync(FakeHttp2Connection.Headers, 0, id, block.AsMemory(0, 16_000));
            for (var pos = 16_000; pos < block.Length; pos += 16_000)
            {
                var last = pos + 16_000 >= block.Length;
                await c.WriteFrameAsync(FakeHttp2Connection.Continuation, last ? (byte)0x4 : (byte)0, id, block.AsMemory(pos, Math.Min(16_000, block.Length - pos)));
            }
            var next = await c.ReadRequestAsync();
            await c.WriteResponseAsync(next, new EchoResponse { Message = "still fine" });
            await c.DrainAsync();
        });
        using var channel = Channel(server);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
        Assert.Contains("exceed the limit", ex.Status.Detail);
        Assert.Equal("still fine", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
    }

    [Fact]
    public async Task NothingListening_IsUnavailable()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task HeaderListOverTheServersLimit_IsRefusedBeforeSending()
    {
        var requests = 0;
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync((0x6, 1000)); // SETTINGS_MAX_HEADER_LIST_SIZE
            while (true)
            {
                var id = await c.ReadRequestAsync();
                Interlocked.Increment(ref requests);
                await c.WriteResponseAsync(id, new EchoResponse { Message = "small" });
            }
        });
        using var channel = Channel(server);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest(),
            new CallOptions(new Metadata { { "x-padding", new string('p', 2000) } })).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("exceeded the server limit of 1000 bytes", ex.Status.Detail);
        Assert.Equal(0, requests);
        Assert.Equal("small", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
    }

    [Fact]
    public async Task SilentServer_KeepalivePingUnanswered_FailsTheCallUnavailable()
    {
        var pings = 0;
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            await c.ReadRequestAsync();
            // From here on the server reads but never answers (a half-dead peer); count the client's PINGs.
            while (true)
            {
                if ((await c.ReadFrameAsync()).Type == FakeHttp2Connection.Ping)
                {
                    Interlocked.Increment(ref pings);
                }
            }
        });
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            KeepAlivePingDelay = TimeSpan.FromMilliseconds(200),
            KeepAlivePingTimeout = TimeSpan.FromMilliseconds(300),
        });
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("keepalive PING", ex.Status.Detail);
        Assert.True(pings >= 1, "no PING was sent");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task ServersStreamLimit_OpensMoreConnectionsUpToMaxConnections_ThenCallsWaitForASlot()
    {
        var connections = 0;
        var inFlight = 0;
        var maxInFlightPerConnection = 0;
        var gate = new object();
        await using var server = new FakeHttp2Server(async c =>
        {
            Interlocked.Increment(ref connections);
            await c.HandshakeAsync((0x3, 1)); // SETTINGS_MAX_CONCURRENT_STREAMS = 1
            while (true)
            {
                var headers = await c.ReadUntilAsync(FakeHttp2Connection.Headers);
                // A second HEADERS before this stream is answered would break the limit.
                var now = Interlocked.Increment(ref inFlight);
                await c.ReadUntilAsync(FakeHttp2Connection.Data, f => f.StreamId == headers.StreamId && f.EndStream);
                await Task.Delay(30);
                await c.WriteResponseAsync(headers.StreamId, new EchoResponse { Message = "ok" });
                Interlocked.Decrement(ref inFlight);
                lock (gate)
                {
                    maxInFlightPerConnection = Math.Max(maxInFlightPerConnection, now);
                }
            }
        });
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxConnections = 2 });
        var calls = Enumerable.Range(0, 8).Select(_ => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest())).ToArray();
        var responses = await Task.WhenAll(calls).WaitAsync(s_limit);
        Assert.All(responses, r => Assert.Equal("ok", r.Message));
        Assert.Equal(2, connections);
        Assert.True(maxInFlightPerConnection <= 2, $"{maxInFlightPerConnection} streams in flight over 2 connections limited to 1 each");
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task RefusedConnect_FailsTheCall_AndTheNextCallConnectsOnceTheServerIsUp()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        for (var i = 0; i < 3; i++)
        {
            var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit));
            Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        }
        // A failed connect must not stick: once something listens, calls go through.
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteResponseAsync(id, new EchoResponse { Message = "up now" });
            await c.DrainAsync();
        }, port);
        Assert.Equal("up now", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
    }

    [Fact]
    public async Task IdleConnection_IsClosedWithGoAwayNoError_AndTheNextCallOpensANewOne()
    {
        var connections = 0;
        var goAways = new System.Collections.Concurrent.ConcurrentQueue<(int LastStreamId, uint Code, TimeSpan AfterResponse)>();
        await using var server = new FakeHttp2Server(async c =>
        {
            Interlocked.Increment(ref connections);
            await c.HandshakeAsync();
            var id = await c.ReadRequestAsync();
            await c.WriteResponseAsync(id, new EchoResponse { Message = "ok" });
            var answered = Stopwatch.StartNew();
            var goAway = await c.ReadUntilAsync(FakeHttp2Connection.GoAway);
            goAways.Enqueue(((int)(BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload) & 0x7FFFFFFF),
                BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)), answered.Elapsed));
            await c.DrainAsync();
        });
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { IdleConnectionTimeout = TimeSpan.FromMilliseconds(300) });
        Assert.Equal("ok", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
        var watch = Stopwatch.StartNew();
        while (goAways.IsEmpty || channel.Http2Transport!.ConnectionCount != 0)
        {
            Assert.True(watch.Elapsed < s_limit, "the idle connection was not closed");
            await Task.Delay(20);
        }
        Assert.True(goAways.TryPeek(out var first));
        Assert.Equal(0, first.LastStreamId);
        Assert.Equal(0u, first.Code); // NO_ERROR
        Assert.True(first.AfterResponse >= TimeSpan.FromMilliseconds(250), $"closed {first.AfterResponse} after the call: before the idle timeout");

        Assert.Equal("ok", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
        Assert.Equal(2, connections);
        Assert.Empty(server.Errors);
    }

    [Fact]
    public async Task ConnectionWithACallInFlight_IsNotClosedAsIdle_AndWithInfiniteTimeoutIdleOnesStay()
    {
        var goAway = 0;
        await using var server = new FakeHttp2Server(async c =>
        {
            await c.HandshakeAsync();
            while (true)
            {
                var frame = await c.ReadFrameAsync();
                if (frame.Type == FakeHttp2Connection.GoAway)
                {
                    Interlocked.Increment(ref goAway);
                    await c.DrainAsync();
                    return;
                }
                if (frame.Type == FakeHttp2Connection.Data && frame.EndStream)
                {
                    // A call outliving the idle timeout several times over.
                    await Task.Delay(800);
                    await c.WriteResponseAsync(frame.StreamId, new EchoResponse { Message = "slow" });
                }
            }
        });
        using (var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { IdleConnectionTimeout = TimeSpan.FromMilliseconds(150) }))
        {
            Assert.Equal("slow", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
            Assert.Equal(0, Volatile.Read(ref goAway));
        }
        using (var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            IdleConnectionTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = Timeout.InfiniteTimeSpan,
        }))
        {
            Assert.Null(channel.Http2Transport!.TimerPeriod);
            Assert.Equal("slow", (await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest()).WaitAsync(s_limit)).Message);
            await Task.Delay(500);
            Assert.Equal(1, channel.Http2Transport.ConnectionCount);
        }
        Assert.Empty(server.Errors);
    }

    [Fact]
    public void IdleConnectionTimeout_ReachesTheTransport_AndByDefaultEndsBeforeTheServersIdleClose()
    {
        // docs/limits.md: the registry server closes an idle connection after 130 s; the client must close first.
        Assert.True(new GrpcChannelOptions().IdleConnectionTimeout < TimeSpan.FromSeconds(130));
        using var byDefault = GrpcChannel.ForAddress("http://127.0.0.1:1");
        Assert.Equal(new GrpcChannelOptions().IdleConnectionTimeout, byDefault.Http2Transport!.IdleConnectionTimeout);
        using var custom = GrpcChannel.ForAddress("http://127.0.0.1:1", new GrpcChannelOptions { IdleConnectionTimeout = TimeSpan.FromSeconds(7) });
        Assert.Equal(TimeSpan.FromSeconds(7), custom.Http2Transport!.IdleConnectionTimeout);
        Assert.Equal(TimeSpan.FromSeconds(7) / 4, custom.Http2Transport.TimerPeriod);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void IdleConnectionTimeout_NotPositive_IsRejectedNamingTheOption(int milliseconds)
    {
        var ex = Assert.Throws<ArgumentException>(() => GrpcChannel.ForAddress("http://127.0.0.1:1",
            new GrpcChannelOptions { IdleConnectionTimeout = TimeSpan.FromMilliseconds(milliseconds) }));
        Assert.Contains("IdleConnectionTimeout", ex.Message);
    }
}
