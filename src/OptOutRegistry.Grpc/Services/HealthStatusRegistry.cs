using System.Threading.Channels;

namespace OptOutRegistry.Grpc;

/// <summary>Serving status of a service, as reported by <c>grpc.health.v1.Health</c>.</summary>
public enum ServingStatus
{
    /// <summary>Status not known.</summary>
    Unknown = 0,
    /// <summary>The service is serving requests.</summary>
    Serving = 1,
    /// <summary>The service is not serving requests.</summary>
    NotServing = 2,
    /// <summary>The service is not known to the server (Watch only).</summary>
    ServiceUnknown = 3,
}

/// <summary>
/// The serving status of each service for the health service. The empty name stands for the whole server and starts
/// as <see cref="ServingStatus.Serving"/>; each mapped service starts as Serving too. Registered by AddGrpcTransport.
/// </summary>
public sealed class HealthStatusRegistry
{
    private readonly object _lock = new();
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal) { [""] = ServingStatus.Serving };
    private readonly Dictionary<string, List<Channel<ServingStatus>>> _watchers = new(StringComparer.Ordinal);

    /// <summary>Sets the status of <paramref name="service"/> ("" = whole server) and notifies watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        ArgumentNullException.ThrowIfNull(service);
        lock (_lock)
        {
            _statuses[service] = status;
            Notify(service, status);
        }
    }

    /// <summary>Forgets <paramref name="service"/>: Check answers NOT_FOUND, watchers see SERVICE_UNKNOWN.</summary>
    public void ClearStatus(string service)
    {
        lock (_lock)
        {
            if (_statuses.Remove(service))
            {
                Notify(service, ServingStatus.ServiceUnknown);
            }
        }
    }

    /// <summary>The status of <paramref name="service"/>, or null when it is not known.</summary>
    public ServingStatus? GetStatus(string service)
    {
        lock (_lock)
        {
            return _statuses.TryGetValue(service, out var s) ? s : null;
        }
    }

    internal void SetStatusIfUnset(string service, ServingStatus status)
    {
        lock (_lock)
        {
            if (_statuses.TryAdd(service, status))
            {
                Notify(service, status);
            }
        }
    }

    /// <summary>Subscribes to changes; the channel first receives the current status (ServiceUnknown if none).</summary>
    internal ChannelReader<ServingStatus> Watch(string service, CancellationToken cancellationToken)
    {
        // Only the latest status matters to a watcher that falls behind.
        var channel = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_lock)
        {
            channel.Writer.TryWrite(_statuses.TryGetValue(service, out var s) ? s : ServingStatus.ServiceUnknown);
            if (!_watchers.TryGetValue(service, out var list))
            {
                list = new List<Channel<ServingStatus>>();
                _watchers[service] = list;
            }
            list.Add(channel);
        }
        cancellationToken.Register(() =>
        {
            lock (_lock)
            {
                if (_watchers.TryGetValue(service, out var list))
                {
                    list.Remove(channel);
                    if (list.Count == 0)
                    {
                        _watchers.Remove(service);
                    }
                }
            }
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    private void Notify(string service, ServingStatus status)
    {
        if (_watchers.TryGetValue(service, out var list))
        {
            foreach (var channel in list)
            {
                channel.Writer.TryWrite(status);
            }
        }
    }
}
