namespace OptOutRegistry.Grpc;

/// <summary>Options of a <see cref="GrpcChannel"/>.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>The handler to send requests with; by default a <see cref="SocketsHttpHandler"/> owned by the channel.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>When true the channel disposes <see cref="HttpHandler"/> with itself. Default false.</summary>
    public bool DisposeHttpHandler { get; set; }

    /// <summary>The largest response message accepted; default 4 MiB, null for no limit.</summary>
    public int? MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>The largest request message sent; null (the default) for no limit.</summary>
    public int? MaxSendMessageSize { get; set; }

    /// <summary>"gzip" to compress request messages (and advertise it); null sends them uncompressed.</summary>
    public string? CompressionEncoding { get; set; }

    /// <summary>
    /// The most HTTP/2 connections the default handler opens to the server. Kestrel allows 100 concurrent streams per
    /// connection, so more connections are opened under load (SocketsHttpHandler.EnableMultipleHttp2Connections).
    /// </summary>
    public int MaxConnections { get; set; } = int.MaxValue;
}

/// <summary>Options of one call.</summary>
/// <param name="Headers">Custom request metadata.</param>
/// <param name="Deadline">The deadline in UTC; null for none.</param>
/// <param name="CancellationToken">Cancels the call (RST_STREAM CANCEL), giving CANCELLED.</param>
public readonly record struct CallOptions(Metadata? Headers = null, DateTime? Deadline = null, CancellationToken CancellationToken = default);
