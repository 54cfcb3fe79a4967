using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>
/// Turns one HTTP/2 request into one gRPC call: protocol checks (426, 415), the call context, the handler, and the
/// status. Subclasses hold the handler of one method kind.
/// </summary>
internal abstract class ServerCallHandlerBase<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected static readonly MessageParser<TRequest> Parser = new(static () => new TRequest());

    protected ServerCallHandlerBase(ServerMethodInfo method)
    {
        Method = method;
    }

    protected ServerMethodInfo Method { get; }

    public Task HandleCallAsync(HttpContext httpContext)
    {
        if (!ServerProtocol.ValidateRequest(httpContext, Method.Logger))
        {
            return Task.CompletedTask;
        }
        var context = new HttpContextServerCallContext(httpContext, Method);
        context.Initialize(Method.Type != MethodType.Unary);
        Task handlerTask;
        try
        {
            handlerTask = HandleCallCoreAsync(context);
        }
        catch (Exception ex)
        {
            context.ProcessHandlerError(ex);
            return context.DisposeAsync().AsTask();
        }
        // Sync fast path: a handler that completed synchronously needs no async state machine here.
        if (handlerTask.IsCompletedSuccessfully)
        {
            context.Complete(context.Status, null);
            return context.DisposeAsync().AsTask();
        }
        return AwaitHandlerAsync(context, handlerTask);

        static async Task AwaitHandlerAsync(HttpContextServerCallContext context, Task handlerTask)
        {
            try
            {
                await handlerTask.ConfigureAwait(false);
                context.Complete(context.Status, null);
            }
            catch (Exception ex)
            {
                context.ProcessHandlerError(ex);
            }
            finally
            {
                await context.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    protected abstract Task HandleCallCoreAsync(HttpContextServerCallContext context);

    /// <summary>Writes the single response of a unary or client-streaming call.</summary>
    protected static Task WriteSingleResponseAsync(HttpContextServerCallContext context, TResponse? response)
    {
        if (response is null)
        {
            // grpc-dotnet UnaryServerCallHandler: a null response is CANCELLED "No message returned from method."
            throw new RpcException(new Status(StatusCode.Cancelled, "No message returned from method."));
        }
        var httpResponse = context.HttpContext.Response;
        if (!httpResponse.HasStarted)
        {
            // Kestrel: StartAsync must run before the first BodyWriter.GetSpan (grpc-dotnet comment in WriteHeader).
            var start = httpResponse.StartAsync();
            if (!start.IsCompletedSuccessfully)
            {
                return WriteAfterStartAsync(context, response, start);
            }
        }
        WriteResponse(context, response);
        // No flush: ending the request flushes the message together with the trailers.
        return Task.CompletedTask;

        static async Task WriteAfterStartAsync(HttpContextServerCallContext context, TResponse response, Task start)
        {
            await start.ConfigureAwait(false);
            WriteResponse(context, response);
        }
    }

    private static void WriteResponse(HttpContextServerCallContext context, TResponse response)
    {
        lock (context.SyncRoot)
        {
            context.EnsureWritable();
            MessageFraming.WriteMessage(context.HttpContext.Response.BodyWriter, response, context.Options.MaxSendMessageSize, context.ResponseGzip);
        }
    }

    /// <summary>
    /// Reads exactly one request message then end of stream. Cardinality violations are INTERNAL, as grpc-dotnet answers
    /// (statuscodes.md would say UNIMPLEMENTED; we match the reference implementation clients already see).
    /// </summary>
    protected static ValueTask<TRequest> ReadSingleMessageAsync(HttpContextServerCallContext context)
    {
        var reader = context.HttpContext.Request.BodyReader;
        // Sync fast path: a small unary request usually arrives whole, with END_STREAM, before the handler runs.
        if (!reader.TryRead(out var result))
        {
            return ReadSingleMessageSlowAsync(reader, context);
        }
        if (result.IsCompleted)
        {
            var buffer = result.Buffer;
            try
            {
                if (!MessageFraming.TryReadMessage(ref buffer, context.Options.MaxReceiveMessageSize, out var compressed, out var payload))
                {
                    MessageFraming.Throw(MessageFraming.IncompleteMessageStatus);
                }
                if (buffer.Length != 0)
                {
                    MessageFraming.Throw(MessageFraming.AdditionalDataStatus);
                }
                var message = MessageFraming.Deserialize(Parser, payload, compressed, context.RequestEncoding, context.Options.MaxDecompressedMessageSize, "request");
                reader.AdvanceTo(result.Buffer.End);
                return new ValueTask<TRequest>(message);
            }
            catch
            {
                reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }
        }
        reader.AdvanceTo(result.Buffer.Start);
        return ReadSingleMessageSlowAsync(reader, context);
    }

    private static async ValueTask<TRequest> ReadSingleMessageSlowAsync(PipeReader reader, HttpContextServerCallContext context)
    {
        TRequest? message = null;
        while (true)
        {
            var result = await reader.ReadAsync(context.CancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            try
            {
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("Reading the request was cancelled.");
                }
                if (message is null)
                {
                    if (MessageFraming.TryReadMessage(ref buffer, context.Options.MaxReceiveMessageSize, out var compressed, out var payload))
                    {
                        message = MessageFraming.Deserialize(Parser, payload, compressed, context.RequestEncoding, context.Options.MaxDecompressedMessageSize, "request");
                        consumed = buffer.Start;
                    }
                }
                if (message is not null && buffer.Length > 0)
                {
                    MessageFraming.Throw(MessageFraming.AdditionalDataStatus);
                }
                if (result.IsCompleted)
                {
                    if (message is null)
                    {
                        MessageFraming.Throw(MessageFraming.IncompleteMessageStatus);
                    }
                    return message;
                }
            }
            finally
            {
                reader.AdvanceTo(consumed, buffer.End);
            }
        }
    }
}

internal sealed class UnaryServerCallHandler<TRequest, TResponse>(ServerMethodInfo method, UnaryServerMethod<TRequest, TResponse> handler)
    : ServerCallHandlerBase<TRequest, TResponse>(method)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected override Task HandleCallCoreAsync(HttpContextServerCallContext context)
    {
        var read = ReadSingleMessageAsync(context);
        if (read.IsCompletedSuccessfully)
        {
            var responseTask = handler(read.Result, context);
            if (responseTask.IsCompletedSuccessfully)
            {
                return WriteSingleResponseAsync(context, responseTask.Result);
            }
            return AwaitResponseAsync(context, responseTask);
        }
        return AwaitAllAsync(context, read, handler);

        static async Task AwaitResponseAsync(HttpContextServerCallContext context, Task<TResponse> responseTask)
        {
            var response = await responseTask.ConfigureAwait(false);
            await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
        }

        static async Task AwaitAllAsync(HttpContextServerCallContext context, ValueTask<TRequest> read, UnaryServerMethod<TRequest, TResponse> handler)
        {
            var request = await read.ConfigureAwait(false);
            var response = await handler(request, context).ConfigureAwait(false);
            await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// A unary method with a fast path over the request bytes (<see cref="RawUnaryServerMethod"/>): the payload goes to the
/// fast path first, and only a request it declines (or a compressed one, or a call whose response is gzipped) is parsed
/// by the generated parser for the typed handler. Same protocol checks and statuses as <see cref="UnaryServerCallHandler{TRequest, TResponse}"/>.
/// </summary>
internal sealed class FastUnaryServerCallHandler<TRequest, TResponse>(ServerMethodInfo method, RawUnaryServerMethod fastPath, UnaryServerMethod<TRequest, TResponse> handler)
    : ServerCallHandlerBase<TRequest, TResponse>(method)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected override Task HandleCallCoreAsync(HttpContextServerCallContext context)
    {
        var reader = context.HttpContext.Request.BodyReader;
        // Sync fast path: the whole request, with END_STREAM, already buffered (small requests usually are).
        if (reader.TryRead(out var result))
        {
            if (result.IsCompleted)
            {
                var buffer = result.Buffer;
                ValueTask<IRawMessage> raw;
                TRequest? message;
                try
                {
                    message = TakeRequest(context, buffer, out raw);
                }
                catch
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    throw;
                }

                reader.AdvanceTo(buffer.End);
                return Answer(context, message, raw);
            }

            reader.AdvanceTo(result.Buffer.Start);
        }

        return ReadThenAnswerAsync(reader, context);
    }

    private async Task ReadThenAnswerAsync(PipeReader reader, HttpContextServerCallContext context)
    {
        while (true)
        {
            var result = await reader.ReadAsync(context.CancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            TRequest? message;
            ValueTask<IRawMessage> raw;
            try
            {
                if (result.IsCanceled)
                {
                    throw new OperationCanceledException("Reading the request was cancelled.");
                }

                if (!result.IsCompleted)
                {
                    // Fail early, as the typed path does: a prefix over the size limit, or data after a whole message.
                    var rest = buffer;
                    if (MessageFraming.TryReadMessage(ref rest, context.Options.MaxReceiveMessageSize, out _, out _) && rest.Length != 0)
                    {
                        MessageFraming.Throw(MessageFraming.AdditionalDataStatus);
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                message = TakeRequest(context, buffer, out raw);
            }
            catch
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw;
            }

            reader.AdvanceTo(buffer.End);
            await Answer(context, message, raw).ConfigureAwait(false);
            return;
        }
    }

    /// <summary>
    /// The one message of a complete request body: handed to the fast path (then null is returned and
    /// <paramref name="raw"/> is the answer) or parsed.
    /// </summary>
    private TRequest? TakeRequest(HttpContextServerCallContext context, ReadOnlySequence<byte> buffer, out ValueTask<IRawMessage> raw)
    {
        if (!MessageFraming.TryReadMessage(ref buffer, context.Options.MaxReceiveMessageSize, out var compressed, out var payload))
        {
            MessageFraming.Throw(MessageFraming.IncompleteMessageStatus);
        }

        if (buffer.Length != 0)
        {
            MessageFraming.Throw(MessageFraming.AdditionalDataStatus);
        }

        if (!compressed && !context.ResponseGzip && fastPath(payload, context, out raw))
        {
            return null;
        }

        raw = default;
        return MessageFraming.Deserialize(Parser, payload, compressed, context.RequestEncoding, context.Options.MaxDecompressedMessageSize, "request");
    }

    private Task Answer(HttpContextServerCallContext context, TRequest? message, ValueTask<IRawMessage> raw)
    {
        if (message is not null)
        {
            var responseTask = handler(message, context);
            return responseTask.IsCompletedSuccessfully
                ? WriteSingleResponseAsync(context, responseTask.Result)
                : AwaitTypedAsync(context, responseTask);
        }

        return raw.IsCompletedSuccessfully ? WriteRawResponseAsync(context, raw.Result) : AwaitRawAsync(context, raw);

        static async Task AwaitTypedAsync(HttpContextServerCallContext context, Task<TResponse> responseTask)
        {
            var response = await responseTask.ConfigureAwait(false);
            await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
        }

        static async Task AwaitRawAsync(HttpContextServerCallContext context, ValueTask<IRawMessage> raw)
        {
            var response = await raw.ConfigureAwait(false);
            await WriteRawResponseAsync(context, response).ConfigureAwait(false);
        }
    }

    private static Task WriteRawResponseAsync(HttpContextServerCallContext context, IRawMessage response)
    {
        var httpResponse = context.HttpContext.Response;
        if (!httpResponse.HasStarted)
        {
            var start = httpResponse.StartAsync();
            if (!start.IsCompletedSuccessfully)
            {
                return WriteAfterStartAsync(context, response, start);
            }
        }

        WriteRaw(context, response);
        return Task.CompletedTask;

        static async Task WriteAfterStartAsync(HttpContextServerCallContext context, IRawMessage response, Task start)
        {
            try
            {
                await start.ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }

            WriteRaw(context, response);
        }
    }

    private static void WriteRaw(HttpContextServerCallContext context, IRawMessage response)
    {
        try
        {
            lock (context.SyncRoot)
            {
                context.EnsureWritable();
                var size = response.CalculateSize();
                if (size > context.Options.MaxSendMessageSize)
                {
                    MessageFraming.Throw(MessageFraming.SendingMessageExceedsLimitStatus);
                }

                var writer = context.HttpContext.Response.BodyWriter;
                var header = writer.GetSpan(MessageFraming.HeaderSize);
                header[0] = 0;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.Slice(1), (uint)size);
                writer.Advance(MessageFraming.HeaderSize);
                // No flush: ending the request flushes the message together with the trailers.
                response.WriteTo(writer);
            }
        }
        finally
        {
            response.Dispose();
        }
    }
}

internal sealed class ServerStreamingServerCallHandler<TRequest, TResponse>(ServerMethodInfo method, ServerStreamingServerMethod<TRequest, TResponse> handler)
    : ServerCallHandlerBase<TRequest, TResponse>(method)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected override async Task HandleCallCoreAsync(HttpContextServerCallContext context)
    {
        var request = await ReadSingleMessageAsync(context).ConfigureAwait(false);
        await handler(request, new HttpContextStreamWriter<TResponse>(context), context).ConfigureAwait(false);
    }
}

internal sealed class ClientStreamingServerCallHandler<TRequest, TResponse>(ServerMethodInfo method, ClientStreamingServerMethod<TRequest, TResponse> handler)
    : ServerCallHandlerBase<TRequest, TResponse>(method)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected override async Task HandleCallCoreAsync(HttpContextServerCallContext context)
    {
        var response = await handler(new HttpContextStreamReader<TRequest>(context, Parser), context).ConfigureAwait(false);
        await WriteSingleResponseAsync(context, response).ConfigureAwait(false);
    }
}

internal sealed class DuplexStreamingServerCallHandler<TRequest, TResponse>(ServerMethodInfo method, DuplexStreamingServerMethod<TRequest, TResponse> handler)
    : ServerCallHandlerBase<TRequest, TResponse>(method)
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    protected override Task HandleCallCoreAsync(HttpContextServerCallContext context)
        => handler(new HttpContextStreamReader<TRequest>(context, Parser), new HttpContextStreamWriter<TResponse>(context), context);
}

