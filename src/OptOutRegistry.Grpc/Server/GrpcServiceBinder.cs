using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Internal;

namespace OptOutRegistry.Grpc;

/// <summary>Collects the handlers of one protobuf service for <see cref="GrpcEndpointRouteBuilderExtensions.MapGrpcService"/>.</summary>
public sealed class GrpcServiceBinder
{
    private readonly ServiceDescriptor _service;
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, RequestDelegate> _bound = new(StringComparer.Ordinal);

    internal GrpcServiceBinder(ServiceDescriptor service, GrpcServerOptions options, ILogger logger)
    {
        _service = service;
        _options = options;
        _logger = logger;
    }

    internal IReadOnlyDictionary<string, RequestDelegate> Bound => _bound;

    /// <summary>Binds a unary method.</summary>
    public GrpcServiceBinder Unary<TRequest, TResponse>(string methodName, UnaryServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        var info = Check<TRequest, TResponse>(methodName, MethodType.Unary);
        return Add(methodName, new UnaryServerCallHandler<TRequest, TResponse>(info, handler).HandleCallAsync);
    }

    /// <summary>
    /// Binds a unary method with a fast path over the serialised request (<see cref="RawUnaryServerMethod"/>), answering
    /// with a self-serialising message; requests the fast path declines, compressed requests and calls whose response is
    /// compressed go to <paramref name="handler"/> as usual. Both must give the same answer for the same request.
    /// </summary>
    public GrpcServiceBinder Unary<TRequest, TResponse>(string methodName, RawUnaryServerMethod fastPath, UnaryServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(fastPath);
        ArgumentNullException.ThrowIfNull(handler);
        var info = Check<TRequest, TResponse>(methodName, MethodType.Unary);
        return Add(methodName, new FastUnaryServerCallHandler<TRequest, TResponse>(info, fastPath, handler).HandleCallAsync);
    }

    /// <summary>Binds a server-streaming method.</summary>
    public GrpcServiceBinder ServerStreaming<TRequest, TResponse>(string methodName, ServerStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        var info = Check<TRequest, TResponse>(methodName, MethodType.ServerStreaming);
        return Add(methodName, new ServerStreamingServerCallHandler<TRequest, TResponse>(info, handler).HandleCallAsync);
    }

    /// <summary>Binds a client-streaming method.</summary>
    public GrpcServiceBinder ClientStreaming<TRequest, TResponse>(string methodName, ClientStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        var info = Check<TRequest, TResponse>(methodName, MethodType.ClientStreaming);
        return Add(methodName, new ClientStreamingServerCallHandler<TRequest, TResponse>(info, handler).HandleCallAsync);
    }

    /// <summary>Binds a bidirectional-streaming method.</summary>
    public GrpcServiceBinder DuplexStreaming<TRequest, TResponse>(string methodName, DuplexStreamingServerMethod<TRequest, TResponse> handler)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        ArgumentNullException.ThrowIfNull(handler);
        var info = Check<TRequest, TResponse>(methodName, MethodType.DuplexStreaming);
        return Add(methodName, new DuplexStreamingServerCallHandler<TRequest, TResponse>(info, handler).HandleCallAsync);
    }

    private ServerMethodInfo Check<TRequest, TResponse>(string methodName, MethodType expected)
    {
        var method = MethodDescriptorHelpers.Resolve(_service, methodName, typeof(TRequest), typeof(TResponse));
        var actual = MethodDescriptorHelpers.GetMethodType(method);
        if (actual != expected)
        {
            throw new InvalidOperationException($"Method '{_service.FullName}/{methodName}' is {actual} in its descriptor but was bound as {expected}.");
        }
        if (_bound.ContainsKey(methodName))
        {
            throw new InvalidOperationException($"Method '{_service.FullName}/{methodName}' is bound twice.");
        }
        return new ServerMethodInfo("/" + _service.FullName + "/" + methodName, expected, _options, _logger);
    }

    private GrpcServiceBinder Add(string methodName, RequestDelegate handler)
    {
        _bound.Add(methodName, handler);
        return this;
    }
}
