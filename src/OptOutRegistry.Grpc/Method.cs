using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OptOutRegistry.Grpc;

/// <summary>The four kinds of gRPC methods.</summary>
public enum MethodType
{
    /// <summary>One request, one response.</summary>
    Unary,
    /// <summary>A stream of requests, one response.</summary>
    ClientStreaming,
    /// <summary>One request, a stream of responses.</summary>
    ServerStreaming,
    /// <summary>Streams both ways.</summary>
    DuplexStreaming,
}

/// <summary>A method the client can call, validated against its protobuf service descriptor.</summary>
public sealed class Method<TRequest, TResponse>
    where TRequest : class, IMessage<TRequest>, new()
    where TResponse : class, IMessage<TResponse>, new()
{
    internal static readonly MessageParser<TResponse> ResponseParser = new(static () => new TResponse());
    internal static readonly MessageParser<TRequest> RequestParser = new(static () => new TRequest());

    private Method(string serviceName, string name, MethodType type)
    {
        ServiceName = serviceName;
        Name = name;
        Type = type;
        FullName = "/" + serviceName + "/" + name;
    }

    /// <summary>The full service name, <c>package.Service</c>.</summary>
    public string ServiceName { get; }

    /// <summary>The method name.</summary>
    public string Name { get; }

    /// <summary>The request path, <c>/package.Service/Method</c>.</summary>
    public string FullName { get; }

    /// <summary>The kind of method.</summary>
    public MethodType Type { get; }

    /// <summary>
    /// Creates the method <paramref name="methodName"/> of <paramref name="service"/>, checking that it exists and that its
    /// message types are <typeparamref name="TRequest"/> and <typeparamref name="TResponse"/>.
    /// </summary>
    public static Method<TRequest, TResponse> Create(ServiceDescriptor service, string methodName)
    {
        var descriptor = MethodDescriptorHelpers.Resolve(service, methodName, typeof(TRequest), typeof(TResponse));
        return new Method<TRequest, TResponse>(service.FullName, methodName, MethodDescriptorHelpers.GetMethodType(descriptor));
    }

    /// <summary>Creates a method without a descriptor check (for calling services whose descriptor is not compiled in).</summary>
    public static Method<TRequest, TResponse> Create(string serviceName, string methodName, MethodType type)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(methodName);
        return new Method<TRequest, TResponse>(serviceName, methodName, type);
    }

    /// <inheritdoc />
    public override string ToString() => FullName;
}

internal static class MethodDescriptorHelpers
{
    public static MethodType GetMethodType(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => MethodType.Unary,
        (true, false) => MethodType.ClientStreaming,
        (false, true) => MethodType.ServerStreaming,
        _ => MethodType.DuplexStreaming,
    };

    public static MethodDescriptor Resolve(ServiceDescriptor service, string methodName, Type requestType, Type responseType)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentException.ThrowIfNullOrEmpty(methodName);
        var method = service.FindMethodByName(methodName)
            ?? throw new InvalidOperationException($"Service '{service.FullName}' has no method '{methodName}'.");
        if (method.InputType.ClrType != requestType)
        {
            throw new InvalidOperationException($"Method '{service.FullName}/{methodName}' takes '{method.InputType.FullName}' ({method.InputType.ClrType?.FullName}), not {requestType.FullName}.");
        }
        if (method.OutputType.ClrType != responseType)
        {
            throw new InvalidOperationException($"Method '{service.FullName}/{methodName}' returns '{method.OutputType.FullName}' ({method.OutputType.ClrType?.FullName}), not {responseType.FullName}.");
        }
        return method;
    }
}