/// <summary>
/// Reads request messages of a streaming call from the request body pipe. Messages already in the last read buffer
/// are taken without touching the pipe again (each TryRead/AdvanceTo takes the pipe's lock); the buffer is handed back
/// only when it holds no complete message.
/// </summary>
internal sealed class HttpContextStreamReader<T>(HttpContextServerCallContext context, MessageParser<T> parser) : IAsyncStreamReader<T>
    where T : class, IMessage<T>
{
    private static readonly Task<bool> s_true = Task.FromResult(true);
    private static readonly Task<bool> s_false = Task.FromResult(false);
    private readonly PipeReader _reader = context.HttpContext.Request.BodyReader;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private bool _bufferIsFinal;
    private T? _current;
    private bool _completed;

    public T Current => _current ?? throw new InvalidOperationException("No current message; call MoveNext first.");

    public Task<bool> MoveNext(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return s_false;
        }
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<bool>(cancellationToken);
        }
        // Sync fast path: a whole message in the buffer we hold (several often share one DATA frame).
        if (_holdingBuffer && TryTakeFromHeld())
        {
            return s_true;
        }
        if (_completed)
        {
            return s_false;
        }
        if (_reader.TryRead(out var result))
        {
            Hold(result);
            if (TryTakeFromHeld())
            {
                return s_true;
            }
            if (_completed)
            {
                return s_false;
            }
        }
        return MoveNextSlowAsync(cancellationToken);
    }

    private async Task<bool> MoveNextSlowAsync(CancellationToken cancellationToken)
    {
        var callToken = context.CancellationToken;
        var idleTimeout = context.Options.StreamIdleTimeout;
        using var linked = (cancellationToken.CanBeCanceled && cancellationToken != callToken) || idleTimeout is not null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken)
            : null;
        if (idleTimeout is { } idle)
        {
            linked!.CancelAfter(idle);
        }

        var token = linked?.Token ?? callToken;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (idleTimeout is not null && !callToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // The idle timer fired, not the client or the caller: end the call with a status the client can act on.
                throw new RpcException(new Status(StatusCode.Unavailable, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"no request message for {idleTimeout.Value.TotalSeconds:0.###} s; the server ends idle request streams, open a new stream")));
            }

            if (result.IsCanceled)
            {
                _reader.AdvanceTo(result.Buffer.Start);
                throw new OperationCanceledException("Reading the request stream was cancelled.");
            }
            Hold(result);
            if (TryTakeFromHeld())
            {
                return true;
            }
            if (_completed)
            {
                return false;
            }
        }
    }

    private void Hold(ReadResult result)
    {
        _buffer = result.Buffer;
        _bufferIsFinal = result.IsCompleted;
        _holdingBuffer = true;
    }

    /// <summary>
    /// Takes one message from the held buffer. When none is complete, hands the buffer back to the pipe (all of it
    /// examined, so the next read waits for more data) and, at end of stream, finishes or fails with an incomplete message.
    /// </summary>
    private bool TryTakeFromHeld()
    {
        var buffer = _buffer;
        bool found;
        bool compressed;
        ReadOnlySequence<byte> payload;
        try
        {
            found = MessageFraming.TryReadMessage(ref buffer, context.Options.MaxReceiveMessageSize, out compressed, out payload);
        }
        catch
        {
            Release(_buffer.Start);
            throw;
        }
        if (found)
        {
            try
            {
                // Parsing copies what it keeps, so the pipe's memory may be reused once released.
                _current = MessageFraming.Deserialize(parser, payload, compressed, context.RequestEncoding, context.Options.MaxDecompressedMessageSize, "request");
            }
            catch
            {
                Release(_buffer.Start);
                throw;
            }
            _buffer = buffer;
            return true;
        }
        var final = _bufferIsFinal;
        Release(buffer.Start);
        if (final)
        {
            if (buffer.Length != 0)
            {
                // PROTOCOL-HTTP2.md: EOS in the middle of a message.
                MessageFraming.Throw(MessageFraming.IncompleteMessageStatus);
            }
            _completed = true;
        }
        return false;
    }

    private void Release(SequencePosition consumed)
    {
        _holdingBuffer = false;
        _reader.AdvanceTo(consumed, _buffer.End);
        _buffer = default;
    }
}

