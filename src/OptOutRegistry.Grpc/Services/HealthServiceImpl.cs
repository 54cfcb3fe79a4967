using Grpc.Health.V1;

namespace OptOutRegistry.Grpc.Services;

/// <summary>grpc/grpc doc/health-checking.md over <see cref="HealthStatusRegistry"/>.</summary>
internal sealed class HealthServiceImpl(HealthStatusRegistry registry)
{
    public Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        var status = registry.GetStatus(request.Service)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Service '{request.Service}' is unknown."));
        return Task.FromResult(new HealthCheckResponse { Status = (HealthCheckResponse.Types.ServingStatus)status });
    }

    public async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        var token = context.CancellationToken;
        var reader = registry.Watch(request.Service, token);
        ServingStatus? last = null;
        // Ends when the client goes away or the deadline passes (the token is cancelled).
        await foreach (var status in reader.ReadAllAsync(token).ConfigureAwait(false))
        {
            if (status == last)
            {
                continue;
            }
            last = status;
            await responseStream.WriteAsync(new HealthCheckResponse { Status = (HealthCheckResponse.Types.ServingStatus)status }, token).ConfigureAwait(false);
        }
    }
}
