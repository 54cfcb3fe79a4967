using Microsoft.Extensions.Primitives;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>Header names and values of the gRPC over HTTP/2 protocol (grpc/grpc doc/PROTOCOL-HTTP2.md), built once.</summary>
internal static class GrpcProtocolConstants
{
    public const string GrpcContentType = "application/grpc";
    public const string TimeoutHeader = "grpc-timeout";
    public const string MessageEncodingHeader = "grpc-encoding";
    public const string MessageAcceptEncodingHeader = "grpc-accept-encoding";
    public const string StatusTrailer = "grpc-status";
    public const string MessageTrailer = "grpc-message";
    public const string TeHeader = "te";
    public const string TeTrailers = "trailers";
    public const string IdentityEncoding = "identity";
    public const string GzipEncoding = "gzip";
    public const string UserAgent = "grpc-dotnet-optout/1.0";
    public const int HeaderSize = 5;
    public const int DefaultMaxReceiveMessageSize = 4 * 1024 * 1024;

    /// <summary>PROTOCOL-HTTP2.md: TimeoutValue is at most 8 digits, so 99,999,999 seconds is the largest encodable deadline.</summary>
    public const long MaxDeadlineTicks = 99_999_999 * TimeSpan.TicksPerSecond;

    /// <summary>Timers fire a little early on some platforms; wait this much past the deadline (grpc-dotnet uses the same epsilon).</summary>
    public static readonly TimeSpan TimerEpsilon = TimeSpan.FromMilliseconds(14);

    /// <summary>doc/compression.md: the encodings we can decode, identity first.</summary>
    public const string SupportedAcceptEncoding = "identity,gzip";

    public static readonly StringValues GrpcContentTypeValue = new(GrpcContentType);
    public static readonly StringValues SupportedAcceptEncodingValue = new(SupportedAcceptEncoding);
    public static readonly StringValues GzipEncodingValue = new(GzipEncoding);

    private static readonly StringValues[] s_statusValues =
    [
        new("0"), new("1"), new("2"), new("3"), new("4"), new("5"), new("6"), new("7"), new("8"),
        new("9"), new("10"), new("11"), new("12"), new("13"), new("14"), new("15"), new("16"),
    ];

    /// <summary>The decimal <c>grpc-status</c> value without allocating (PROTOCOL-HTTP2.md: no leading zeros).</summary>
    public static StringValues StatusValue(StatusCode code)
    {
        var i = (int)code;
        return (uint)i < (uint)s_statusValues.Length ? s_statusValues[i] : new StringValues(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Request headers that are protocol, not user metadata (grpc-dotnet GrpcProtocolConstants.FilteredHeaders).
    /// </summary>
    public static bool IsFilteredRequestHeader(string name)
    {
        if (name.Length == 0 || name[0] == ':')
        {
            return true;
        }
        return name switch
        {
            "content-type" or "content-length" or "content-encoding" or "te" or "host" or "accept-encoding"
                or TimeoutHeader or MessageEncodingHeader or MessageAcceptEncodingHeader => true,
            _ => false,
        };
    }

    /// <summary>Response headers or trailers that are protocol, not user metadata (grpc-dotnet client ShouldSkipHeader).</summary>
    public static bool IsFilteredResponseHeader(string name)
    {
        if (name.Length == 0 || name[0] == ':')
        {
            return true;
        }
        return name switch
        {
            "content-type" or "content-length" or "content-encoding" or "date" or "server" or StatusTrailer or MessageTrailer
                or MessageEncodingHeader or MessageAcceptEncodingHeader => true,
            _ => false,
        };
    }
}
