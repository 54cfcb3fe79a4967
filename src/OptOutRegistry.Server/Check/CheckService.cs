using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Check;

/// <summary>The <c>optout.v1.Check</c> gRPC service (check.proto).</summary>
public sealed class CheckService(CheckEngine engine, CheckAccess access)
{
    private readonly CheckBatchFastPath _fast = new(engine, access);

    /// <summary>Binds the service's methods.</summary>
    public void Bind(GrpcServiceBinder binder) => binder
        .Unary<Pb.CheckBatchRequest, Pb.CheckBatchResponse>("CheckBatch", _fast.TryCheckBatch, CheckBatchAsync)
        .DuplexStreaming<Pb.CheckBatchRequest, Pb.CheckBatchResponse>("CheckStream", CheckStreamAsync)
        .Unary<Pb.ExplainRequest, Pb.ExplainResponse>("Explain", ExplainAsync);

    private Task<Pb.CheckBatchResponse> CheckBatchAsync(Pb.CheckBatchRequest request, ServerCallContext context)
    {
        var admitted = access.AdmitAsync(context.HttpContext, request.Subjects.Count);
        if (admitted.IsCompletedSuccessfully)
        {
            return Task.FromResult(engine.CheckBatch(request));
        }

        return Slow(engine, admitted, request);

        static async Task<Pb.CheckBatchResponse> Slow(CheckEngine engine, ValueTask admitted, Pb.CheckBatchRequest request)
        {
            await admitted;
            return engine.CheckBatch(request);
        }
    }

    // A continuous crawl: one response per request, in order. Each request is admitted on its own, so a stream is rate
    // limited exactly like the same batches sent as unary calls.
    private async Task CheckStreamAsync(
        IAsyncStreamReader<Pb.CheckBatchRequest> requests, IServerStreamWriter<Pb.CheckBatchResponse> responses, ServerCallContext context)
    {
        while (await requests.MoveNext(context.CancellationToken))
        {
            var request = requests.Current;
            await access.AdmitAsync(context.HttpContext, request.Subjects.Count);
            await responses.WriteAsync(engine.CheckBatch(request), context.CancellationToken);
        }
    }

    private async Task<Pb.ExplainResponse> ExplainAsync(Pb.ExplainRequest request, ServerCallContext context)
    {
        await access.AdmitAsync(context.HttpContext, 1);
        return engine.Explain(request);
    }
}
