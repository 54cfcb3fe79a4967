using System.Buffers;
using System.Net;
using System.Threading.Tasks.Sources;

namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>
/// One HTTP/2 stream of a <see cref="Http2ClientConnection"/>: the request body going out under flow control, the
/// response headers handed over as an <see cref="HttpResponseMessage"/>, the response body buffered as DATA arrives
/// and read through <see cref="Http2ResponseStream"/>, then the trailers. State shared with the connection
/// (windows, <see cref="Closed"/>, <see cref="RequestEnded"/>) is guarded by the connection's lock; the body buffer
/// by <see cref="_bodyLock"/>.
/// </summary>
internal sealed class Http2ClientStream : IValueTaskSource<int>
{
    private const int InitialBodyBufferSize = 1024;

    private readonly Http2ClientConnection _connection;
    private readonly HttpRequestMessage? _request;
    private readonly TaskCompletionSource<HttpResponseMessage>? _responseSource;
    private readonly Lock _bodyLock = new();
    private CancellationTokenRegistration _sendRegistration;
    private HttpResponseMessage? _response;
    private bool _headersReceived;
    private bool _signalResponse;

    // Body buffer and the one pending read (under _bodyLock).
    private byte[]? _body;
    private int _bodyStart;
    private int _bodyEnd;
    private bool _bodyEnded;
    private Exception? _error;
    private bool _responseDisposed;
    private ManualResetValueTaskSourceCore<int> _readCore = new() { RunContinuationsAsynchronously = true };
    private bool _readPending;
    private bool _readCompletionReady;
    private Memory<byte> _readDestination;
    private CancellationTokenRegistration _readRegistration;
    private CancellationToken _readToken;
    private int _unackedConsumed;

    // Waiting for send window (one writer at a time per stream).
    private TaskCompletionSource? _windowWaiter;

