using Google.Protobuf.Reflection;

namespace OptOutRegistry.Grpc.Internal;

/// <summary>The services mapped on this server, for reflection and for the UNIMPLEMENTED answers.</summary>
internal sealed class GrpcServiceRegistry
{
    private readonly object _lock = new();
    private readonly List<ServiceDescriptor> _services = new();
    private readonly HashSet<object> _unimplementedMapped = new(ReferenceEqualityComparer.Instance);
    private volatile HashSet<string> _serviceNames = new(StringComparer.Ordinal);

    public void Add(ServiceDescriptor service)
    {
        lock (_lock)
        {
            if (_serviceNames.Contains(service.FullName))
            {
                throw new InvalidOperationException($"Service '{service.FullName}' is mapped twice.");
            }
            _services.Add(service);
            _serviceNames = new HashSet<string>(_serviceNames, StringComparer.Ordinal) { service.FullName };
            Version++;
        }
    }

    public int Version { get; private set; }

    public bool IsKnownService(string name) => _serviceNames.Contains(name);

    public IReadOnlyList<ServiceDescriptor> Snapshot()
    {
        lock (_lock)
        {
            return _services.ToArray();
        }
    }

    public bool TryClaimUnimplementedEndpoint(object routeBuilder)
    {
        lock (_lock)
        {
            return _unimplementedMapped.Add(routeBuilder);
        }
    }
}
