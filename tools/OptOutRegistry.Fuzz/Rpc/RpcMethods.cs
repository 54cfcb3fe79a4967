using Google.Protobuf.Reflection;

namespace OptOutRegistry.Fuzz.Rpc;

/// <summary>One RPC the server exposes.</summary>
/// <param name="Path">HTTP/2 :path, e.g. <c>/optout.v1.Check/CheckBatch</c>.</param>
/// <param name="Method">Its descriptor (request and response types).</param>
public sealed record RpcMethod(string Path, MethodDescriptor Method)
{
    /// <summary>Whether the response is a stream the server may hold open (then the call carries a short deadline).</summary>
    public bool ServerStreaming => Method.IsServerStreaming;

    /// <inheritdoc />
    public override string ToString() => Path;
}

/// <summary>Every RPC of Registry, Check, Feed, Health and both Reflection versions, read from the descriptors.</summary>
public static class RpcMethods
{
    /// <summary>The files whose services the server maps.</summary>
    public static IReadOnlyList<FileDescriptor> Files { get; } =
    [
        Api.V1.RegistryReflection.Descriptor,
        Api.V1.CheckReflection.Descriptor,
        Api.V1.FeedReflection.Descriptor,
        global::Grpc.Health.V1.HealthReflection.Descriptor,
        global::Grpc.Reflection.V1.ReflectionReflection.Descriptor,
        global::Grpc.Reflection.V1Alpha.ReflectionReflection.Descriptor,
    ];

    /// <summary>All methods, in a stable order.</summary>
    public static IReadOnlyList<RpcMethod> All { get; } = Build();

    /// <summary>The health check used after every batch.</summary>
    public static RpcMethod HealthCheck { get; } = Find("/grpc.health.v1.Health/Check");

    /// <summary>The method with <paramref name="path"/>.</summary>
    public static RpcMethod Find(string path)
    {
        foreach (var method in All)
        {
            if (method.Path == path)
            {
                return method;
            }
        }

        throw new ArgumentException($"no RPC {path}", nameof(path));
    }

    private static List<RpcMethod> Build()
    {
        var methods = new List<RpcMethod>();
        foreach (var file in Files)
        {
            foreach (var service in file.Services)
            {
                foreach (var method in service.Methods)
                {
                    methods.Add(new RpcMethod("/" + service.FullName + "/" + method.Name, method));
                }
            }
        }

        return methods;
    }
}
