using System.Buffers;
using System.IO.Pipelines;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>Header value parsing and encoding (vectors from grpc-dotnet GrpcProtocolHelpersTests and PROTOCOL-HTTP2.md).</summary>
public sealed class ProtocolHelpersTests
{
    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("1M", 600_000_000L)]
    [InlineData("1S", 10_000_000L)]
    [InlineData("1m", 10_000L)]
    [InlineData("1u", 10L)]
    [InlineData("100n", 1L)]
    [InlineData("1n", 0L)]
    [InlineData("0S", 0L)]
    [InlineData("99999999S", 999_999_990_000_000L)]
    [InlineData("99999999H", 999_999_990_000_000L)]
    public void TryDecodeTimeout_WithVariousUnits_ShouldMatchExpected(string value, long ticks)
    {
        Assert.True(GrpcProtocolHelpers.TryDecodeTimeout(value, out var timeout));
        Assert.Equal(ticks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("M")]
    [InlineData("1x")]
    [InlineData("-1S")]
    [InlineData("+1S")]
    [InlineData(" 1S")]
    [InlineData("1 S")]
    [InlineData("1s")]
    [InlineData("12345678901S")]
    public void TryDecodeTimeout_Invalid_ShouldFail(string value)
    {
        Assert.False(GrpcProtocolHelpers.TryDecodeTimeout(value, out _));
    }

    [Theory]
    [InlineData(0L, "1n")]
    [InlineData(-5L, "1n")]
    [InlineData(1L, "1m")]
    [InlineData(10_000L, "1m")]
    [InlineData(12_345_678L, "1240m")]
    [InlineData(10_000_000L, "1S")]
    [InlineData(600_000_000L, "1M")]
    [InlineData(36_000_000_000L, "1H")]
    [InlineData(9_990_000_000L, "999S")]
    [InlineData(9_999_999_999L, "1000S")]
    [InlineData(10_000_000_001L, "1001S")]
    [InlineData(long.MaxValue, "99999999S")]
    public void EncodeTimeout_RoundsUpAndStaysWithinEightDigits(long ticks, string expected)
    {
        var encoded = GrpcProtocolHelpers.EncodeTimeout(ticks);
        Assert.Equal(expected, encoded);
        Assert.True(encoded.Length <= 9);
        Assert.True(GrpcProtocolHelpers.TryDecodeTimeout(encoded, out var decoded));
        if (ticks > 0 && ticks < 99_999_999L * TimeSpan.TicksPerSecond)
        {
            Assert.True(decoded.Ticks >= ticks, "the encoded deadline must never be shorter than the real one");
        }
    }

    [Theory]
    [InlineData("plain ascii", "plain ascii")]
    [InlineData("100%", "100%25")]
    [InlineData("é", "%C3%A9")]
    [InlineData("日本", "%E6%97%A5%E6%9C%AC")]
    [InlineData("a\r\nb\t", "a%0D%0Ab%09")]
    [InlineData("~ !$&", "~ !$&")]
    [InlineData("\ud83d\ude00", "%F0%9F%98%80")]
    public void PercentEncode_MatchesSpec(string value, string encoded)
    {
        Assert.Equal(encoded, PercentEncoding.Encode(value));
        Assert.Equal(value, PercentEncoding.Decode(encoded));
    }

    [Fact]
    public void PercentEncode_UnpairedSurrogate_BecomesReplacementCharacter()
    {
        Assert.Equal("%EF%BF%BD", PercentEncoding.Encode("\ud800"));
        Assert.Equal("\ufffd", PercentEncoding.Decode(PercentEncoding.Encode("\ud800")));
    }

    [Theory]
    [InlineData("%", "%")]
    [InlineData("%4", "%4")]
    [InlineData("%zz!", "%zz!")]
    [InlineData("50%off", "50%off")]
    [InlineData("%C3", "\ufffd")]
    public void PercentDecode_IsLenientOnMalformedInput(string value, string decoded)
    {
        Assert.Equal(decoded, PercentEncoding.Decode(value));
    }

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc+json", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("Application/GRPC", true)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsGrpcContentType_FollowsSpec(string? value, bool expected)
    {
        Assert.Equal(expected, GrpcProtocolHelpers.IsGrpcContentType(value));
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(502, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(504, StatusCode.Unavailable)]
    [InlineData(431, StatusCode.Internal)]
    [InlineData(100, StatusCode.Internal)]
    [InlineData(500, StatusCode.Unknown)]
    [InlineData(302, StatusCode.Unknown)]
    public void MapHttpStatus_FollowsHttpGrpcStatusMapping(int http, StatusCode expected)
    {
        Assert.Equal(expected, GrpcProtocolHelpers.MapHttpStatus(http));
    }

    [Theory]
    [InlineData(0x0L, StatusCode.Internal)]
    [InlineData(0x1L, StatusCode.Internal)]
    [InlineData(0x2L, StatusCode.Internal)]
    [InlineData(0x7L, StatusCode.Unavailable)]
    [InlineData(0x8L, StatusCode.Cancelled)]
    [InlineData(0xBL, StatusCode.ResourceExhausted)]
    [InlineData(0xCL, StatusCode.PermissionDenied)]
    public void MapHttp2ErrorCode_FollowsSpec(long code, StatusCode expected)
    {
        Assert.Equal(expected, GrpcProtocolHelpers.MapHttp2ErrorCode(code));
    }

    [Theory]
    [InlineData("AAE", new byte[] { 0, 1 })]
    [InlineData("AAE=", new byte[] { 0, 1 })]
    [InlineData("/w", new byte[] { 0xFF })]
    [InlineData("/w==", new byte[] { 0xFF })]
    [InlineData("", new byte[0])]
    public void TryDecodeBase64_AcceptsPaddedAndUnpadded(string value, byte[] expected)
    {
        Assert.True(GrpcProtocolHelpers.TryDecodeBase64(value, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("A")]
    [InlineData("AAAAA")]
    [InlineData("!!!!")]
    public void TryDecodeBase64_RejectsInvalid(string value)
    {
        Assert.False(GrpcProtocolHelpers.TryDecodeBase64(value, out _));
    }

    [Theory]
    [InlineData("Upper-Case", "upper-case")]
    [InlineData("a.b_c-d9", "a.b_c-d9")]
    public void Metadata_KeysAreLowerCased(string key, string expected)
    {
        Assert.Equal(expected, new Metadata.Entry(key, "v").Key);
    }

    [Theory]
    [InlineData("bad key")]
    [InlineData("bad:key")]
    [InlineData("")]
    [InlineData("ключ")]
    public void Metadata_InvalidKey_IsRejectedNamingTheKey(string key)
    {
        var ex = Assert.Throws<ArgumentException>(() => new Metadata.Entry(key, "v"));
        Assert.Contains("key", ex.Message);
    }

    [Fact]
    public void Metadata_NonAsciiValueOrBinaryMismatch_IsRejected()
    {
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("k", "é"));
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("k-bin", "text"));
        Assert.Throws<ArgumentException>(() => new Metadata.Entry("k", new byte[] { 1 }));
    }
}

/// <summary>Framing over pipes and multi-segment sequences (grpc-dotnet PipeExtensionsTests).</summary>
public sealed class FramingTests
{
    private static byte[] Frame(byte[] body, byte flag = 0) => TestAssets.RawGrpc.Frame(body, flag);

    private static ReadOnlySequence<byte> Segmented(byte[] data, int segmentSize)
    {
        Segment? first = null;
        Segment? last = null;
        for (var i = 0; i < data.Length; i += segmentSize)
        {
            var chunk = data.AsMemory(i, Math.Min(segmentSize, data.Length - i));
            if (first is null)
            {
                first = last = new Segment(chunk, 0);
            }
            else
            {
                last = last!.Append(chunk);
            }
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(1000)]
    public void TryReadMessage_AnySegmentation_YieldsTheSameMessages(int segmentSize)
    {
        var data = Frame([1, 2, 3]).Concat(Frame([])).Concat(Frame(Enumerable.Range(0, 300).Select(i => (byte)i).ToArray())).ToArray();
        var buffer = Segmented(data, segmentSize);
        var lengths = new List<long>();
        while (MessageFraming.TryReadMessage(ref buffer, 1000, out var compressed, out var payload))
        {
            Assert.False(compressed);
            lengths.Add(payload.Length);
        }
        Assert.Equal([3L, 0L, 300L], lengths);
        Assert.Equal(0, buffer.Length);
    }

    [Fact]
    public void TryReadMessage_Incomplete_ReturnsFalseAndKeepsBuffer()
    {
        var data = Frame([1, 2, 3, 4]);
        for (var cut = 0; cut < data.Length; cut++)
        {
            var buffer = new ReadOnlySequence<byte>(data, 0, cut);
            Assert.False(MessageFraming.TryReadMessage(ref buffer, 100, out _, out _));
            Assert.Equal(cut, buffer.Length);
        }
    }

    [Fact]
    public void TryReadMessage_LengthOverLimit_FailsOnThePrefixAlone()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 1, 0 });
        var ex = Assert.Throws<RpcException>(() => MessageFraming.TryReadMessage(ref buffer, 255, out _, out _));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public void TryReadMessage_LengthAboveIntMax_IsResourceExhausted()
    {
        var buffer = new ReadOnlySequence<byte>(new byte[] { 0, 0x80, 0, 0, 0 });
        var ex = Assert.Throws<RpcException>(() => MessageFraming.TryReadMessage(ref buffer, int.MaxValue, out _, out _));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0xFF)]
    public void TryReadMessage_BadFlag_IsInternal(byte flag)
    {
        var buffer = new ReadOnlySequence<byte>(Frame([1], flag));
        var ex = Assert.Throws<RpcException>(() => MessageFraming.TryReadMessage(ref buffer, 100, out _, out _));
        Assert.Equal(StatusCode.Internal, ex.StatusCode);
    }

    [Fact]
    public async Task WriteMessage_ThenRead_OverPipe_RoundTrips()
    {
        var pipe = new Pipe();
        var messages = Enumerable.Range(0, 100).Select(i => new OptOutRegistry.Interop.V1.EchoRequest { Message = new string('x', i * 50) }).ToList();
        foreach (var m in messages)
        {
            MessageFraming.WriteMessage(pipe.Writer, m, null, gzip: m.Message.Length % 100 == 0);
        }
        await pipe.Writer.CompleteAsync();
        var parser = OptOutRegistry.Interop.V1.EchoRequest.Parser;
        var read = new List<string>();
        while (true)
        {
            var result = await pipe.Reader.ReadAsync();
            var buffer = result.Buffer;
            while (MessageFraming.TryReadMessage(ref buffer, 1 << 20, out var compressed, out var payload))
            {
                read.Add(MessageFraming.Deserialize(parser, payload, compressed, compressed ? "gzip" : null, 1 << 20, "request").Message);
            }
            pipe.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                Assert.Equal(0, buffer.Length);
                break;
            }
        }
        Assert.Equal(messages.Select(m => m.Message), read);
    }

    [Fact]
    public void WriteMessage_OverSendLimit_IsResourceExhausted()
    {
        var writer = new ArrayBufferWriter<byte>();
        var ex = Assert.Throws<RpcException>(() => MessageFraming.WriteMessage(writer, new OptOutRegistry.Interop.V1.EchoRequest { Message = new string('x', 100) }, 50, gzip: false));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal(0, writer.WrittenCount);
    }

    [Fact]
    public void WriteMessage_EmptyMessage_IsFiveZeroBytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteMessage(writer, new OptOutRegistry.Interop.V1.EchoRequest(), null, gzip: false);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteMessage_LargeMessage_UsesTheChunkedPathCorrectly()
    {
        var writer = new ArrayBufferWriter<byte>();
        var message = new OptOutRegistry.Interop.V1.EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[200_000]) };
        MessageFraming.WriteMessage(writer, message, null, gzip: false);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
        Assert.True(MessageFraming.TryReadMessage(ref buffer, 1 << 20, out _, out var payload));
        Assert.Equal(200_000, OptOutRegistry.Interop.V1.EchoRequest.Parser.ParseFrom(payload).Payload.Length);
    }
}