/// <summary>Writes response messages of a streaming call, flushing each one.</summary>
internal sealed class HttpContextStreamWriter<T>(HttpContextServerCallContext context) : IServerStreamWriter<T>
    where T : class, IMessage<T>
{
    public Task WriteAsync(T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var response = context.HttpContext.Response;
        if (!response.HasStarted)
        {
            return StartThenWriteAsync(message, cancellationToken);
        }
        return WriteCoreAsync(message, cancellationToken);
    }

    private async Task StartThenWriteAsync(T message, CancellationToken cancellationToken)
    {
        context.EnsureWritable();
        await context.HttpContext.Response.StartAsync(cancellationToken).ConfigureAwait(false);
        await WriteCoreAsync(message, cancellationToken).ConfigureAwait(false);
    }

    private Task WriteCoreAsync(T message, CancellationToken cancellationToken)
    {
        var writer = context.HttpContext.Response.BodyWriter;
        lock (context.SyncRoot)
        {
            context.EnsureWritable();
            MessageFraming.WriteMessage(writer, message, context.Options.MaxSendMessageSize, context.ResponseGzip);
        }
        // No call token here: Kestrel already fails a pending flush when the request is aborted, and registering a
        // callback on every flush measurably slowed bidi streams (benchmarks/OptOutRegistry.Benchmarks.Grpc/RESULTS.md).
        var flush = writer.FlushAsync(cancellationToken);
        if (flush.IsCompletedSuccessfully)
        {
            CheckFlush(flush.Result);
            return Task.CompletedTask;
        }
        return AwaitFlushAsync(flush);
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        CheckFlush(await flush.ConfigureAwait(false));
    }

    private void CheckFlush(FlushResult result)
    {
        // aspnetcore#40788: a flush after the client reset may report neither cancellation nor an error.
        if (result.IsCanceled || (!result.IsCompleted && context.CancellationToken.IsCancellationRequested))
        {
            throw new OperationCanceledException("The call was cancelled while writing.", context.CancellationToken);
        }
    }
}