    /// <param name="connection">The connection the stream belongs to.</param>
    /// <param name="request">The request, or null for GrpcCall's direct unary path (no HttpResponseMessage is built).</param>
    public Http2ClientStream(Http2ClientConnection connection, HttpRequestMessage? request)
    {
        _connection = connection;
        _request = request;
        // Only the HttpRequestMessage path hands out a response; the direct path waits with WaitForEndAsync.
        _responseSource = request is null ? null : new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public int Id { get; private set; }

    public Http2ClientConnection Connection => _connection;

    /// <summary>Direct path: the most body bytes buffered; more resets the stream (the prefix check then reports it).</summary>
    public long DirectMaxBody { get; init; }

    /// <summary>Direct path: the response's :status.</summary>
    public int DirectStatusCode { get; private set; }

    /// <summary>Direct path: the response header fields of a trailers-only response (else null).</summary>
    public List<KeyValuePair<string, string>>? DirectHeaders { get; private set; }

    /// <summary>Direct path: the response content-type.</summary>
    public string? DirectContentType { get; private set; }

    /// <summary>Direct path: the response grpc-encoding.</summary>
    public string? DirectEncoding { get; private set; }

    /// <summary>The trailers of nearly every successful call, shared (never modified by readers).</summary>
    private static readonly List<KeyValuePair<string, string>> s_okTrailers = [new("grpc-status", "0")];

    /// <summary>Direct path: the trailer fields, null when the stream ended without trailers.</summary>
    public List<KeyValuePair<string, string>>? DirectTrailers { get; private set; }

    /// <summary>The response body received so far (direct path: the whole body once <see cref="WaitForEndAsync"/> completed).</summary>
    public ReadOnlySpan<byte> BufferedBody => _body is null ? default : _body.AsSpan(_bodyStart, _bodyEnd - _bodyStart);

    /// <summary>Send window (connection lock).</summary>
    public long SendWindow { get; set; }

    private long _receiveWindow;

    /// <summary>Receive window left before the server must wait for our WINDOW_UPDATE (reader loop and senders of WINDOW_UPDATE).</summary>
    public long ReceiveWindow => Volatile.Read(ref _receiveWindow);

    public void AddReceiveWindow(int increment) => Interlocked.Add(ref _receiveWindow, increment);

    /// <summary>END_STREAM sent, or the request side is otherwise finished (connection lock).</summary>
    public bool RequestEnded { get; set; }

    /// <summary>END_STREAM received from the server (set by the reader loop under the connection lock).</summary>
    public bool ResponseEnded { get; private set; }

    private volatile bool _closed;

    /// <summary>Removed from the connection's table (set under the connection lock; read without it as a hint).</summary>
    public bool Closed
    {
        get => _closed;
        set => _closed = value;
    }

    public bool WaitingForWindow { get; set; }

    public bool QueuedForSignal { get; set; }

    /// <summary>Why writes fail after the server reset or finished the stream.</summary>
    public Exception? ResetError { get; set; }

    public Task<HttpResponseMessage> ResponseTask => _responseSource!.Task;

    public void Initialize(int id, int sendWindow, int receiveWindow)
    {
        Id = id;
        SendWindow = sendWindow;
        _receiveWindow = receiveWindow;
    }

    // ---- request side ----

    public void RegisterSendCancellation(CancellationToken cancellationToken)
    {
        // Before the response headers, cancelling the token passed to SendAsync resets the stream (PROTOCOL-HTTP2.md
        // B8); afterwards GrpcCall disposes the response, which does the same.
        _sendRegistration = cancellationToken.UnsafeRegister(static (s, token) => ((Http2ClientStream)s!).OnSendCancelled(token), this);
    }

    private void OnSendCancelled(CancellationToken token)
    {
        if (_responseSource!.Task.IsCompleted)
        {
            return;
        }
        _connection.ResetStream(this, Http2ErrorCode.Cancel);
        Fail(new OperationCanceledException(token));
    }

    /// <summary>Sends a payload that did not fit the windows at once; releases the caller's reference to it when done.</summary>
    public async Task SendPayloadAsync(RequestPayload payload)
    {
        try
        {
            await WriteAsync(payload.Memory, endStream: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            FailRequest(ex);
        }
        finally
        {
            payload.Release();
        }
    }

    /// <summary>Runs the request content (a streaming call's body) into DATA frames, then END_STREAM.</summary>
    public async Task SendContentAsync(HttpContent content)
    {
        try
        {
            await content.CopyToAsync(new Http2RequestStream(this)).ConfigureAwait(false);
            await WriteAsync(ReadOnlyMemory<byte>.Empty, endStream: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            FailRequest(ex);
        }
    }

    private void FailRequest(Exception ex)
    {
        // The request could not be sent whole: the stream is reset (the server must not take half a request for a
        // whole one) and a caller still waiting for headers sees why.
        _connection.ResetStream(this, Http2ErrorCode.Cancel);
        Fail(ex is OperationCanceledException ? ex : new IOException($"Error sending the request: {ex.Message}", ex));
    }

    /// <summary>Queues request data under flow control; returns once it is in the connection's write buffer.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, bool endStream, CancellationToken cancellationToken)
    {
        var taken = _connection.TryWriteData(this, data.Span, endStream, out var error);
        if (error is not null)
        {
            return ValueTask.FromException(error);
        }
        return taken == data.Length ? ValueTask.CompletedTask : WaitAndWriteAsync(data.Slice(taken), endStream, cancellationToken);
    }

    private async ValueTask WaitAndWriteAsync(ReadOnlyMemory<byte> data, bool endStream, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_connection.SyncRoot)
            {
                if (!WaitingForWindow)
                {
                    wait = Task.CompletedTask;
                }
                else
                {
                    _windowWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _windowWaiter.Task;
                }
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
            var taken = _connection.TryWriteData(this, data.Span, endStream, out var error);
            if (error is not null)
            {
                throw error;
            }
            if (taken == data.Length)
            {
                return;
            }
            data = data.Slice(taken);
        }
    }

    /// <summary>Called under the connection lock when the windows open or the stream closes.</summary>
    public void WakeWindowWaiter()
    {
        var waiter = _windowWaiter;
        _windowWaiter = null;
        waiter?.TrySetResult();
    }

    // ---- response side, called by the reader loop ----

    /// <summary>
    /// Takes a decoded header block: the response headers (after any 1xx), or the trailers, which must end the
    /// stream (RFC 7540 8.1). Returns a description of a protocol violation, or null.
    /// </summary>
    public string? OnHeaders(List<KeyValuePair<string, string>> headers, bool endStream)
    {
        if (!_headersReceived)
        {
            var status = -1;
            foreach (var (name, value) in headers)
            {
                if (name == ":status")
                {
                    status = value.Length == 3 && int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code) ? code : -2;
                }
            }
            if (status < 100)
            {
                return status == -1 ? "The response has no :status." : "The response :status is not a 3-digit number.";
            }
            if (status < 200)
            {
                // RFC 7540 8.1: informational responses precede the real one; nothing in gRPC uses them.
                return endStream ? "An informational response ended the stream." : null;
            }
            if (_request is null)
            {
                DirectStatusCode = status;
                // The direct path exposes no response headers: it needs content-type, grpc-encoding and, only for a
                // trailers-only response, the whole list (status and trailers); copying it per call cost ~190 B.
                var trailersOnly = false;
                foreach (var (name, value) in headers)
                {
                    switch (name)
                    {
                        case "content-type":
                            DirectContentType = value;
                            break;
                        case "grpc-encoding":
                            DirectEncoding = value;
                            break;
                        case "grpc-status":
                            trailersOnly = true;
                            break;
                    }
                }
                if (trailersOnly)
                {
                    DirectHeaders = new List<KeyValuePair<string, string>>(headers);
                }
                _headersReceived = true;
                if (endStream)
                {
                    EndResponse();
                }
                return null;
            }
            var response = new HttpResponseMessage((HttpStatusCode)status)
            {
                Version = HttpVersion.Version20,
                RequestMessage = _request,
                Content = new Http2ResponseContent(this),
            };
            foreach (var (name, value) in headers)
            {
                if (name.Length == 0 || name[0] == ':')
                {
                    continue;
                }
                if (IsContentHeader(name))
                {
                    response.Content.Headers.TryAddWithoutValidation(name, value);
                }
                else
                {
                    response.Headers.TryAddWithoutValidation(name, value);
                }
            }
            _response = response;
            _headersReceived = true;
            _signalResponse = true;
        }
        else
        {
            if (!endStream)
            {
                return "Trailers did not end the stream.";
            }
            if (_request is null)
            {
                foreach (var (name, _) in headers)
                {
                    if (name.Length == 0 || name[0] == ':')
                    {
                        return "Trailers contain a pseudo-header.";
                    }
                }
                DirectTrailers = headers.Count == 1 && headers[0].Key == "grpc-status" && headers[0].Value == "0"
                    ? s_okTrailers
                    : new List<KeyValuePair<string, string>>(headers);
                EndResponse();
                return null;
            }
            var trailers = _response!.TrailingHeaders;
            foreach (var (name, value) in headers)
            {
                if (name.Length == 0 || name[0] == ':')
                {
                    return "Trailers contain a pseudo-header.";
                }
                trailers.TryAddWithoutValidation(name, value);
            }
        }
        if (endStream)
        {
            EndResponse();
        }
        return null;
    }

    private static bool IsContentHeader(string name)
        => name.StartsWith("content-", StringComparison.Ordinal) || name is "expires" or "last-modified" or "allow";

    /// <summary>Buffers DATA; false when it overruns the stream's receive window (FLOW_CONTROL_ERROR).</summary>
    public bool OnData(ReadOnlySpan<byte> data, int padding, int frameLength, bool endStream)
    {
        if (!_headersReceived)
        {
            // RFC 7540 8.1: DATA before HEADERS is malformed.
            return OnMalformed("DATA arrived before the response headers.");
        }
        if (Interlocked.Add(ref _receiveWindow, -frameLength) < 0)
        {
            return false;
        }
        if (_request is null)
        {
            return OnDirectData(data, frameLength, endStream);
        }
        lock (_bodyLock)
        {
            // Padding is consumed on arrival, never by the reader.
            _unackedConsumed += padding;
            if (!_responseDisposed && data.Length > 0)
            {
                var offset = 0;
                if (_readPending && !_readCompletionReady && _bodyEnd == _bodyStart)
                {
                    // A reader is waiting: copy straight into its buffer.
                    offset = Math.Min(data.Length, _readDestination.Length);
                    data.Slice(0, offset).CopyTo(_readDestination.Span);
                    _readCompletionReady = true;
                    _readDestination = default;
                    _unackedConsumed += offset;
                    _pendingReadCount = offset;
                }
                if (offset < data.Length)
                {
                    AppendBody(data.Slice(offset));
                }
            }
        }
        if (endStream)
        {
            EndResponse();
        }
        return true;
    }

    private int _pendingReadCount;

    /// <summary>
    /// Direct path: the body is buffered whole and consumed on arrival (window given back as it comes, since nobody
    /// reads until the end), up to <see cref="DirectMaxBody"/>; beyond it the stream is reset and ended.
    /// </summary>
    private bool OnDirectData(ReadOnlySpan<byte> data, int frameLength, bool endStream)
    {
        var overflow = false;
        lock (_bodyLock)
        {
            _unackedConsumed += frameLength;
            if (!_responseDisposed && data.Length > 0)
            {
                var room = DirectMaxBody - (_bodyEnd - _bodyStart);
                if (data.Length > room)
                {
                    overflow = true;
                    data = data.Slice(0, (int)Math.Max(0, room));
                }
                AppendBody(data);
            }
        }
        if (overflow)
        {
            _connection.ResetStream(this, Http2ErrorCode.Cancel);
            EndResponse();
            return true;
        }
        AckConsumed();
        if (endStream)
        {
            EndResponse();
        }
        return true;
    }

    /// <summary>Direct path: completes when the response has ended (or failed); the body is then in <see cref="BufferedBody"/>.</summary>
    public ValueTask<int> WaitForEndAsync(CancellationToken cancellationToken)
    {
        lock (_bodyLock)
        {
            if (_bodyEnded)
            {
                return ValueTask.FromResult(0);
            }
            if (_error is { } error)
            {
                return ValueTask.FromException<int>(error);
            }
            if (_responseDisposed)
            {
                return ValueTask.FromException<int>(new ObjectDisposedException(nameof(Http2ClientStream)));
            }
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<int>(cancellationToken);
            }
            _readCore.Reset();
            _readPending = true;
            _readCompletionReady = false;
            _readDestination = default;
            _readToken = cancellationToken;
        }
        if (cancellationToken.CanBeCanceled)
        {
            _readRegistration = cancellationToken.UnsafeRegister(static s => ((Http2ClientStream)s!).OnReadCancelled(), this);
        }
        return new ValueTask<int>(this, _readCore.Version);
    }

