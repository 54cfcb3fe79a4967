using Microsoft.AspNetCore.Http;

namespace OptOutRegistry.Grpc;

/// <summary>The context of one server call, passed to every handler.</summary>
public abstract class ServerCallContext
{
    /// <summary>The full method name, <c>/package.Service/Method</c>.</summary>
    public abstract string Method { get; }

    /// <summary>The peer address, e.g. <c>ipv4:127.0.0.1:50312</c>.</summary>
    public abstract string Peer { get; }

    /// <summary>The call's deadline in UTC, <see cref="DateTime.MaxValue"/> if the client set none.</summary>
    public abstract DateTime Deadline { get; }

    /// <summary>The client's custom metadata (protocol headers such as <c>grpc-timeout</c> and <c>te</c> are left out).</summary>
    public abstract Metadata RequestHeaders { get; }

    /// <summary>Custom trailers to send with the status.</summary>
    public abstract Metadata ResponseTrailers { get; }

    /// <summary>Cancelled when the client cancels (RST_STREAM), the connection drops or the deadline passes.</summary>
    public abstract CancellationToken CancellationToken { get; }

    /// <summary>The status sent when the handler returns normally; OK unless set.</summary>
    public abstract Status Status { get; set; }

    /// <summary>The underlying ASP.NET Core request.</summary>
    public abstract HttpContext HttpContext { get; }

    /// <summary>Sends the response headers with custom metadata now; at most once, before the first message.</summary>
    public abstract Task WriteResponseHeadersAsync(Metadata headers);
}

/// <summary>Handles a unary call.</summary>
public delegate Task<TResponse> UnaryServerMethod<TRequest, TResponse>(TRequest request, ServerCallContext context)
    where TRequest : class
    where TResponse : class;

/// <summary>Handles a server-streaming call.</summary>
public delegate Task ServerStreamingServerMethod<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context)
    where TRequest : class
    where TResponse : class;

/// <summary>Handles a client-streaming call.</summary>
public delegate Task<TResponse> ClientStreamingServerMethod<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context)
    where TRequest : class
    where TResponse : class;

/// <summary>Handles a bidirectional-streaming call.</summary>
public delegate Task DuplexStreamingServerMethod<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context)
    where TRequest : class
    where TResponse : class;

/// <summary>Server options, set through <see cref="GrpcServiceCollectionExtensions.AddGrpcTransport"/>.</summary>
public sealed class GrpcServerOptions
{
    private int? _maxDecompressedMessageSize;

    /// <summary>The largest request message accepted, checked against the length prefix before buffering. Default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>The largest response message sent; null for no limit (the default).</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>The largest size a compressed request message may inflate to. Defaults to <see cref="MaxReceiveMessageSize"/>.</summary>
    public int MaxDecompressedMessageSize
    {
        get => _maxDecompressedMessageSize ?? MaxReceiveMessageSize;
        set => _maxDecompressedMessageSize = value;
    }

    /// <summary>Compress responses with this encoding (only "gzip" is supported) when the client accepts it; null for none.</summary>
    public string? ResponseCompressionAlgorithm { get; set; }

    /// <summary>
    /// How long a client-streaming or bidirectional call may wait for its next request message before the server ends
    /// it with UNAVAILABLE (the client should open a new stream). Null (the default here) for no limit; the registry
    /// server sets 5 minutes. Server-streaming calls (e.g. a follower's WatchEvents) are not affected: they have no
    /// further request messages.
    /// </summary>
    public TimeSpan? StreamIdleTimeout { get; set; }

    /// <summary>Put the exception type and message of unexpected handler exceptions into grpc-message. Off by default.</summary>
    public bool EnableDetailedErrors { get; set; }
}
