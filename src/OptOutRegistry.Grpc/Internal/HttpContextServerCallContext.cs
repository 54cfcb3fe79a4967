using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>
/// The per-call state on the server: deadline, cancellation, metadata, and the one place where a call's status is
/// written (trailers, or headers for a trailers-only response). Request metadata and trailers are created lazily so
/// that a unary call that does not use them allocates nothing for them.
/// </summary>
internal sealed class HttpContextServerCallContext : ServerCallContext
{
    private readonly HttpContext _httpContext;
    private readonly ServerMethodInfo _method;
    private readonly object _lock = new();
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;
    private CancellationTokenSource? _deadlineCts;
    private CancellationTokenRegistration _abortRegistration;
    private Timer? _deadlineTimer;
    private Task? _deadlineTask;
    private DateTime _deadline = DateTime.MaxValue;
    private TimeSpan _timeout;
    private CancellationToken _cancellationToken;
    private bool _callComplete;
    private bool _deadlineExceeded;

    public HttpContextServerCallContext(HttpContext httpContext, ServerMethodInfo method)
    {
        _httpContext = httpContext;
        _method = method;
    }

    public override string Method => _method.FullName;

    public override string Peer
    {
        get
        {
            var connection = _httpContext.Connection;
            var ip = connection.RemoteIpAddress;
            if (ip is null)
            {
                return "unknown";
            }
            return ip.AddressFamily == AddressFamily.InterNetworkV6
                ? $"ipv6:[{ip}]:{connection.RemotePort}"
                : $"ipv4:{ip}:{connection.RemotePort}";
        }
    }

    public override DateTime Deadline => _deadline;

    public override Metadata RequestHeaders => _requestHeaders ??= BuildRequestHeaders(_httpContext.Request.Headers);

    public override Metadata ResponseTrailers => _responseTrailers ??= new Metadata();

    // Cached: Kestrel's RequestAborted getter takes a lock, and streaming handlers read the token once per message.
    public override CancellationToken CancellationToken => _cancellationToken;

    public override Status Status { get; set; } = Status.DefaultSuccess;

    public override HttpContext HttpContext => _httpContext;

    /// <summary>The request's grpc-encoding, if any.</summary>
    public string? RequestEncoding { get; private set; }

    /// <summary>True when responses are gzipped.</summary>
    public bool ResponseGzip { get; private set; }

    public GrpcServerOptions Options => _method.Options;

    public bool IsCallComplete => Volatile.Read(ref _callComplete);

    public bool DeadlineExceeded => Volatile.Read(ref _deadlineExceeded);