    private bool OnMalformed(string message)
    {
        _connection.ResetStream(this, Http2ErrorCode.ProtocolError);
        Fail(new HttpProtocolException((long)Http2ErrorCode.ProtocolError, message, null));
        return true;
    }

    private void AppendBody(ReadOnlySpan<byte> data)
    {
        var count = _bodyEnd - _bodyStart;
        if (_body is null)
        {
            // Direct path: the whole unary response usually comes in one DATA frame, so rent just that (with many calls
            // in flight the pool's per-core stacks run dry and a rent allocates: 64 B then costs less than 1 KiB).
            _body = ArrayPool<byte>.Shared.Rent(_request is null ? data.Length : Math.Max(InitialBodyBufferSize, data.Length));
            _bodyStart = _bodyEnd = 0;
        }
        else if (_body.Length - _bodyEnd < data.Length)
        {
            var target = _body.Length - count >= data.Length ? _body : ArrayPool<byte>.Shared.Rent(Math.Max(_body.Length * 2, count + data.Length));
            Buffer.BlockCopy(_body, _bodyStart, target, 0, count);
            if (!ReferenceEquals(target, _body))
            {
                ArrayPool<byte>.Shared.Return(_body);
                _body = target;
            }
            _bodyStart = 0;
            _bodyEnd = count;
        }
        data.CopyTo(_body.AsSpan(_bodyEnd));
        _bodyEnd += data.Length;
    }

