using System.Collections.Concurrent;
using System.Net.Security;

namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>
/// The channel's own HTTP/2 transport behind the <see cref="HttpMessageHandler"/> interface GrpcCall already speaks:
/// a pool of <see cref="Http2ClientConnection"/>s to one server. New streams go round-robin to the open connections
/// that are below the server's MAX_CONCURRENT_STREAMS; when all are full another connection is opened (up to
/// <c>maxConnections</c>), else the call waits for a slot. Only GrpcCall sends through it, so requests are always
/// POSTs to the channel's address.
/// </summary>
internal sealed class Http2Handler : HttpMessageHandler
{
    private readonly Uri _address;
    private readonly bool _https;
    private readonly string _authority;
    private readonly int _maxConnections;
    private readonly TimeSpan _connectTimeout;
    private readonly RemoteCertificateValidationCallback? _certificateValidation;
    private readonly Lock _lock = new();
    private Http2ClientConnection[] _connections = [];
    private int _next;
    private Task<Http2ClientConnection>? _connecting;
    private TaskCompletionSource? _slotFreed;
    private bool _disposed;

    // Pseudo-header blocks by request URI object: the channel caches one Uri per method, so reference equality finds them.
    private readonly ConcurrentDictionary<Uri, byte[]> _pseudoHeaders = new(ReferenceEqualityComparer.Instance);
    private const int MaxCachedPaths = 4096;

    public Http2Handler(Uri address, int maxConnections, TimeSpan connectTimeout, RemoteCertificateValidationCallback? certificateValidation,
        bool requestGzip = false, TimeSpan? keepAlivePingDelay = null, TimeSpan? keepAlivePingTimeout = null, TimeSpan? idleConnectionTimeout = null)
    {
        KeepAlivePingDelay = keepAlivePingDelay ?? TimeSpan.FromSeconds(60);
        KeepAlivePingTimeout = keepAlivePingTimeout ?? TimeSpan.FromSeconds(30);
        IdleConnectionTimeout = idleConnectionTimeout ?? TimeSpan.FromMinutes(1);
        TimerPeriod = ComputeTimerPeriod(KeepAlivePingDelay, KeepAlivePingTimeout, IdleConnectionTimeout);
        CallDefinition = RequestHeaderEncoder.EncodeCallDefinition(requestGzip);
        _address = address;
        _https = address.Scheme == Uri.UriSchemeHttps;
        _authority = address.IsDefaultPort ? address.IdnHost : address.IdnHost + ":" + address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _maxConnections = Math.Max(1, maxConnections);
        _connectTimeout = connectTimeout;
        _certificateValidation = certificateValidation;
    }

    /// <summary>
    /// The constant request fields of every unary call on the direct path (te, content-type, user-agent,
    /// grpc-accept-encoding, grpc-encoding), encoded once per channel.
    /// </summary>
    internal RequestHeaderEncoder.Block CallDefinition { get; }

    /// <summary>
    /// Opens a unary call's stream without an HttpRequestMessage: the pseudo-headers of the method, then grpc-timeout
    /// (PROTOCOL-HTTP2.md: straight after them), the call definition, custom metadata; the framed request in the same write.
    /// The caller keeps its reference to <paramref name="payload"/>; the connection takes its own while it copies the bytes.
    /// <paramref name="avoid"/>: a connection not to use when another one has a free slot (a hedged attempt goes to
    /// another connection than the attempts before it, gRFC A6).
    /// </summary>
    public ValueTask<Http2ClientStream> StartUnaryAsync(Uri uri, string? timeout, Metadata? metadata, RequestPayload payload, long maxBody, CancellationToken cancellationToken,
        Http2ClientConnection? avoid = null)
    {
        var pseudo = GetPseudoHeaders(uri);
        cancellationToken.ThrowIfCancellationRequested();
        var connection = TryReserve(avoid);
        return connection is not null
            ? ValueTask.FromResult(connection.StartDirect(pseudo, timeout, metadata, payload, maxBody))
            : StartUnarySlowAsync(pseudo, timeout, metadata, payload, maxBody, avoid, cancellationToken);
    }

    private async ValueTask<Http2ClientStream> StartUnarySlowAsync(byte[] pseudo, string? timeout, Metadata? metadata, RequestPayload payload, long maxBody,
        Http2ClientConnection? avoid, CancellationToken cancellationToken)
    {
        var connection = await ReserveSlowAsync(avoid, cancellationToken).ConfigureAwait(false);
        return connection.StartDirect(pseudo, timeout, metadata, payload, maxBody);
    }

    private byte[] GetPseudoHeaders(Uri uri)
    {
        if (!_pseudoHeaders.TryGetValue(uri, out var pseudo))
        {
            pseudo = HpackEncoder.EncodePseudoHeaders(_https, uri.PathAndQuery, _authority);
            if (_pseudoHeaders.Count < MaxCachedPaths)
            {
                _pseudoHeaders.TryAdd(uri, pseudo);
            }
        }
        return pseudo;
    }

    /// <summary>Idle time with calls in flight before a keepalive PING (Timeout.InfiniteTimeSpan: never).</summary>
    internal TimeSpan KeepAlivePingDelay { get; }

    /// <summary>How long a keepalive PING may go unanswered before the connection is closed.</summary>
    internal TimeSpan KeepAlivePingTimeout { get; }

    /// <summary>A connection without calls for this long is closed (Timeout.InfiniteTimeSpan: never).</summary>
    internal TimeSpan IdleConnectionTimeout { get; }

