using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc;

/// <summary>
/// A client connection to a gRPC server over HTTP/2: prior knowledge (h2c) for <c>http://</c>, ALPN for
/// <c>https://</c>, several connections under load. By default the channel's own HTTP/2 client
/// (<see cref="GrpcTransport.Http2"/>); HttpClient on request or with a caller's handler. Thread-safe; create one per
/// server and reuse it.
/// </summary>
public sealed class GrpcChannel : IDisposable
{
    private readonly HttpMessageInvoker _invoker;
    private readonly bool _disposeInvoker;

    // Request URIs by method object (reference equality: hashing the method is free, hashing its name is not).
    private readonly ConcurrentDictionary<object, Uri> _methodUris = new(ReferenceEqualityComparer.Instance);

    private GrpcChannel(Uri address, GrpcChannelOptions options)
    {
        if (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"Address '{address}' must use http or https.", nameof(address));
        }
        Address = address;
        MaxReceiveMessageSize = options.MaxReceiveMessageSize ?? int.MaxValue;
        MaxSendMessageSize = options.MaxSendMessageSize;
        if (options.CompressionEncoding is not null && options.CompressionEncoding != GrpcProtocolConstants.GzipEncoding)
        {
            throw new ArgumentException($"CompressionEncoding '{options.CompressionEncoding}' is not supported; use \"gzip\" or null.", nameof(options));
        }
        RequestGzip = options.CompressionEncoding is not null;
        Transport = options.HttpHandler is null ? options.Transport : GrpcTransport.HttpClient;
        if (options.IdleConnectionTimeout <= TimeSpan.Zero && options.IdleConnectionTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"IdleConnectionTimeout must be positive or Timeout.InfiniteTimeSpan, not {options.IdleConnectionTimeout}.", nameof(options));
        }
        if (options.HttpHandler is null && options.Transport == GrpcTransport.Http2)
        {
            if (options.ConnectTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentException("ConnectTimeout must be positive.", nameof(options));
            }
            if ((options.KeepAlivePingDelay <= TimeSpan.Zero && options.KeepAlivePingDelay != Timeout.InfiniteTimeSpan) || options.KeepAlivePingTimeout <= TimeSpan.Zero)
            {
                throw new ArgumentException("KeepAlivePingDelay and KeepAlivePingTimeout must be positive (or the delay infinite).", nameof(options));
            }
            Http2Transport = new Client.Http2.Http2Handler(address, options.MaxConnections, options.ConnectTimeout,
                options.ServerCertificateValidation, requestGzip: options.CompressionEncoding is not null,
                options.KeepAlivePingDelay, options.KeepAlivePingTimeout, options.IdleConnectionTimeout);
            _invoker = new HttpMessageInvoker(Http2Transport, disposeHandler: true);
            _disposeInvoker = true;
        }
        else if (options.HttpHandler is null)
        {
            var handler = new SocketsHttpHandler
            {
                // grpc-dotnet HttpHandlerFactory: Kestrel allows 100 streams per connection, so open more under load.
                EnableMultipleHttp2Connections = true,
                MaxConnectionsPerServer = options.MaxConnections,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                // gRPC has no redirects (doc/http-grpc-status-mapping.md maps 3xx to UNKNOWN): never re-send a call
                // elsewhere. Also takes RedirectHandler, one async frame per call, out of the handler chain.
                AllowAutoRedirect = false,
                PooledConnectionIdleTimeout = options.IdleConnectionTimeout,
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            };
            _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
            _disposeInvoker = true;
        }
        else
        {
            _invoker = new HttpMessageInvoker(options.HttpHandler, disposeHandler: options.DisposeHttpHandler);
            _disposeInvoker = true;
        }
        BaseAddress = address.GetLeftPart(UriPartial.Authority).TrimEnd('/') + address.AbsolutePath.TrimEnd('/');
    }

    /// <summary>The transport this channel sends calls with.</summary>
    public GrpcTransport Transport { get; }

    /// <summary>The server address.</summary>
    public Uri Address { get; }

    internal string BaseAddress { get; }

    internal HttpMessageInvoker Invoker => _invoker;

    /// <summary>The own HTTP/2 transport, or null when calls go through HttpClient.</summary>
    internal Client.Http2.Http2Handler? Http2Transport { get; }

    /// <summary>The request URI of a method, <c>{address}/{package.Service}/{Method}</c> (PROTOCOL-HTTP2.md "Path").</summary>
    internal Uri GetMethodUri(object method, string fullName)
        => _methodUris.TryGetValue(method, out var uri) ? uri : _methodUris.GetOrAdd(method, new Uri(BaseAddress + fullName, UriKind.Absolute));

    internal int MaxReceiveMessageSize { get; }

    internal int? MaxSendMessageSize { get; }

    internal bool RequestGzip { get; }

    /// <summary>Creates a channel to <paramref name="address"/>, e.g. <c>http://localhost:5000</c>.</summary>
    public static GrpcChannel ForAddress(string address, GrpcChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        return ForAddress(new Uri(address, UriKind.Absolute), options);
    }

    /// <summary>Creates a channel to <paramref name="address"/>.</summary>
    public static GrpcChannel ForAddress(Uri address, GrpcChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new GrpcChannel(address, options ?? new GrpcChannelOptions());
    }

    /// <summary>
    /// Makes a unary call and returns the response; throws <see cref="RpcException"/> on a non-OK status. With
    /// <see cref="CallOptions.Hedging"/> the call is hedged (<see cref="HedgingPolicy"/>): an invalid policy throws
    /// <see cref="ArgumentException"/> naming the field.
    /// </summary>
    public Task<TResponse> UnaryAsync<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(request);
        if (options.Hedging is { } hedging)
        {
            ArgumentNullException.ThrowIfNull(method);
            hedging.Validate();
            return Client.HedgedUnaryCall<TRequest, TResponse>.RunAsync(this, method, request, options, hedging);
        }
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        return Http2Transport is { } transport ? call.RunUnaryDirectAsync(transport, request) : call.RunUnaryFastAsync(request);
    }

    /// <summary>Starts a unary call, exposing its headers, status and trailers.</summary>
    public AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        return new AsyncUnaryCall<TResponse>(call, call.RunUnaryAsync(request));
    }

    /// <summary>Starts a server-streaming call. Disposing the call cancels it.</summary>
    public AsyncServerStreamingCall<TResponse> ServerStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartWithMessage(request);
        return new AsyncServerStreamingCall<TResponse>(call, call);
    }

    /// <summary>Starts a client-streaming call.</summary>
    public AsyncClientStreamingCall<TRequest, TResponse> ClientStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncClientStreamingCall<TRequest, TResponse>(call, call, call.ReadSingleResponseAsync());
    }

    /// <summary>Starts a bidirectional-streaming call.</summary>
    public AsyncDuplexStreamingCall<TRequest, TResponse> DuplexStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, CallOptions options = default)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var call = new GrpcCall<TRequest, TResponse>(this, method, options);
        call.StartStreaming();
        return new AsyncDuplexStreamingCall<TRequest, TResponse>(call, call, call);
    }

    /// <summary>Closes the channel's connections.</summary>
    public void Dispose()
    {
        if (_disposeInvoker)
        {
            _invoker.Dispose();
        }
    }
}