    private void EndResponse()
    {
        lock (_bodyLock)
        {
            _bodyEnded = true;
            if (_readPending && !_readCompletionReady)
            {
                _readCompletionReady = true;
                _pendingReadCount = 0;
            }
        }
        lock (_connection.SyncRoot)
        {
            ResponseEnded = true;
            _connection.CloseStreamIfDoneLocked(this);
        }
    }

    /// <summary>Delivers what the reader loop collected for this stream in one pass: the response, a read result.</summary>
    public void Signal()
    {
        if (_signalResponse)
        {
            _signalResponse = false;
            _sendRegistration.Dispose();
            _responseSource!.TrySetResult(_response!);
        }
        CompletePendingRead();
    }

    private void CompletePendingRead()
    {
        int count;
        Exception? error;
        lock (_bodyLock)
        {
            if (!_readPending || !_readCompletionReady)
            {
                return;
            }
            _readPending = false;
            _readCompletionReady = false;
            count = _pendingReadCount;
            error = count == 0 && !_bodyEnded ? _error : null;
        }
        if (error is not null)
        {
            _readCore.SetException(error);
        }
        else
        {
            _readCore.SetResult(count);
        }
    }

    /// <summary>Fails whatever is waiting on the stream: the response task, a pending read, later reads.</summary>
    public void Fail(Exception error)
    {
        lock (_connection.SyncRoot)
        {
            WakeWindowWaiter();
        }
        _sendRegistration.Dispose();
        _responseSource?.TrySetException(error);
        lock (_bodyLock)
        {
            if (_error is null && !_bodyEnded)
            {
                _error = error;
            }
            if (_readPending && !_readCompletionReady && _error is not null)
            {
                _readCompletionReady = true;
                _pendingReadCount = 0;
            }
        }
        CompletePendingRead();
    }