    /// <summary>
    /// How often each connection checks its keepalive and idle state: a quarter of the shortest of the finite
    /// timeouts (so a timeout is acted on at most 25% late), at least 10 ms; null when nothing needs a timer.
    /// </summary>
    internal TimeSpan? TimerPeriod { get; }

    private static TimeSpan? ComputeTimerPeriod(TimeSpan keepAlivePingDelay, TimeSpan keepAlivePingTimeout, TimeSpan idleConnectionTimeout)
    {
        var shortest = long.MaxValue;
        if (keepAlivePingDelay != Timeout.InfiniteTimeSpan)
        {
            shortest = Math.Min(keepAlivePingDelay.Ticks, keepAlivePingTimeout.Ticks);
        }
        if (idleConnectionTimeout != Timeout.InfiniteTimeSpan)
        {
            shortest = Math.Min(shortest, idleConnectionTimeout.Ticks);
        }
        return shortest == long.MaxValue ? null : TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, shortest / 4));
    }

    /// <summary>Open connections (tests).</summary>
    internal int ConnectionCount
    {
        get
        {
            lock (_lock)
            {
                return _connections.Length;
            }
        }
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var pseudo = GetPseudoHeaders(uri);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<HttpResponseMessage>(cancellationToken);
        }
        var connection = TryReserve();
        return connection is not null
            ? connection.SendAsync(request, pseudo, cancellationToken)
            : SendSlowAsync(request, pseudo, cancellationToken);
    }

    private Http2ClientConnection? TryReserve(Http2ClientConnection? avoid = null)
    {
        var connections = Volatile.Read(ref _connections);
        var n = connections.Length;
        if (n == 0)
        {
            return null;
        }
        // Round-robin: start one past where the last call started.
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)n);
        for (var i = 0; i < n; i++)
        {
            var connection = connections[(start + i) % n];
            if (!ReferenceEquals(connection, avoid) && connection.TryReserveStream())
            {
                return connection;
            }
        }
        return null;
    }

    private async Task<HttpResponseMessage> SendSlowAsync(HttpRequestMessage request, byte[] pseudo, CancellationToken cancellationToken)
    {
        var connection = await ReserveSlowAsync(null, cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync(request, pseudo, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for a stream slot: on a new connection if fewer than the maximum are open, else on a freed slot.</summary>
    /// <remarks>
    /// With <paramref name="avoid"/> set (a hedged attempt), another connection is opened when the pool has room and no
    /// other connection is open, so the hedge does not share the connection of the attempt it covers for; at the
    /// connection limit it takes whatever slot frees, <paramref name="avoid"/>'s too (gRFC A6 allows any connection).
    /// </remarks>
    private async Task<Http2ClientConnection> ReserveSlowAsync(Http2ClientConnection? avoid, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (TryReserve(avoid) is { } connection)
                {
                    return connection;
                }
                if (_connecting is not null)
                {
                    wait = _connecting;
                }
                else if (_connections.Length < _maxConnections)
                {
                    wait = _connecting = ConnectAsync();
                }
                else if (avoid is not null && TryReserve() is { } any)
                {
                    return any;
                }
                else
                {
                    wait = (_slotFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }
            }
            // A failed connect fails every call that waited for it, as HttpClient does (UNAVAILABLE).
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<Http2ClientConnection> ConnectAsync()
    {
        // Always finish asynchronously: the caller stores this task in _connecting under the lock, and a connect that
        // failed synchronously (connection refused on loopback) would otherwise clear _connecting before it is stored,
        // leaving a faulted task there that failed every later call without trying again.
        await Task.Yield();
        try
        {
            var connection = await Http2ClientConnection.ConnectAsync(this, _address, _connectTimeout, _certificateValidation, CancellationToken.None).ConfigureAwait(false);
            lock (_lock)
            {
                if (_disposed)
                {
                    connection.Abort(new ObjectDisposedException(nameof(GrpcChannel)));
                }
                else if (!connection.IsClosed)
                {
                    _connections = [.. _connections, connection];
                }
                _connecting = null;
            }
            return connection;
        }
        catch
        {
            lock (_lock)
            {
                _connecting = null;
            }
            throw;
        }
    }

    /// <summary>Called under a connection's lock: takes no lock (the pool takes the pool lock, then a connection's).</summary>
    internal void OnStreamSlotFreed()
    {
        if (Volatile.Read(ref _slotFreed) is not null)
        {
            Interlocked.Exchange(ref _slotFreed, null)?.TrySetResult();
        }
    }

    internal void OnConnectionGoingAway(Http2ClientConnection connection) => Remove(connection);

    internal void OnConnectionClosed(Http2ClientConnection connection) => Remove(connection);

    private void Remove(Http2ClientConnection connection)
    {
        lock (_lock)
        {
            var index = Array.IndexOf(_connections, connection);
            if (index >= 0)
            {
                var list = new List<Http2ClientConnection>(_connections);
                list.RemoveAt(index);
                _connections = [.. list];
            }
        }
        // Calls waiting for a slot may now open a new connection.
        OnStreamSlotFreed();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Http2ClientConnection[] connections;
            lock (_lock)
            {
                _disposed = true;
                connections = _connections;
                _connections = [];
            }
            foreach (var connection in connections)
            {
                connection.Abort(new ObjectDisposedException(nameof(GrpcChannel), "The channel was disposed."));
            }
            Interlocked.Exchange(ref _slotFreed, null)?.TrySetResult();
        }
        base.Dispose(disposing);
    }
}
