using System.Net.Security;

namespace OptOutRegistry.Grpc;

/// <summary>Which HTTP/2 implementation a <see cref="GrpcChannel"/> sends calls with.</summary>
public enum GrpcTransport
{
    /// <summary>
    /// The channel's own HTTP/2 client connection for gRPC (HPACK, flow control, writes of many calls coalesced into
    /// one socket write): several times less client CPU per unary call than HttpClient.
    /// </summary>
    Http2 = 0,

    /// <summary>HttpClient's <see cref="SocketsHttpHandler"/> (also used whenever <see cref="GrpcChannelOptions.HttpHandler"/> is set).</summary>
    HttpClient = 1,
}

/// <summary>Options of a <see cref="GrpcChannel"/>.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>
    /// The handler to send requests with. When set, calls go through HttpClient with this handler whatever
    /// <see cref="Transport"/> says; by default the channel owns its transport.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>The transport used when no <see cref="HttpHandler"/> is given; default <see cref="GrpcTransport.Http2"/>.</summary>
    public GrpcTransport Transport { get; set; } = GrpcTransport.Http2;

    /// <summary>
    /// Validates the server certificate of an <c>https://</c> address for the <see cref="GrpcTransport.Http2"/>
    /// transport (null: the platform's default validation). With <see cref="HttpHandler"/>, configure the handler instead.
    /// </summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>
    /// How long the <see cref="GrpcTransport.Http2"/> transport waits to open a connection: TCP, TLS, and the
    /// server's SETTINGS frame (a server that never sends it fails calls with UNAVAILABLE instead of hanging them).
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <see cref="GrpcTransport.Http2"/>: with calls in flight and nothing received for this long, the channel sends a
    /// PING (the default handler of the HttpClient transport does the same); <see cref="Timeout.InfiniteTimeSpan"/> turns
    /// it off. Default 60 s.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// <see cref="GrpcTransport.Http2"/>: a PING unanswered for this long closes the connection and fails its calls with
    /// UNAVAILABLE. Default 30 s.
    /// </summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A connection that has carried no call for this long is closed (GOAWAY, then the socket); the next call opens a
    /// new one. Both transports (for <see cref="GrpcTransport.HttpClient"/> it is the handler's
    /// <see cref="SocketsHttpHandler.PooledConnectionIdleTimeout"/>); ignored with <see cref="HttpHandler"/>.
    /// <see cref="Timeout.InfiniteTimeSpan"/> keeps connections open. Default 1 minute: HttpClient's own default, and
    /// below the registry server's 130 s (docs/limits.md), so the client closes an idle connection before the server
    /// does; otherwise a call sent just as the server's GOAWAY arrives fails with UNAVAILABLE.
    /// </summary>
    public TimeSpan IdleConnectionTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>When true the channel disposes <see cref="HttpHandler"/> with itself. Default false.</summary>
    public bool DisposeHttpHandler { get; set; }

    /// <summary>The largest response message accepted; default 4 MiB, null for no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>The largest request message sent; null (the default) for no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>"gzip" to compress request messages (and advertise it); null sends them uncompressed.</summary>
    public string? CompressionEncoding { get; set; }

    /// <summary>
    /// The most HTTP/2 connections the channel opens to the server. Kestrel allows 100 concurrent streams per
    /// connection, so another connection is opened when every open one is at the server's MAX_CONCURRENT_STREAMS
    /// (new calls then go round-robin over them); at the limit, calls wait for a stream slot.
    /// </summary>
    public int MaxConnections { get; set; } = int.MaxValue;
}

/// <summary>Options of one call.</summary>
/// <param name="Headers">Custom request metadata.</param>
/// <param name="Deadline">The deadline in UTC; null for none.</param>
/// <param name="CancellationToken">Cancels the call (RST_STREAM CANCEL), giving CANCELLED.</param>
/// <param name="Hedging">
/// Hedges a unary call made with <see cref="GrpcChannel.UnaryAsync"/> (gRFC A6; see <see cref="HedgingPolicy"/>); null (the
/// default) sends one attempt. Only for idempotent calls. Ignored by the other call kinds.
/// </param>
public readonly record struct CallOptions(Metadata? Headers = null, DateTime? Deadline = null, CancellationToken CancellationToken = default, HedgingPolicy? Hedging = null);