    public override Task WriteResponseHeadersAsync(Metadata headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var response = _httpContext.Response;
        if (response.HasStarted)
        {
            throw new InvalidOperationException("Response headers can only be sent once per call.");
        }
        foreach (var entry in headers)
        {
            if (entry.Key.StartsWith("grpc-", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Metadata key '{entry.Key}' is reserved for the gRPC protocol.");
            }
            AppendMetadata(response.Headers, entry);
        }
        return response.StartAsync(_httpContext.RequestAborted);
    }

    /// <summary>Reads the protocol headers of the request and sets the response's protocol headers and the deadline.</summary>
    public void Initialize(bool streaming)
    {
        var request = _httpContext.Request;
        var response = _httpContext.Response;
        var headers = request.Headers;
        _cancellationToken = _httpContext.RequestAborted;
        response.ContentType = GrpcProtocolConstants.GrpcContentType;

        if (headers.TryGetValue(GrpcProtocolConstants.MessageEncodingHeader, out var encoding))
        {
            RequestEncoding = encoding.ToString();
        }
        var algorithm = _method.Options.ResponseCompressionAlgorithm;
        if (algorithm is not null
            && string.Equals(algorithm, GrpcProtocolConstants.GzipEncoding, StringComparison.Ordinal)
            && headers.TryGetValue(GrpcProtocolConstants.MessageAcceptEncodingHeader, out var accept)
            && AcceptsEncoding(accept, algorithm))
        {
            // doc/compression.md: only compress with an encoding the client listed in grpc-accept-encoding.
            ResponseGzip = true;
            response.Headers[GrpcProtocolConstants.MessageEncodingHeader] = GrpcProtocolConstants.GzipEncodingValue;
        }

        if (streaming)
        {
            // Long-lived streams may be idle: Kestrel's minimum request body data rate and body size limit would kill them
            // (grpc-dotnet ServerCallHandlerBase.DisableMinRequestBodyDataRateAndMaxRequestBodySize).
            var minRate = _httpContext.Features.Get<IHttpMinRequestBodyDataRateFeature>();
            if (minRate is not null)
            {
                minRate.MinDataRate = null;
            }
            var maxSize = _httpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (maxSize is not null && !maxSize.IsReadOnly)
            {
                maxSize.MaxRequestBodySize = null;
            }
        }

        if (headers.TryGetValue(GrpcProtocolConstants.TimeoutHeader, out var timeoutValue))
        {
            // PROTOCOL-HTTP2.md "Timeout": exactly one value; an invalid or zero timeout is ignored (grpc-dotnet GetTimeout).
            if (timeoutValue.Count == 1 && GrpcProtocolHelpers.TryDecodeTimeout(timeoutValue.ToString(), out var timeout) && timeout > TimeSpan.Zero)
            {
                StartDeadline(timeout);
            }
            else
            {
                GrpcServerLog.InvalidTimeoutIgnored(_method.Logger, timeoutValue.ToString());
            }
        }
    }

    private static bool AcceptsEncoding(StringValues accept, string encoding)
    {
        foreach (var value in accept)
        {
            if (value is null)
            {
                continue;
            }
            foreach (var part in value.Split(','))
            {
                if (string.Equals(part.Trim(), encoding, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        return false;
    }

    private void StartDeadline(TimeSpan timeout)
    {
        _timeout = timeout;
        _deadline = DateTime.UtcNow + timeout;
        _deadlineCts = new CancellationTokenSource();
        _abortRegistration = _httpContext.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _deadlineCts);
        _cancellationToken = _deadlineCts.Token;
        _deadlineTimer = new Timer(static s => ((HttpContextServerCallContext)s!).OnDeadlineTimer(), this, GetDueTime(timeout), Timeout.InfiniteTimeSpan);
    }

    private static TimeSpan GetDueTime(TimeSpan remaining)
    {
        // Timer accepts at most uint.MaxValue - 1 ms; a longer deadline re-arms when it fires (grpc-dotnet GetTimerDueTime).
        var due = remaining + GrpcProtocolConstants.TimerEpsilon;
        var max = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
        return due > max ? max : due < TimeSpan.Zero ? TimeSpan.Zero : due;
    }

    private void OnDeadlineTimer()
    {
        var remaining = _deadline - DateTime.UtcNow;
        lock (_lock)
        {
            if (_callComplete)
            {
                return;
            }
            if (remaining > TimeSpan.Zero)
            {
                _deadlineTimer?.Change(GetDueTime(remaining), Timeout.InfiniteTimeSpan);
                return;
            }
            _callComplete = true;
            _deadlineExceeded = true;
            _deadlineTask = DeadlineExceededAsync();
        }
    }

    /// <summary>
    /// PROTOCOL-HTTP2.md: when the deadline passes the server sends DEADLINE_EXCEEDED and resets the stream with CANCEL;
    /// then the handler's token is cancelled. Runs once, under the call-complete flag, so later handler output cannot
    /// overwrite the status (grpc-dotnet HttpContextServerCallContext.DeadlineExceededAsync).
    /// </summary>
    private async Task DeadlineExceededAsync()
    {
        GrpcServerLog.DeadlineExceeded(_method.Logger, _timeout, _method.FullName);
        try
        {
            WriteStatus(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"), null);
            var body = _httpContext.Features.Get<IHttpResponseBodyFeature>();
            if (body is not null)
            {
                await body.CompleteAsync().ConfigureAwait(false);
            }
            _httpContext.Features.Get<IHttpResetFeature>()?.Reset(0x8);
        }
        catch (Exception ex)
        {
            GrpcServerLog.DeadlineCompletionError(_method.Logger, _method.FullName, ex);
        }
        try
        {
            _deadlineCts!.Cancel();
        }
        catch (AggregateException ex)
        {
            GrpcServerLog.DeadlineCompletionError(_method.Logger, _method.FullName, ex);
        }
    }

    /// <summary>
    /// Claims the right to write to the response: false once the call completed (e.g. the deadline path ran).
    /// Writers call this before touching the body so a late write cannot race the deadline path's trailers.
    /// </summary>
    public void EnsureWritable()
    {
        if (Volatile.Read(ref _callComplete))
        {
            throw _deadlineExceeded
                ? new RpcException(new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded"))
                : new InvalidOperationException("Can't write the message because the call is complete.");
        }
    }

    public object SyncRoot => _lock;

    /// <summary>
    /// The single choke point for handler failures (grpc-dotnet ProcessHandlerError): RpcException gives its status and
    /// trailers; cancellation gives CANCELLED or DEADLINE_EXCEEDED; anything else UNKNOWN without internals unless
    /// <see cref="GrpcServerOptions.EnableDetailedErrors"/>.
    /// </summary>
    public void ProcessHandlerError(Exception ex)
    {
        Status status;
        Metadata? trailers = null;
        if (ex is RpcException rpc)
        {
            status = rpc.Status;
            trailers = rpc.Trailers;
            GrpcServerLog.RpcConnectionError(_method.Logger, status.StatusCode, status.Detail, _method.FullName);
        }
        else if (ex is OperationCanceledException && DeadlineExceeded)
        {
            status = new Status(StatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        else if ((ex is OperationCanceledException or IOException && _httpContext.RequestAborted.IsCancellationRequested)
            || ex is IOException { Source: "Microsoft.AspNetCore.Server.Kestrel.Core" or "System.IO.Pipelines" } or IOException { InnerException: Microsoft.AspNetCore.Connections.ConnectionAbortedException })
        {
            // Kestrel reports a client's RST_STREAM ("The client reset the request stream"), or a connection it closed
            // for a protocol error ("The request stream was aborted"), during a body read as an IOException of its own
            // (rethrown by the request pipe, hence either source), sometimes before RequestAborted is signalled: without
            // this every such call was logged as an error and answered UNKNOWN, so a client could fill the error log
            // at will (fuzz finding, benchmarks/Reliability/FUZZ-RESULTS.md).
            status = new Status(StatusCode.Cancelled, "Call canceled by the client.");
            GrpcServerLog.CallCancelledByClient(_method.Logger, _method.FullName);
        }
        else
        {
            GrpcServerLog.ErrorExecutingServiceMethod(_method.Logger, _method.FullName, ex);
            var detail = "Exception was thrown by handler.";
            if (_method.Options.EnableDetailedErrors)
            {
                detail += $" {ex.GetType().Name}: {ex.Message}";
            }
            status = new Status(StatusCode.Unknown, detail);
        }
        Complete(status, trailers);
    }

    /// <summary>Ends the call with <paramref name="status"/> unless the deadline path already did.</summary>
    public void Complete(Status status, Metadata? extraTrailers)
    {
        lock (_lock)
        {
            if (_callComplete)
            {
                return;
            }
            _callComplete = true;
            WriteStatus(status, extraTrailers);
        }
    }

    /// <summary>Stops the deadline timer and waits for a deadline completion that is in flight.</summary>
    public ValueTask DisposeAsync()
    {
        if (_deadlineTimer is null)
        {
            return ValueTask.CompletedTask;
        }
        return DisposeDeadlineAsync();
    }

    private async ValueTask DisposeDeadlineAsync()
    {
        Task? pending;
        lock (_lock)
        {
            _callComplete = true;
            pending = _deadlineTask;
        }
        await _deadlineTimer!.DisposeAsync().ConfigureAwait(false);
        if (pending is not null)
        {
            await pending.ConfigureAwait(false);
        }
        _abortRegistration.Dispose();
        _deadlineCts!.Dispose();
    }

    /// <summary>
    /// Writes grpc-status/grpc-message (and custom trailers) last, so they override anything user-set
    /// (grpc-dotnet ConsolidateTrailers then SetStatus). Before the response starts this is a trailers-only response:
    /// everything goes into the single HEADERS frame (PROTOCOL-HTTP2.md "Trailers-Only").
    /// </summary>
    private void WriteStatus(Status status, Metadata? extraTrailers)
    {
        var response = _httpContext.Response;
        IHeaderDictionary destination;
        if (!response.HasStarted)
        {
            destination = response.Headers;
        }
        else
        {
            var trailersFeature = _httpContext.Features.Get<IHttpResponseTrailersFeature>();
            if (trailersFeature?.Trailers is null || trailersFeature.Trailers.IsReadOnly)
            {
                throw new InvalidOperationException("Trailers are not supported for this response. The server may not support gRPC.");
            }
            destination = trailersFeature.Trailers;
        }
        if (_responseTrailers is not null)
        {
            AppendUserTrailers(destination, _responseTrailers);
        }
        if (extraTrailers is not null && !ReferenceEquals(extraTrailers, _responseTrailers))
        {
            AppendUserTrailers(destination, extraTrailers);
        }
        // PROTOCOL-HTTP2.md "Responses": grpc-status is always sent, even for OK.
        destination[GrpcProtocolConstants.StatusTrailer] = GrpcProtocolConstants.StatusValue(status.StatusCode);
        if (!string.IsNullOrEmpty(status.Detail))
        {
            destination[GrpcProtocolConstants.MessageTrailer] = PercentEncoding.Encode(status.Detail);
        }
        if (status.StatusCode == StatusCode.Unimplemented && status.Detail.StartsWith("Unsupported grpc-encoding", StringComparison.Ordinal))
        {
            // doc/compression.md: tell the client which encodings we do accept.
            destination[GrpcProtocolConstants.MessageAcceptEncodingHeader] = GrpcProtocolConstants.SupportedAcceptEncodingValue;
        }
    }

    private static void AppendUserTrailers(IHeaderDictionary destination, Metadata trailers)
    {
        foreach (var entry in trailers)
        {
            // grpc-* names are reserved for the protocol (PROTOCOL-HTTP2.md "Custom-Metadata"): a user entry must not
            // masquerade as the status.
            if (!entry.Key.StartsWith("grpc-", StringComparison.Ordinal))
            {
                AppendMetadata(destination, entry);
            }
        }
    }

    private static void AppendMetadata(IHeaderDictionary headers, Metadata.Entry entry)
    {
        var value = entry.IsBinary ? GrpcProtocolHelpers.EncodeBase64(entry.ValueBytes) : entry.Value;
        headers.Append(entry.Key, value);
    }

    private static Metadata BuildRequestHeaders(IHeaderDictionary headers)
    {
        var metadata = new Metadata();
        foreach (var header in headers)
        {
            // Kestrel enumerates known headers in canonical casing ("Content-Type"); gRPC metadata keys are lower-case.
            var lower = header.Key.ToLowerInvariant();
            if (GrpcProtocolConstants.IsFilteredRequestHeader(lower))
            {
                continue;
            }
            if (Metadata.IsBinaryKey(lower))
            {
                // PROTOCOL-HTTP2.md: duplicate binary headers may arrive joined with ','; split before decoding.
                foreach (var joined in header.Value)
                {
                    if (joined is null)
                    {
                        continue;
                    }
                    foreach (var part in joined.Split(','))
                    {
                        if (!GrpcProtocolHelpers.TryDecodeBase64(part, out var bytes))
                        {
                            throw new RpcException(new Status(StatusCode.Internal, $"Invalid base64 value in binary metadata header '{lower}'."));
                        }
                        metadata.Add(new Metadata.Entry(lower, bytes));
                    }
                }
            }
            else
            {
                foreach (var value in header.Value)
                {
                    if (value is null)
                    {
                        continue;
                    }
                    try
                    {
                        metadata.Add(new Metadata.Entry(lower, value));
                    }
                    catch (ArgumentException)
                    {
                        // A header that is not valid gRPC metadata (e.g. non-ASCII) is not surfaced rather than failing the call.
                    }
                }
            }
        }
        return metadata;
    }
}

/// <summary>What a call handler knows about its method, built once at map time.</summary>
internal sealed class ServerMethodInfo(string fullName, MethodType type, GrpcServerOptions options, ILogger logger)
{
    public string FullName { get; } = fullName;
    public MethodType Type { get; } = type;
    public GrpcServerOptions Options { get; } = options;
    public ILogger Logger { get; } = logger;
}
