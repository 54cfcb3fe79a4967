using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Google.Protobuf;

namespace OptOutRegistry.Grpc.Internal;

internal interface IGrpcCall : IDisposable
{
    Task<Metadata> GetResponseHeadersAsync();

    Status GetStatus();

    Metadata GetTrailers();
}

/// <summary>
/// One client call on HttpClient: request headers (PROTOCOL-HTTP2.md "Requests"), framing both ways, status read from
/// trailers or from a trailers-only HEADERS frame, a local deadline timer, and cancellation by RST_STREAM (disposing the
/// response, grpc-dotnet GrpcCall.CancelCall). Implements the response reader and request writer itself to save objects.
/// </summary>
internal sealed class GrpcCall<TRequest, TResponse> : IGrpcCall, IAsyncStreamReader<TResponse>, IClientStreamWriter<TRequest>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    private const int InitialReadBufferSize = 16 * 1024;

    // A unary response is usually small and its size is known from the prefix (the buffer then grows once): with many
    // calls in flight ArrayPool.Shared runs dry and every rent allocates, so a small first rent matters.
    private const int InitialUnaryReadBufferSize = 1024;
    private static readonly Task<bool> s_true = Task.FromResult(true);
    private static readonly Task<bool> s_false = Task.FromResult(false);

    /// <summary>A writer waits for the send loop once this much is queued, so a fast writer cannot queue without bound.</summary>
    internal const int MaxQueuedRequestBytes = 64 * 1024;

    /// <summary>Batch buffers larger than this (after a large message) are dropped rather than kept for the next batch.</summary>
    private const int MaxKeptBatchCapacity = 1024 * 1024;

    private readonly GrpcChannel _channel;
    private readonly Method<TRequest, TResponse> _method;
    private readonly CallOptions _options;
    private readonly DateTime _deadline;
    private CancellationTokenSource? _cts;
    private CancellationTokenRegistration _userRegistration;
    private HttpRequestMessage? _request;
    private Task<HttpResponseMessage>? _responseTask;
    private volatile HttpResponseMessage? _response;
    private Stream? _responseStream;
    private byte[]? _readBuffer;
    private int _readStart;
    private int _readEnd;
    private Status? _status;
    private HttpHeaders? _trailerSource;
    private List<KeyValuePair<string, string>>? _trailerList;

    /// <summary>The stream of a unary call sent by <see cref="RunUnaryDirectAsync"/> on the own HTTP/2 transport.</summary>
    private Client.Http2.Http2ClientStream? _direct;
    private Metadata? _trailers;
    private TResponse? _current;
    private PushStreamContent? _requestContent;
    private Task? _pendingWrite;

    /// <summary>
    /// Framed messages not yet handed to HttpClient. WriteAsync frames into it and returns at once while the send loop
    /// (<see cref="SendLoopAsync"/>) hands whole batches to the request stream: one write + flush per batch instead of
    /// per message, so pipelined writes share DATA frames (PROTOCOL-HTTP2.md: frames need not line up with messages).
    /// </summary>
    private ArrayBufferWriter<byte>? _pendingBytes;
    private ArrayBufferWriter<byte>? _spareBytes;
    private Lock? _writeLock;
    private bool _sending;
    private Exception? _sendError;
    private TaskCompletionSource? _batchSent;
    private bool _requestCompleted;
    private int _cleanedUp;
    private volatile bool _disposed;

    public GrpcCall(GrpcChannel channel, Method<TRequest, TResponse> method, CallOptions options)
    {
        ArgumentNullException.ThrowIfNull(method);
        _channel = channel;
        _method = method;
        _options = options;
        _deadline = options.Deadline is { } d ? (d.Kind == DateTimeKind.Local ? d.ToUniversalTime() : d) : DateTime.MaxValue;
    }

    private CancellationToken Token => _cts?.Token ?? default;

    public TResponse Current => _current ?? throw new InvalidOperationException("No current message; call MoveNext first.");

    // ---- starting ----

    public Task<TResponse> RunUnaryAsync(TRequest request)
    {
        try
        {
            StartWithMessage(request);
        }
        catch (Exception ex)
        {
            return Task.FromException<TResponse>(Fail(ex));
        }
        return ReadSingleResponseAsync();
    }

    public void StartWithMessage(TRequest request) => Start(CreateUnaryContent(request));

    /// <summary>
    /// The unary fast path used by <see cref="GrpcChannel.UnaryAsync"/>: one async method from send to status, no
    /// separate response task (nobody can ask for the headers of this call).
    /// </summary>
    public Task<TResponse> RunUnaryFastAsync(TRequest request)
    {
        HttpRequestMessage message;
        UnaryContent? content = null;
        try
        {
            content = CreateUnaryContent(request);
            var remaining = PrepareStart();
            message = _request = CreateRequest(content, remaining);
        }
        catch (Exception ex)
        {
            // Returns the pooled request buffer when no request message took the content (Cleanup disposes one that did).
            content?.Dispose();
            var rpc = Fail(ex);
            Cleanup();
            return Task.FromException<TResponse>(rpc);
        }
        return CompleteSingleResponseAsync(message);
    }

    private UnaryContent CreateUnaryContent(TRequest request) => new(CreateUnaryPayload(request));

    /// <summary>
    /// The framed request in a pooled buffer (<see cref="Client.RequestPayload"/>): the caller holds its one reference and
    /// releases it once every send that needs the bytes has taken its own.
    /// </summary>
    internal Client.RequestPayload CreateUnaryPayload(TRequest request)
    {
        var size = request.CalculateSize();
        if (size > _channel.MaxSendMessageSize)
        {
            throw StatusException(MessageFraming.SendingMessageExceedsLimitStatus);
        }
        if (_channel.RequestGzip)
        {
            var writer = new ArrayBufferWriter<byte>(size + MessageFraming.HeaderSize);
            MessageFraming.WriteMessage(writer, request, _channel.MaxSendMessageSize, gzip: true);
            return Client.RequestPayload.Wrap(writer.WrittenSpan.ToArray());
        }
        var payload = Client.RequestPayload.Rent(MessageFraming.HeaderSize + size);
        try
        {
            var span = payload.WritableSpan;
            span[0] = 0;
            BinaryPrimitives.WriteUInt32BigEndian(span.Slice(1), (uint)size);
            request.WriteTo(span.Slice(MessageFraming.HeaderSize));
        }
        catch
        {
            payload.Release();
            throw;
        }
        return payload;
    }

    /// <summary>
    /// The unary fast path on the own HTTP/2 transport: no HttpRequestMessage or HttpResponseMessage, the request's
    /// constant headers pre-encoded per method, and one wake-up when the whole response (headers, message, trailers)
    /// has arrived. Status, limits, metadata and errors follow the same rules as the HttpClient path.
    /// </summary>
    public Task<TResponse> RunUnaryDirectAsync(Client.Http2.Http2Handler transport, TRequest request)
    {
        Client.RequestPayload? payload = null;
        TimeSpan remaining;
        try
        {
            payload = CreateUnaryPayload(request);
            remaining = PrepareStart();
        }
        catch (Exception ex)
        {
            payload?.Release();
            var rpc = Fail(ex);
            Cleanup();
            return Task.FromException<TResponse>(rpc);
        }
        return RunDirectAsync(transport, payload, remaining);
    }

    /// <summary>
    /// One attempt of a hedged call (<see cref="Client.HedgedUnaryCall{TRequest, TResponse}"/>) on the own HTTP/2 transport:
    /// sends <paramref name="payload"/>, framed once for every attempt, on a connection other than <paramref name="avoid"/>
    /// when the pool has one. Takes over the reference to <paramref name="payload"/> the caller took for it.
    /// </summary>
    internal Task<TResponse> RunAttemptDirectAsync(Client.Http2.Http2Handler transport, Client.RequestPayload payload, Client.Http2.Http2ClientConnection? avoid)
    {
        TimeSpan remaining;
        try
        {
            remaining = PrepareStart();
        }
        catch (Exception ex)
        {
            payload.Release();
            _startFinished = true;
            Volatile.Read(ref _started)?.TrySetResult();
            var rpc = Fail(ex);
            Cleanup();
            return Task.FromException<TResponse>(rpc);
        }
        return RunDirectAsync(transport, payload, remaining, avoid);
    }

    /// <summary>The connection this call's stream went out on (direct path), once it is started; else null.</summary>
    internal Client.Http2.Http2ClientConnection? StartedConnection => _direct?.Connection;

    private TaskCompletionSource? _started;
    private volatile bool _startFinished;

    /// <summary>
    /// A hedged attempt's: completes once its stream is open on a connection, or it failed before that (then
    /// <see cref="StartedConnection"/> stays null). Created only when a hedge needs to wait for it (most calls never ask).
    /// </summary>
    internal Task AttemptStarted
    {
        get
        {
            if (_startFinished)
            {
                return Task.CompletedTask;
            }
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var source = Interlocked.CompareExchange(ref _started, created, null) ?? created;
            if (_startFinished)
            {
                // The start finished while the source was being created: it may not have seen it.
                source.TrySetResult();
            }
            return source.Task;
        }
    }

    /// <summary>Runs the call; releases the caller's reference to <paramref name="payload"/> once the stream is started.</summary>
    private async Task<TResponse> RunDirectAsync(Client.Http2.Http2Handler transport, Client.RequestPayload payload, TimeSpan remaining,
        Client.Http2.Http2ClientConnection? avoid = null)
    {
        try
        {
            var timeout = _deadline != DateTime.MaxValue ? GrpcProtocolHelpers.EncodeTimeout(remaining.Ticks) : null;
            // Room for one message past the limit, so an oversized response is recognised from its prefix.
            var maxBody = (long)_channel.MaxReceiveMessageSize + MessageFraming.HeaderSize + 1;
            Client.Http2.Http2ClientStream stream;
            try
            {
                var startTask = transport.StartUnaryAsync(_channel.GetMethodUri(_method, _method.FullName), timeout, _options.Headers, payload, maxBody, Token, avoid);
                stream = startTask.IsCompletedSuccessfully ? startTask.Result : await startTask.ConfigureAwait(false);
                _direct = stream;
            }
            finally
            {
                // The transport took its own reference for as long as it still copies the bytes.
                payload.Release();
                _startFinished = true;
                Volatile.Read(ref _started)?.TrySetResult();
            }
            if (_disposed || (_cts?.IsCancellationRequested ?? false))
            {
                // Cancelled while the stream was being opened: OnCallCancelled did not see it.
                stream.OnResponseDisposed();
                throw new OperationCanceledException(Token);
            }
            await stream.WaitForEndAsync(Token).ConfigureAwait(false);
            return CompleteDirect(stream);
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
        finally
        {
            Cleanup();
        }
    }

    /// <summary>ValidateHeaders, the one-message rule and the status, over the fields the transport decoded.</summary>
    private TResponse CompleteDirect(Client.Http2.Http2ClientStream stream)
    {
        if (stream.DirectHeaders is { } headers)
        {
            // Trailers-only (PROTOCOL-HTTP2.md): the status is in the headers; a unary call needs a message, so OK is INTERNAL.
            _trailerList = headers;
            var early = ReadStatus(headers);
            throw StatusException(early.StatusCode == StatusCode.OK
                ? new Status(StatusCode.Internal, "Failed to deserialize response message. The response header contained a gRPC status of OK, which means no message was returned from the method.")
                : early);
        }
        if (stream.DirectStatusCode != 200)
        {
            var code = stream.DirectStatusCode;
            throw StatusException(new Status(GrpcProtocolHelpers.MapHttpStatus(code), $"Bad gRPC response. HTTP status code: {code}"));
        }
        var contentType = stream.DirectContentType;
        if (!GrpcProtocolHelpers.IsGrpcContentType(contentType))
        {
            throw StatusException(new Status(StatusCode.Internal, contentType is null
                ? "Bad gRPC response. Response did not have a content-type header."
                : $"Bad gRPC response. Invalid content-type value: {contentType}"));
        }
        var body = stream.BufferedBody;
        if (stream.DirectTrailers is { } trailers)
        {
            _trailerList = trailers;
        }
        if (body.Length == 0)
        {
            var s = _trailerList is null ? new Status(StatusCode.Unknown, "No grpc-status found on response.") : ReadStatus(_trailerList);
            throw StatusException(s.StatusCode == StatusCode.OK ? new Status(StatusCode.Internal, "Failed to deserialize response message.") : s);
        }
        if (body.Length < MessageFraming.HeaderSize)
        {
            throw StatusException(MessageFraming.IncompleteMessageStatus);
        }
        var length = ReadLength(body, out var compressed);
        if (body.Length < MessageFraming.HeaderSize + length)
        {
            throw StatusException(MessageFraming.IncompleteMessageStatus);
        }
        if (body.Length > MessageFraming.HeaderSize + length)
        {
            throw StatusException(new Status(StatusCode.Internal, "Unary response had more than one message."));
        }
        var message = Parse(body.Slice(MessageFraming.HeaderSize, length), compressed);
        var status = _trailerList is null ? new Status(StatusCode.Unknown, "No grpc-status found on response.") : ReadStatus(_trailerList);
        _status ??= status;
        if (status.StatusCode != StatusCode.OK)
        {
            throw StatusException(status);
        }
        return message;
    }

    public void StartStreaming()
    {
        _requestContent = new PushStreamContent();
        _writeLock = new Lock();
        Start(_requestContent);
    }

    private void Start(HttpContent content)
    {
        TimeSpan remaining;
        try
        {
            remaining = PrepareStart();
        }
        catch
        {
            // Nothing took the content: give back its pooled request buffer now rather than to the GC.
            content.Dispose();
            throw;
        }
        _request = CreateRequest(content, remaining);
        _responseTask = SendAsync(_request);
    }

    /// <summary>Checks the deadline and sets up the call's cancellation; returns the time left (zero when no deadline).</summary>
    private TimeSpan PrepareStart()
    {
        var needsToken = _deadline != DateTime.MaxValue || _options.CancellationToken.CanBeCanceled || _requestContent is not null;
        TimeSpan remaining = default;
        if (_deadline != DateTime.MaxValue)
        {
            remaining = _deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                // The deadline has already passed: fail locally without touching the network (PROTOCOL-HTTP2.md: the
                // client generates DEADLINE_EXCEEDED itself).
                throw StatusException(new Status(StatusCode.DeadlineExceeded, ""));
            }
        }
        _options.CancellationToken.ThrowIfCancellationRequested();
        if (needsToken)
        {
            _cts = new CancellationTokenSource();
            _cts.Token.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).OnCallCancelled(), this);
            if (_options.CancellationToken.CanBeCanceled)
            {
                _userRegistration = _options.CancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _cts);
            }
            if (_deadline != DateTime.MaxValue)
            {
                _cts.CancelAfter(remaining > TimeSpan.FromMilliseconds(uint.MaxValue - 1) ? TimeSpan.FromMilliseconds(uint.MaxValue - 1) : remaining);
            }
        }
        return remaining;
    }

    private HttpRequestMessage CreateRequest(HttpContent content, TimeSpan remaining)
    {
        var uri = _channel.GetMethodUri(_method, _method.FullName);
        var message = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            // HTTP/2 only: prior knowledge for http://, ALPN for https:// (grpc-dotnet GrpcCall.CreateHttpRequestMessage).
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        var headers = message.Headers;
        // PROTOCOL-HTTP2.md: grpc-timeout straight after the pseudo-headers, then call-definition headers, then metadata.
        if (_deadline != DateTime.MaxValue)
        {
            headers.TryAddWithoutValidation(GrpcProtocolConstants.TimeoutHeader, GrpcProtocolHelpers.EncodeTimeout(remaining.Ticks));
        }
        headers.TryAddWithoutValidation(GrpcProtocolConstants.TeHeader, GrpcProtocolConstants.TeTrailers);
        headers.TryAddWithoutValidation("user-agent", GrpcProtocolConstants.UserAgent);
        headers.TryAddWithoutValidation(GrpcProtocolConstants.MessageAcceptEncodingHeader, GrpcProtocolConstants.SupportedAcceptEncoding);
        if (_channel.RequestGzip)
        {
            headers.TryAddWithoutValidation(GrpcProtocolConstants.MessageEncodingHeader, GrpcProtocolConstants.GzipEncoding);
        }
        content.Headers.TryAddWithoutValidation("content-type", GrpcProtocolConstants.GrpcContentType);
        if (_options.Headers is { } metadata)
        {
            foreach (var entry in metadata)
            {
                // User metadata must not override the deadline or the protocol headers.
                if (entry.Key is GrpcProtocolConstants.TimeoutHeader or "content-type" or GrpcProtocolConstants.TeHeader
                    or GrpcProtocolConstants.MessageEncodingHeader or GrpcProtocolConstants.MessageAcceptEncodingHeader)
                {
                    continue;
                }
                headers.TryAddWithoutValidation(entry.Key, entry.IsBinary ? GrpcProtocolHelpers.EncodeBase64(entry.ValueBytes) : entry.Value);
            }
        }
        return message;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        var response = await _channel.Invoker.SendAsync(request, Token).ConfigureAwait(false);
        _response = response;
        if (_disposed || (_cts?.IsCancellationRequested ?? false))
        {
            response.Dispose();
            throw new OperationCanceledException(Token);
        }
        ValidateHeaders(response);
        return response;
    }

    /// <summary>
    /// grpc-dotnet GrpcCall.ValidateHeaders order: grpc-status in the headers (trailers-only) wins; then HTTP/1.x is
    /// INTERNAL; a non-200 status is mapped by doc/http-grpc-status-mapping.md; then the content-type must be gRPC.
    /// </summary>
    private void ValidateHeaders(HttpResponseMessage response)
    {
        if (response.Headers.NonValidated.TryGetValues(GrpcProtocolConstants.StatusTrailer, out _))
        {
            _trailerSource = response.Headers;
            _status = ReadStatus(response.Headers);
            return;
        }
        if (response.Version < HttpVersion.Version20)
        {
            _status = new Status(StatusCode.Internal, $"Bad gRPC response. Response protocol downgraded to HTTP/{response.Version.ToString(2)}.");
            return;
        }
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var code = (int)response.StatusCode;
            _status = new Status(GrpcProtocolHelpers.MapHttpStatus(code), $"Bad gRPC response. HTTP status code: {code}");
            return;
        }
        string? contentType = null;
        if (response.Content.Headers.NonValidated.TryGetValues("content-type", out var ct))
        {
            contentType = ct.ToString();
        }
        if (!GrpcProtocolHelpers.IsGrpcContentType(contentType))
        {
            _status = new Status(StatusCode.Internal, contentType is null
                ? "Bad gRPC response. Response did not have a content-type header."
                : $"Bad gRPC response. Invalid content-type value: {contentType}");
        }
    }

    // ---- unary and client-streaming response ----

    /// <summary>The response of a client-streaming call (its request was started by <see cref="StartStreaming"/>).</summary>
    public Task<TResponse> ReadSingleResponseAsync() => CompleteSingleResponseAsync(null);

    /// <summary>
    /// Reads exactly one message then the OK status; anything else throws. The body is read to its end in this one
    /// loop (a unary response is one message, then END_STREAM with the trailers), so a call that waits for the network
    /// costs one async frame here instead of one per nested read helper.
    /// </summary>
    private async Task<TResponse> CompleteSingleResponseAsync(HttpRequestMessage? send)
    {
        try
        {
            if (send is not null)
            {
                var response = await _channel.Invoker.SendAsync(send, Token).ConfigureAwait(false);
                _response = response;
                ValidateHeaders(response);
            }
            else
            {
                await _responseTask!.ConfigureAwait(false);
            }
            if (_status is { } early)
            {
                // A unary call must carry one message, so a trailers-only OK is a protocol violation (grpc-dotnet).
                throw StatusException(early.StatusCode == StatusCode.OK
                    ? new Status(StatusCode.Internal, "Failed to deserialize response message. The response header contained a gRPC status of OK, which means no message was returned from the method.")
                    : early);
            }
            var stream = _responseStream ??= await _response!.Content.ReadAsStreamAsync(Token).ConfigureAwait(false);
            var buffer = _readBuffer ??= ArrayPool<byte>.Shared.Rent(InitialUnaryReadBufferSize);
            var end = _readEnd - _readStart;
            if (_readStart != 0)
            {
                Buffer.BlockCopy(buffer, _readStart, buffer, 0, end);
            }
            _readStart = 0;
            // The whole message (prefix + payload) once the prefix is known; the prefix is checked against the receive
            // limit before the buffer grows for the payload (B10: check before buffering).
            var needed = -1;
            while (true)
            {
                if (needed < 0 && end >= MessageFraming.HeaderSize)
                {
                    var length = ReadLength(buffer.AsSpan(0, MessageFraming.HeaderSize), out _);
                    if (length > Array.MaxLength - MessageFraming.HeaderSize - 1)
                    {
                        // Only reachable with no receive limit: no array can hold it.
                        throw StatusException(MessageFraming.ReceivedMessageExceedsLimitStatus);
                    }
                    needed = MessageFraming.HeaderSize + length;
                    if (buffer.Length < needed + 1)
                    {
                        // One byte of room past the message, so that a second message is noticed without growing again.
                        var larger = ArrayPool<byte>.Shared.Rent(needed + 1);
                        Buffer.BlockCopy(buffer, 0, larger, 0, end);
                        ArrayPool<byte>.Shared.Return(buffer);
                        _readBuffer = buffer = larger;
                    }
                }
                if (needed >= 0 && end > needed)
                {
                    // Bytes after the one message: stop reading, whatever follows cannot be valid.
                    break;
                }
                if (end == buffer.Length)
                {
                    // Fewer than 5 bytes fit only in a tiny buffer, which Rent never returns; grow defensively anyway.
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, end);
                    ArrayPool<byte>.Shared.Return(buffer);
                    _readBuffer = buffer = larger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(end), Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                end += read;
            }
            _readEnd = end;
            if (end == 0)
            {
                var s = FinishFromTrailers();
                throw StatusException(s.StatusCode == StatusCode.OK ? new Status(StatusCode.Internal, "Failed to deserialize response message.") : s);
            }
            if (!TryReadBufferedMessage(out var message))
            {
                throw StatusException(MessageFraming.IncompleteMessageStatus);
            }
            if (_readEnd != _readStart)
            {
                throw StatusException(new Status(StatusCode.Internal, "Unary response had more than one message."));
            }
            var status = FinishFromTrailers();
            if (status.StatusCode != StatusCode.OK)
            {
                throw StatusException(status);
            }
            return message!;
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
        finally
        {
            Cleanup();
        }
    }

    // ---- response stream ----

    public Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (_status is { } finished && Volatile.Read(ref _cleanedUp) != 0)
        {
            return finished.StatusCode == StatusCode.OK ? s_false : Task.FromException<bool>(StatusException(finished));
        }
        // Sync fast path: a whole message already in the read buffer (several often arrive in one DATA frame).
        if (_response is not null && _status is null && !cancellationToken.IsCancellationRequested && TryReadBufferedMessage(out var buffered))
        {
            _current = buffered;
            return s_true;
        }
        return MoveNextSlowAsync(cancellationToken);
    }

    private async Task<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
    {
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => ((GrpcCall<TRequest, TResponse>)s!).CancelFromReader(), this)
            : default;
        try
        {
            await _responseTask!.ConfigureAwait(false);
            if (_status is { } early)
            {
                if (early.StatusCode == StatusCode.OK)
                {
                    Cleanup();
                    return false;
                }
                throw StatusException(early);
            }
            var message = await ReadMessageAsync().ConfigureAwait(false);
            if (message is not null)
            {
                _current = message;
                return true;
            }
            var status = FinishFromTrailers();
            Cleanup();
            if (status.StatusCode != StatusCode.OK)
            {
                throw StatusException(status);
            }
            return false;
        }
        catch (Exception ex)
        {
            var rpc = Fail(ex);
            Cleanup();
            throw rpc;
        }
    }

    private void CancelFromReader()
    {
        _disposed = true;
        try
        {
            _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The call was cleaned up meanwhile (MoveNextSlowAsync cleans up before its registration is disposed, and a
            // failing pump cleans up from another thread): nothing is left to cancel. Thrown here, the exception would
            // surface in whoever cancelled the reader's token - e.g. a host stopping its background services.
        }

        OnCallCancelled();
    }

    // ---- request stream ----

    public Task WriteAsync(TRequest message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_requestContent is null)
        {
            throw new InvalidOperationException("This call has no request stream.");
        }
        if (_requestCompleted)
        {
            throw new InvalidOperationException("Request stream has already been completed.");
        }
        if (_pendingWrite is { IsCompleted: false })
        {
            throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
        }
        if (_status is { } status && status.StatusCode != StatusCode.OK)
        {
            return Task.FromException(StatusException(status));
        }
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }
        bool startLoop;
        lock (_writeLock!)
        {
            if (_sendError is { } error)
            {
                return Task.FromException(WriteFailure(error));
            }
            var pending = _pendingBytes ??= new ArrayBufferWriter<byte>(256);
            try
            {
                // Checks the size before writing anything, so a rejected message leaves the queue intact.
                MessageFraming.WriteMessage(pending, message, _channel.MaxSendMessageSize, _channel.RequestGzip);
            }
            catch (RpcException ex)
            {
                // Too large to send: the call cannot continue (grpc-dotnet cancels it with RESOURCE_EXHAUSTED).
                _status ??= ex.Status;
                _cts?.Cancel();
                throw;
            }
            startLoop = !_sending;
            _sending = true;
        }
        if (startLoop)
        {
            _ = SendLoopAsync();
        }
        Task result = Task.CompletedTask;
        lock (_writeLock!)
        {
            if (_sending && _pendingBytes!.WrittenCount >= MaxQueuedRequestBytes)
            {
                result = WaitForBatchAsync((_batchSent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task, cancellationToken);
            }
        }
        _pendingWrite = result;
        return result;
    }

    private async Task WaitForBatchAsync(Task batchSent, CancellationToken cancellationToken)
    {
        await batchSent.WaitAsync(cancellationToken).ConfigureAwait(false);
        Exception? error;
        lock (_writeLock!)
        {
            error = _sendError;
        }
        if (error is not null)
        {
            throw WriteFailure(error);
        }
    }

    /// <summary>
    /// Hands queued bytes to HttpClient's request stream until the queue is empty; at most one runs per call (started
    /// by the write that finds it idle). A failure is kept and reported by the next write or CompleteAsync.
    /// </summary>
    private async Task SendLoopAsync()
    {
        try
        {
            var streamTask = _requestContent!.StreamTask;
            var stream = streamTask.IsCompletedSuccessfully ? streamTask.Result : await streamTask.WaitAsync(Token).ConfigureAwait(false);
            while (true)
            {
                ArrayBufferWriter<byte> batch;
                lock (_writeLock!)
                {
                    batch = _pendingBytes!;
                    if (batch.WrittenCount == 0)
                    {
                        _sending = false;
                        SignalBatchSent();
                        return;
                    }
                    _pendingBytes = _spareBytes ?? new ArrayBufferWriter<byte>(256);
                    _spareBytes = null;
                }
                await stream.WriteAsync(batch.WrittenMemory, Token).ConfigureAwait(false);
                await stream.FlushAsync(Token).ConfigureAwait(false);
                batch.ResetWrittenCount();
                lock (_writeLock!)
                {
                    if (batch.Capacity <= MaxKeptBatchCapacity)
                    {
                        _spareBytes = batch;
                    }
                    SignalBatchSent();
                }
            }
        }
        catch (Exception ex)
        {
            lock (_writeLock!)
            {
                _sendError = ex;
                _sending = false;
                SignalBatchSent();
            }
        }
    }

    /// <summary>Wakes writers waiting for room and CompleteAsync; called under <see cref="_writeLock"/>.</summary>
    private void SignalBatchSent()
    {
        var waiting = _batchSent;
        _batchSent = null;
        waiting?.TrySetResult();
    }

    private Exception WriteFailure(Exception ex)
    {
        if (_status is { } known)
        {
            return StatusException(known);
        }
        // The server may have ended the call (e.g. it rejected a message) while we were still sending: the call's
        // status is then read from the response stream, so a failed write must not decide it.
        return Fail(ex, record: false);
    }

    public Task CompleteAsync()
    {
        if (_requestContent is null)
        {
            throw new InvalidOperationException("This call has no request stream.");
        }
        if (_pendingWrite is { IsCompleted: false })
        {
            throw new InvalidOperationException("Can't complete the request stream because a write is in progress.");
        }
        _requestCompleted = true;
        Task? drained = null;
        lock (_writeLock!)
        {
            if (_sendError is { } error)
            {
                return Task.FromException(WriteFailure(error));
            }
            if (_sending)
            {
                drained = (_batchSent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
        if (drained is null)
        {
            // Returning from SerializeToStreamAsync makes HttpClient send END_STREAM (PROTOCOL-HTTP2.md: EOS on the last DATA frame).
            _requestContent.Complete();
            return Task.CompletedTask;
        }
        var task = CompleteAfterDrainAsync(drained);
        _pendingWrite = task;
        return task;
    }

    /// <summary>Waits until every queued message is handed to HttpClient, then ends the request stream.</summary>
    private async Task CompleteAfterDrainAsync(Task batchSent)
    {
        while (true)
        {
            await batchSent.ConfigureAwait(false);
            lock (_writeLock!)
            {
                if (_sendError is { } error)
                {
                    throw WriteFailure(error);
                }
                if (!_sending)
                {
                    break;
                }
                batchSent = (_batchSent ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
        _requestContent!.Complete();
    }

    // ---- reading frames ----

    private bool TryReadBufferedMessage(out TResponse? message)
    {
        message = null;
        var available = _readEnd - _readStart;
        if (available < MessageFraming.HeaderSize)
        {
            return false;
        }
        var span = _readBuffer.AsSpan(_readStart, available);
        var length = ReadLength(span, out var compressed);
        if (available - MessageFraming.HeaderSize < length)
        {
            return false;
        }
        message = Parse(span.Slice(MessageFraming.HeaderSize, length), compressed);
        _readStart += MessageFraming.HeaderSize + length;
        return true;
    }

    private int ReadLength(ReadOnlySpan<byte> header, out bool compressed)
    {
        var flag = header[0];
        if (flag > 1)
        {
            throw StatusException(new Status(StatusCode.Internal, $"Unexpected compressed flag value {flag} in the message prefix; only 0 and 1 are defined."));
        }
        compressed = flag == 1;
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(1));
        if (length > (uint)_channel.MaxReceiveMessageSize)
        {
            // Checked on the prefix, before buffering the payload.
            throw StatusException(MessageFraming.ReceivedMessageExceedsLimitStatus);
        }
        return (int)length;
    }

    private TResponse Parse(ReadOnlySpan<byte> payload, bool compressed)
    {
        try
        {
            if (!compressed)
            {
                return Method<TRequest, TResponse>.ResponseParser.ParseFrom(payload);
            }
            string? encoding = null;
            if (_direct is { } direct)
            {
                encoding = direct.DirectEncoding;
            }
            else if (_response!.Headers.NonValidated.TryGetValues(GrpcProtocolConstants.MessageEncodingHeader, out var values))
            {
                encoding = values.ToString();
            }
            MessageFraming.CheckEncodingForCompressedMessage(encoding);
            var rented = MessageFraming.Decompress(new ReadOnlySequence<byte>(payload.ToArray()), _channel.MaxReceiveMessageSize, out var length);
            try
            {
                return Method<TRequest, TResponse>.ResponseParser.ParseFrom(new ReadOnlySpan<byte>(rented, 0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
        catch (InvalidProtocolBufferException)
        {
            throw StatusException(new Status(StatusCode.Internal, "Failed to deserialize response message."));
        }
        catch (RpcException ex)
        {
            throw StatusException(ex.Status);
        }
    }

    // Pooled builders: a stream read that waits for the network would otherwise allocate a box per level per batch.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TResponse?> ReadMessageAsync()
    {
        if (TryReadBufferedMessage(out var buffered))
        {
            return buffered;
        }
        _responseStream ??= await _response!.Content.ReadAsStreamAsync(Token).ConfigureAwait(false);
        if (!await FillAsync(MessageFraming.HeaderSize).ConfigureAwait(false))
        {
            if (_readEnd == _readStart)
            {
                return null;
            }
            throw StatusException(MessageFraming.IncompleteMessageStatus);
        }
        var length = ReadLength(_readBuffer.AsSpan(_readStart, MessageFraming.HeaderSize), out var compressed);
        if (!await FillAsync(MessageFraming.HeaderSize + length).ConfigureAwait(false))
        {
            throw StatusException(MessageFraming.IncompleteMessageStatus);
        }
        var message = Parse(_readBuffer.AsSpan(_readStart + MessageFraming.HeaderSize, length), compressed);
        _readStart += MessageFraming.HeaderSize + length;
        return message;
    }

    /// <summary>Reads until <paramref name="count"/> bytes are buffered; false at end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(int count)
    {
        if (_readBuffer is null)
        {
            _readBuffer = ArrayPool<byte>.Shared.Rent(Math.Max(InitialReadBufferSize, count));
        }
        if (_readEnd - _readStart >= count)
        {
            return true;
        }
        if (_readBuffer.Length - _readStart < count)
        {
            var target = _readBuffer.Length >= count ? _readBuffer : ArrayPool<byte>.Shared.Rent(count);
            Buffer.BlockCopy(_readBuffer, _readStart, target, 0, _readEnd - _readStart);
            if (!ReferenceEquals(target, _readBuffer))
            {
                ArrayPool<byte>.Shared.Return(_readBuffer);
                _readBuffer = target;
            }
            _readEnd -= _readStart;
            _readStart = 0;
        }
        while (_readEnd - _readStart < count)
        {
            var read = await _responseStream!.ReadAsync(_readBuffer.AsMemory(_readEnd), Token).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }
            _readEnd += read;
        }
        return true;
    }

    // ---- status ----

    private Status FinishFromTrailers()
    {
        var response = _response!;
        // PROTOCOL-HTTP2.md: the status is in the trailers; a trailers-only response was handled in ValidateHeaders.
        _trailerSource = response.TrailingHeaders;
        var status = ReadStatus(response.TrailingHeaders);
        _status ??= status;
        return _status.Value;
    }

    private static string? FindField(List<KeyValuePair<string, string>> fields, string name)
    {
        string? found = null;
        foreach (var (key, value) in fields)
        {
            if (key == name)
            {
                // Repeated fields are joined as HttpHeaders would join them.
                found = found is null ? value : found + "," + value;
            }
        }
        return found;
    }

    private static Status ReadStatus(List<KeyValuePair<string, string>> fields)
    {
        var text = FindField(fields, GrpcProtocolConstants.StatusTrailer);
        if (text is null)
        {
            return new Status(StatusCode.Unknown, "No grpc-status found on response.");
        }
        // The common case without parsing: "0".
        var code = text == "0" ? 0 : -1;
        if (code < 0 && !int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out code))
        {
            return new Status(StatusCode.Unknown, $"Unexpected grpc-status value '{text}'.");
        }
        var message = FindField(fields, GrpcProtocolConstants.MessageTrailer);
        return new Status((StatusCode)code, message is null ? "" : PercentEncoding.Decode(message));
    }

    private static Status ReadStatus(HttpHeaders headers)
    {
        if (!headers.NonValidated.TryGetValues(GrpcProtocolConstants.StatusTrailer, out var statusValues))
        {
            // doc/http-grpc-status-mapping.md: a 200 response without grpc-status is UNKNOWN.
            return new Status(StatusCode.Unknown, "No grpc-status found on response.");
        }
        var text = statusValues.ToString();
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
        {
            return new Status(StatusCode.Unknown, $"Unexpected grpc-status value '{text}'.");
        }
        var detail = "";
        if (headers.NonValidated.TryGetValues(GrpcProtocolConstants.MessageTrailer, out var messageValues))
        {
            detail = PercentEncoding.Decode(messageValues.ToString());
        }
        return new Status((StatusCode)code, detail);
    }

    public Status GetStatus() => _status is { } s && (Volatile.Read(ref _cleanedUp) != 0 || _disposed)
        ? s
        : throw new InvalidOperationException("Unable to get the status because the call is not complete.");

    public Metadata GetTrailers()
    {
        if ((Volatile.Read(ref _cleanedUp) == 0 && !_disposed) || _status is null)
        {
            throw new InvalidOperationException("Can't get the call trailers because the call has not completed successfully.");
        }
        return TrailersForException() ?? (_trailers ??= new Metadata());
    }

    public async Task<Metadata> GetResponseHeadersAsync()
    {
        try
        {
            var response = await _responseTask!.ConfigureAwait(false);
            // In a trailers-only response the headers are the trailers; the protocol fields are filtered either way.
            return BuildMetadata(response.Headers);
        }
        catch (Exception ex)
        {
            throw Fail(ex);
        }
    }

    private static Metadata BuildMetadata(HttpHeaders headers)
    {
        var metadata = new Metadata();
        foreach (var header in headers.NonValidated)
        {
            var key = header.Key.ToLowerInvariant();
            if (GrpcProtocolConstants.IsFilteredResponseHeader(key))
            {
                continue;
            }
            foreach (var value in header.Value)
            {
                AddMetadata(metadata, key, value);
            }
        }
        return metadata;
    }

    /// <summary>Metadata from the header fields the own HTTP/2 transport decoded (names are lowercase on the wire).</summary>
    private static Metadata BuildMetadata(List<KeyValuePair<string, string>> fields)
    {
        var metadata = new Metadata();
        foreach (var (key, value) in fields)
        {
            if (!GrpcProtocolConstants.IsFilteredResponseHeader(key))
            {
                AddMetadata(metadata, key, value);
            }
        }
        return metadata;
    }

    private static void AddMetadata(Metadata metadata, string key, string value)
    {
        if (Metadata.IsBinaryKey(key))
        {
            // PROTOCOL-HTTP2.md: split on ',' before decoding, values may be joined.
            foreach (var part in value.Split(','))
            {
                if (GrpcProtocolHelpers.TryDecodeBase64(part, out var bytes))
                {
                    metadata.Add(new Metadata.Entry(key, bytes));
                }
            }
        }
        else
        {
            try
            {
                metadata.Add(new Metadata.Entry(key, value));
            }
            catch (ArgumentException)
            {
                // Not valid gRPC metadata (e.g. non-ASCII): not surfaced.
            }
        }
    }

    /// <summary>The trailers to attach to an RpcException, from whichever transport delivered them.</summary>
    private Metadata? TrailersForException()
        => _trailerSource is not null ? (_trailers ??= BuildMetadata(_trailerSource))
            : _trailerList is not null ? (_trailers ??= BuildMetadata(_trailerList))
            : null;

    private RpcException StatusException(Status status)
    {
        _status ??= status;
        return new RpcException(status, TrailersForException());
    }

    /// <summary>
    /// Turns any failure into an RpcException (grpc-dotnet ResolveRpcExceptionStatusCode): the deadline wins once it has
    /// passed; a cancel by the caller is CANCELLED; RST_STREAM codes map per PROTOCOL-HTTP2.md "Errors"; connection
    /// failures are UNAVAILABLE; anything else INTERNAL.
    /// </summary>
    private RpcException Fail(Exception ex, bool record = true)
    {
        if (ex is RpcException rpc && _status is not null)
        {
            return rpc;
        }
        Status status;
        // The deadline timer is the only canceller left once dispose and the caller's token are ruled out; checking the
        // clock alone is not enough, because the timer (monotonic) may fire a few ms before DateTime.UtcNow passes the deadline.
        var deadlineFired = _deadline != DateTime.MaxValue && ex is not RpcException
            && (DateTime.UtcNow >= _deadline
                || (_cts is { IsCancellationRequested: true } && !_disposed && !_options.CancellationToken.IsCancellationRequested));
        if (deadlineFired)
        {
            status = new Status(StatusCode.DeadlineExceeded, "");
        }
        else if (ex is RpcException r)
        {
            status = r.Status;
        }
        else if (_disposed || _options.CancellationToken.IsCancellationRequested)
        {
            status = new Status(StatusCode.Cancelled, "Call canceled by the client.");
        }
        else if (FindInner<HttpProtocolException>(ex) is { } protocol)
        {
            status = new Status(GrpcProtocolHelpers.MapHttp2ErrorCode(protocol.ErrorCode), $"Error reading from the server: {protocol.Message}");
        }
        else if (FindInner<SocketException>(ex) is not null || FindInner<IOException>(ex) is not null || ex is HttpRequestException)
        {
            status = new Status(StatusCode.Unavailable, $"Error connecting to the server: {ex.GetType().Name}: {ex.Message}");
        }
        else if (ex is OperationCanceledException)
        {
            status = new Status(StatusCode.Cancelled, "Call canceled.");
        }
        else
        {
            status = new Status(StatusCode.Internal, $"Error in the gRPC call: {ex.GetType().Name}: {ex.Message}");
        }
        if (record)
        {
            _status ??= status;
        }
        return new RpcException(status, TrailersForException());
    }

    private static T? FindInner<T>(Exception? ex)
        where T : Exception
    {
        while (ex is not null)
        {
            if (ex is T t)
            {
                return t;
            }
            ex = ex.InnerException;
        }
        return null;
    }

    // ---- teardown ----

    private void OnCallCancelled()
    {
        // After the response headers, disposing the response resets the stream with RST_STREAM(CANCEL)
        // (grpc-dotnet GrpcCall.CancelCall); before them the token passed to SendAsync does it.
        _response?.Dispose();
        _requestContent?.Abort();
        _direct?.OnResponseDisposed();
    }

    private void Cleanup()
    {
        if (Interlocked.Exchange(ref _cleanedUp, 1) != 0)
        {
            return;
        }
        _response?.Dispose();
        _direct?.OnResponseDisposed();
        _requestContent?.Abort();
        _request?.Dispose();
        _userRegistration.Dispose();
        _cts?.Dispose();
        if (_readBuffer is { } buffer)
        {
            _readBuffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        if (Volatile.Read(ref _cleanedUp) != 0)
        {
            return;
        }
        _disposed = true;
        _status ??= new Status(StatusCode.Cancelled, "Call canceled by the client.");
        try
        {
            _cts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Completed concurrently.
        }
        OnCallCancelled();
    }
}

/// <summary>
/// The framed request of a unary or server-streaming call; re-sendable if HttpClient retries. Holds one reference to
/// its pooled <see cref="Client.RequestPayload"/>, given up when the request message is disposed (the call's cleanup);
/// each serialization takes its own for as long as it writes, so the buffer outlives a write still running then.
/// </summary>
internal sealed class UnaryContent(Client.RequestPayload payload) : HttpContent
{
    private int _disposed;

    /// <summary>The framed message; the HTTP/2 transport sends it in the same write as the request headers.</summary>
    public Client.RequestPayload Payload => payload;

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
    {
        if (!payload.TryAddReference())
        {
            return Task.FromException(new ObjectDisposedException(nameof(UnaryContent)));
        }
        ValueTask write;
        try
        {
            write = stream.WriteAsync(payload.Memory, cancellationToken);
        }
        catch
        {
            payload.Release();
            throw;
        }
        if (write.IsCompletedSuccessfully)
        {
            payload.Release();
            return Task.CompletedTask;
        }
        return AwaitWriteAsync(write);
    }

    private async Task AwaitWriteAsync(ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        finally
        {
            payload.Release();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = payload.Length;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            payload.Release();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// The request body of a streaming call: HttpClient hands us its request stream and the body stays open until
/// <see cref="Complete"/> (then END_STREAM is sent) or <see cref="Abort"/> (grpc-dotnet PushStreamContent).
/// </summary>
internal sealed class PushStreamContent : HttpContent
{
    private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<Stream> StreamTask => _stream.Task;

    public void Complete() => _complete.TrySetResult();

    public void Abort()
    {
        _stream.TrySetCanceled();
        _complete.TrySetCanceled();
    }

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        _stream.TrySetResult(stream);
        return _complete.Task;
    }

    protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context, CancellationToken cancellationToken)
        => SerializeToStreamAsync(stream, context);

    protected override bool TryComputeLength(out long length)
    {
        length = -1;
        return false;
    }
}
