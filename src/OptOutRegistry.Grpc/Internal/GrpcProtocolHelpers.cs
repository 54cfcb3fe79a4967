using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>Parsing and encoding of protocol header values.</summary>
internal static class GrpcProtocolHelpers
{
    /// <summary>
    /// True when <paramref name="contentType"/> is <c>application/grpc</c> (case-insensitive) followed by the end,
    /// <c>;</c> (parameters) or <c>+</c> (sub-type such as <c>+proto</c>) — PROTOCOL-HTTP2.md "Content-Type".
    /// </summary>
    public static bool IsGrpcContentType([NotNullWhen(true)] string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(GrpcProtocolConstants.GrpcContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        if (contentType.Length == GrpcProtocolConstants.GrpcContentType.Length)
        {
            return true;
        }
        var next = contentType[GrpcProtocolConstants.GrpcContentType.Length];
        return next is ';' or '+';
    }

    /// <summary>
    /// Parses a <c>grpc-timeout</c> value: 1 to 8 ASCII digits (we accept up to 9 digits, harmlessly lenient, as
    /// grpc-dotnet does) then one unit of H, M, S, m, u, n (PROTOCOL-HTTP2.md "Timeout"). Units are case-sensitive.
    /// </summary>
    public static bool TryDecodeTimeout(ReadOnlySpan<char> value, out TimeSpan timeout)
    {
        timeout = default;
        if (value.Length < 2 || value.Length > 10)
        {
            return false;
        }
        var digits = value[..^1];
        long n = 0;
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
            n = (n * 10) + (c - '0');
        }
        long ticks;
        switch (value[^1])
        {
            case 'H': ticks = n * TimeSpan.TicksPerHour; break;
            case 'M': ticks = n * TimeSpan.TicksPerMinute; break;
            case 'S': ticks = n * TimeSpan.TicksPerSecond; break;
            case 'm': ticks = n * TimeSpan.TicksPerMillisecond; break;
            case 'u': ticks = n * 10; break;
            case 'n': ticks = n / 100; break;
            default: return false;
        }
        timeout = TimeSpan.FromTicks(Math.Min(ticks, GrpcProtocolConstants.MaxDeadlineTicks));
        return true;
    }

    /// <summary>
    /// Encodes the time left until a deadline for <c>grpc-timeout</c>. A non-positive value is sent as <c>1n</c> (never 0);
    /// below 1000 s, milliseconds are rounded up to 3 significant figures so the value stays ≤ 8 digits and never
    /// shortens the deadline; beyond that, whole seconds rounded up, clamped to 99,999,999 S.
    /// </summary>
    public static string EncodeTimeout(long ticks)
    {
        if (ticks <= 0)
        {
            return "1n";
        }
        if (ticks < 1000 * TimeSpan.TicksPerSecond)
        {
            var ms = (ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
            // Round up to 3 significant figures.
            long scale = 1;
            while (ms / scale >= 1000)
            {
                scale *= 10;
            }
            ms = (ms + scale - 1) / scale * scale;
            if (ms % 3_600_000 == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{ms / 3_600_000}H");
            }
            if (ms % 60_000 == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{ms / 60_000}M");
            }
            if (ms % 1000 == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{ms / 1000}S");
            }
            return string.Create(CultureInfo.InvariantCulture, $"{ms}m");
        }
        var seconds = Math.Min((ticks / TimeSpan.TicksPerSecond) + (ticks % TimeSpan.TicksPerSecond != 0 ? 1 : 0), 99_999_999L);
        if (seconds % 3600 == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}H");
        }
        if (seconds % 60 == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}M");
        }
        return string.Create(CultureInfo.InvariantCulture, $"{seconds}S");
    }

    /// <summary>Decodes base64 with or without padding (PROTOCOL-HTTP2.md: receivers MUST accept both).</summary>
    public static bool TryDecodeBase64(string value, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        var trimmed = value.AsSpan().Trim();
        var rem = trimmed.Length % 4;
        if (rem == 1)
        {
            return false;
        }
        Span<char> padded = trimmed.Length + 3 <= 512 ? stackalloc char[trimmed.Length + 3] : new char[trimmed.Length + 3];
        trimmed.CopyTo(padded);
        var len = trimmed.Length;
        if (rem != 0)
        {
            for (var i = rem; i < 4; i++)
            {
                padded[len++] = '=';
            }
        }
        var buffer = new byte[len / 4 * 3];
        if (!Convert.TryFromBase64Chars(padded[..len], buffer, out var written))
        {
            return false;
        }
        bytes = written == buffer.Length ? buffer : buffer.AsSpan(0, written).ToArray();
        return true;
    }

    /// <summary>Encodes binary metadata as unpadded base64 (PROTOCOL-HTTP2.md: senders should omit padding).</summary>
    public static string EncodeBase64(byte[] value) => Convert.ToBase64String(value).TrimEnd('=');

    /// <summary>Maps an HTTP status to a gRPC code when a response has no grpc-status (doc/http-grpc-status-mapping.md).</summary>
    public static StatusCode MapHttpStatus(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        431 => StatusCode.Internal,
        >= 100 and < 200 => StatusCode.Internal,
        _ => StatusCode.Unknown,
    };

    /// <summary>Maps an HTTP/2 RST_STREAM/GOAWAY error code to a gRPC code (PROTOCOL-HTTP2.md "Errors").</summary>
    public static StatusCode MapHttp2ErrorCode(long errorCode) => errorCode switch
    {
        0x7 => StatusCode.Unavailable,       // REFUSED_STREAM: safe to retry
        0x8 => StatusCode.Cancelled,         // CANCEL
        0xB => StatusCode.ResourceExhausted, // ENHANCE_YOUR_CALM
        0xC => StatusCode.PermissionDenied,  // INADEQUATE_SECURITY
        _ => StatusCode.Internal,            // NO_ERROR, PROTOCOL, INTERNAL, FLOW_CONTROL, SETTINGS_TIMEOUT, FRAME_SIZE, COMPRESSION, CONNECT
    };
}