    // ---- reading the response body (the call's thread) ----

    public ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int count;
        lock (_bodyLock)
        {
            if (_readPending)
            {
                return ValueTask.FromException<int>(new InvalidOperationException("A read is already in progress."));
            }
            if (_bodyEnd > _bodyStart)
            {
                count = Math.Min(destination.Length, _bodyEnd - _bodyStart);
                _body.AsSpan(_bodyStart, count).CopyTo(destination.Span);
                _bodyStart += count;
                if (_bodyStart == _bodyEnd)
                {
                    _bodyStart = _bodyEnd = 0;
                }
                _unackedConsumed += count;
            }
            else if (_error is { } error)
            {
                return ValueTask.FromException<int>(error);
            }
            else if (_bodyEnded || destination.Length == 0)
            {
                return ValueTask.FromResult(0);
            }
            else if (_responseDisposed)
            {
                return ValueTask.FromException<int>(new ObjectDisposedException(nameof(Http2ResponseStream)));
            }
            else if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<int>(cancellationToken);
            }
            else
            {
                _readCore.Reset();
                _readPending = true;
                _readCompletionReady = false;
                _readDestination = destination;
                _readToken = cancellationToken;
                count = -1;
            }
        }
        if (count >= 0)
        {
            AckConsumed();
            return ValueTask.FromResult(count);
        }
        if (cancellationToken.CanBeCanceled)
        {
            _readRegistration = cancellationToken.UnsafeRegister(static s => ((Http2ClientStream)s!).OnReadCancelled(), this);
        }
        return new ValueTask<int>(this, _readCore.Version);
    }

    private void OnReadCancelled()
    {
        lock (_bodyLock)
        {
            if (!_readPending || _readCompletionReady)
            {
                return;
            }
            _readPending = false;
            _readDestination = default;
        }
        _readCore.SetException(new OperationCanceledException(_readToken));
    }

    private void AckConsumed()
    {
        // RFC 7540 6.9: give window back once half of it is consumed, so the server rarely stalls on a large message.
        int increment;
        lock (_bodyLock)
        {
            if (_unackedConsumed < Http2ClientConnection.StreamReceiveWindow / 2)
            {
                return;
            }
            increment = _unackedConsumed;
            _unackedConsumed = 0;
        }
        if (!ResponseEnded)
        {
            _connection.SendStreamWindowUpdate(this, increment);
        }
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        try
        {
            return _readCore.GetResult(token);
        }
        finally
        {
            _readRegistration.Dispose();
            _readRegistration = default;
            AckConsumed();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _readCore.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _readCore.OnCompleted(continuation, state, token, flags);

    /// <summary>The response (or its body stream) was disposed: the stream is reset unless it already finished.</summary>
    public void OnResponseDisposed()
    {
        byte[]? body;
        lock (_bodyLock)
        {
            if (_responseDisposed)
            {
                return;
            }
            _responseDisposed = true;
            body = _body;
            _body = null;
            _bodyStart = _bodyEnd = 0;
            if (_readPending && !_readCompletionReady)
            {
                _error ??= new ObjectDisposedException(nameof(Http2ResponseStream));
                _readCompletionReady = true;
                _pendingReadCount = 0;
            }
        }
        CompletePendingRead();
        // PROTOCOL-HTTP2.md B8: disposing the response of an unfinished call cancels it with RST_STREAM(CANCEL).
        _connection.ResetStream(this, Http2ErrorCode.Cancel);
        if (body is not null)
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }
}

/// <summary>The response body of an <see cref="Http2ClientStream"/>.</summary>
internal sealed class Http2ResponseContent(Http2ClientStream stream) : HttpContent
{
    private Http2ResponseStream? _body;

    private Http2ResponseStream Body => _body ??= new Http2ResponseStream(stream);

    protected override Task SerializeToStreamAsync(Stream target, TransportContext? context)
        => Body.CopyToAsync(target);

    protected override Task SerializeToStreamAsync(Stream target, TransportContext? context, CancellationToken cancellationToken)
        => Body.CopyToAsync(target, cancellationToken);

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(Body);

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(Body);

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Body;

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            stream.OnResponseDisposed();
        }
        base.Dispose(disposing);
    }
}