/// <summary>Protocol checks shared by every endpoint (PROTOCOL-HTTP2.md "Requests"; grpc-dotnet ServerCallHandlerBase).</summary>
internal static class ServerProtocol
{
    public static bool ValidateRequest(HttpContext httpContext, Microsoft.Extensions.Logging.ILogger logger)
    {
        var request = httpContext.Request;
        if (!HttpProtocol.IsHttp2(request.Protocol) && !HttpProtocol.IsHttp3(request.Protocol))
        {
            // gRPC needs HTTP/2 trailers: answer 426 Upgrade Required, plus a gRPC status for clients that read it.
            var response = httpContext.Response;
            response.StatusCode = StatusCodes.Status426UpgradeRequired;
            response.Headers.Upgrade = "HTTP/2";
            response.Headers.Connection = "Upgrade";
            WriteErrorHeaders(response, StatusCode.Internal, $"Request protocol '{request.Protocol}' is not supported.");
            GrpcServerLog.RequestRejected(logger, request.Path, $"protocol {request.Protocol}");
            return false;
        }
        if (!GrpcProtocolHelpers.IsGrpcContentType(request.ContentType))
        {
            // PROTOCOL-HTTP2.md: servers SHOULD answer 415 so plain HTTP clients do not take a gRPC error (HTTP 200) for success.
            var detail = request.ContentType is null
                ? "Content-Type is missing from the request."
                : $"Content-Type '{request.ContentType}' is not supported.";
            httpContext.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            WriteErrorHeaders(httpContext.Response, StatusCode.Internal, detail);
            GrpcServerLog.RequestRejected(logger, request.Path, detail);
            return false;
        }
        return true;
    }

    /// <summary>A trailers-only response (one HEADERS frame with END_STREAM) carrying <paramref name="code"/>.</summary>
    public static void WriteErrorHeaders(HttpResponse response, StatusCode code, string detail)
    {
        response.ContentType = GrpcProtocolConstants.GrpcContentType;
        response.Headers[GrpcProtocolConstants.StatusTrailer] = GrpcProtocolConstants.StatusValue(code);
        response.Headers[GrpcProtocolConstants.MessageTrailer] = PercentEncoding.Encode(detail);
    }

    /// <summary>Answers UNIMPLEMENTED as a trailers-only 200 response (grpc-dotnet ServerCallHandlerFactory).</summary>
    public static Task WriteUnimplemented(HttpContext httpContext, string detail, Microsoft.Extensions.Logging.ILogger logger)
    {
        if (!ValidateRequest(httpContext, logger))
        {
            return Task.CompletedTask;
        }
        WriteErrorHeaders(httpContext.Response, StatusCode.Unimplemented, detail);
        return Task.CompletedTask;
    }
}
