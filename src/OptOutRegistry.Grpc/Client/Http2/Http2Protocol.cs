using System.Buffers.Binary;

namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>Frame types (RFC 7540 section 6).</summary>
internal enum Http2FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>Error codes (RFC 7540 section 7).</summary>
internal enum Http2ErrorCode : uint
{
    NoError = 0x0,
    ProtocolError = 0x1,
    InternalError = 0x2,
    FlowControlError = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSizeError = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    CompressionError = 0x9,
    ConnectError = 0xA,
    EnhanceYourCalm = 0xB,
    InadequateSecurity = 0xC,
    Http11Required = 0xD,
}

/// <summary>A connection error (RFC 7540 5.4.1): the connection ends with GOAWAY carrying this code.</summary>
internal sealed class Http2ConnectionException(Http2ErrorCode code, string message) : Exception(message)
{
    public Http2ErrorCode Code { get; } = code;
}

/// <summary>Frame layout constants and writers (RFC 7540 4.1, 6.x).</summary>
internal static class Http2Protocol
{
    public const int FrameHeaderSize = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value; we never raise ours, so no frame we accept is larger.</summary>
    public const int DefaultMaxFrameSize = 16_384;

    public const int DefaultInitialWindowSize = 65_535;
    public const int MaxWindowSize = int.MaxValue;

    public const byte FlagEndStream = 0x1;
    public const byte FlagAck = 0x1;
    public const byte FlagEndHeaders = 0x4;
    public const byte FlagPadded = 0x8;
    public const byte FlagPriority = 0x20;

    public const ushort SettingsHeaderTableSize = 0x1;
    public const ushort SettingsEnablePush = 0x2;
    public const ushort SettingsMaxConcurrentStreams = 0x3;
    public const ushort SettingsInitialWindowSize = 0x4;
    public const ushort SettingsMaxFrameSize = 0x5;
    public const ushort SettingsMaxHeaderListSize = 0x6;

    /// <summary>RFC 7540 3.5: the client connection preface.</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void WriteFrameHeader(Span<byte> destination, int length, Http2FrameType type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = (byte)type;
        destination[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(5), (uint)streamId & 0x7FFF_FFFF);
    }

    public static string ErrorName(uint code) => code <= (uint)Http2ErrorCode.Http11Required
        ? ((Http2ErrorCode)code).ToString()
        : "0x" + code.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
}