/// <summary>Reads the buffered DATA of a stream; reaching the end means the trailers are in TrailingHeaders.</summary>
internal sealed class Http2ResponseStream(Http2ClientStream stream) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => stream.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => stream.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
        => stream.ReadAsync(buffer.AsMemory(offset, count), default).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            stream.OnResponseDisposed();
        }
        base.Dispose(disposing);
    }
}

/// <summary>The request body stream handed to a streaming call's content: writes become DATA frames.</summary>
internal sealed class Http2RequestStream(Http2ClientStream stream) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var write = stream.WriteAsync(buffer, endStream: false, cancellationToken);
        if (!write.IsCompletedSuccessfully)
        {
            return write;
        }
        // Backpressure from the socket: a pipelining writer waits while the connection's write backlog is large.
        var backlog = stream.Connection.WaitForBacklog();
        return backlog is null ? ValueTask.CompletedTask : new ValueTask(backlog.WaitAsync(cancellationToken));
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => stream.WriteAsync(buffer.AsMemory(offset, count), endStream: false, cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
        => stream.WriteAsync(buffer.AsMemory(offset, count), endStream: false, default).AsTask().GetAwaiter().GetResult();

    // Frames are in the connection's write buffer once WriteAsync returns; its flush task sends them promptly.
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
