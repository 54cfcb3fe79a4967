using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>Our implementation of the interop test service (tests/interop/protos/interop_test.proto).</summary>
public sealed class InteropTestService
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<OutcomeResult>> _outcomes = new();

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints, InteropTestService service)
        => endpoints.MapGrpcService(InteropTestReflection.Descriptor.Services[0], b => b
            .Unary<EchoRequest, EchoResponse>("UnaryEcho", service.UnaryEcho)
            .ServerStreaming<StreamRequest, EchoResponse>("ServerStream", service.ServerStream)
            .ClientStreaming<EchoRequest, Summary>("ClientStream", service.ClientStream)
            .DuplexStreaming<EchoRequest, EchoResponse>("Bidi", service.Bidi)
            .Unary<SleepRequest, EchoResponse>("Sleep", service.Sleep)
            .Unary<FailRequest, EchoResponse>("Fail", service.Fail)
            .Unary<EchoRequest, EchoResponse>("Throw", service.Throw)
            .Unary<EchoRequest, MetadataResponse>("EchoMetadata", service.EchoMetadata)
            .Unary<OutcomeQuery, OutcomeResult>("SleepOutcome", service.SleepOutcome));

    public Task<EchoResponse> UnaryEcho(EchoRequest request, ServerCallContext context)
    {
        var payload = request.ResponseSize > 0 ? ByteString.CopyFrom(new byte[request.ResponseSize]) : request.Payload;
        return Task.FromResult(new EchoResponse { Message = request.Message, Payload = payload });
    }

    public async Task ServerStream(StreamRequest request, IServerStreamWriter<EchoResponse> stream, ServerCallContext context)
    {
        for (var i = 0; i < request.Count; i++)
        {
            if (request.FailAfter >= 0 && i == request.FailAfter)
            {
                throw new RpcException(new Status((StatusCode)request.FailCode, $"failed after {i} messages: {request.Message}"));
            }
            if (request.DelayMs > 0)
            {
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
            await stream.WriteAsync(new EchoResponse { Message = $"{request.Message}{i}", Payload = ByteString.CopyFrom(new byte[request.PayloadSize]) });
        }
        if (request.FailAfter >= 0 && request.FailAfter == request.Count)
        {
            throw new RpcException(new Status((StatusCode)request.FailCode, $"failed after {request.Count} messages: {request.Message}"));
        }
    }

    public async Task<Summary> ClientStream(IAsyncStreamReader<EchoRequest> requests, ServerCallContext context)
    {
        var summary = new Summary();
        var joined = new List<string>();
        await foreach (var request in requests.ReadAllAsync(context.CancellationToken))
        {
            summary.Count++;
            summary.TotalBytes += request.Payload.Length;
            joined.Add(request.Message);
        }
        summary.Joined = string.Join(",", joined);
        return summary;
    }

    public async Task Bidi(IAsyncStreamReader<EchoRequest> requests, IServerStreamWriter<EchoResponse> responses, ServerCallContext context)
    {
        while (await requests.MoveNext(context.CancellationToken))
        {
            var r = requests.Current;
            await responses.WriteAsync(new EchoResponse { Message = r.Message, Payload = r.Payload });
        }
    }

    public async Task<EchoResponse> Sleep(SleepRequest request, ServerCallContext context)
    {
        var outcome = _outcomes.GetOrAdd(request.Id, _ => new TaskCompletionSource<OutcomeResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await Task.Delay(request.Ms, context.CancellationToken);
            outcome.TrySetResult(new OutcomeResult { Seen = true, Completed = true });
            return new EchoResponse { Message = "slept", ServerTime = Timestamp.FromDateTime(DateTime.UtcNow) };
        }
        catch (OperationCanceledException)
        {
            outcome.TrySetResult(new OutcomeResult { Seen = true, Cancelled = true });
            throw;
        }
    }

    public Task<EchoResponse> Fail(FailRequest request, ServerCallContext context)
    {
        var trailers = new Metadata { { "fail-reason", "requested" }, { "fail-detail-bin", new byte[] { 0, 1, 2, 255 } } };
        throw new RpcException(new Status((StatusCode)request.Code, request.Message), trailers);
    }

    public Task<EchoResponse> Throw(EchoRequest request, ServerCallContext context)
        => throw new InvalidOperationException("secret internal detail " + request.Message);

    public async Task<MetadataResponse> EchoMetadata(EchoRequest request, ServerCallContext context)
    {
        var response = new MetadataResponse();
        var echoHeaders = new Metadata();
        foreach (var entry in context.RequestHeaders)
        {
            response.Pairs.Add(entry.IsBinary
                ? new MetadataPair { Key = entry.Key, ValueBytes = ByteString.CopyFrom(entry.ValueBytes) }
                : new MetadataPair { Key = entry.Key, Value = entry.Value });
            if (entry.Key.StartsWith("echo-", StringComparison.Ordinal))
            {
                echoHeaders.Add(entry);
                context.ResponseTrailers.Add(entry);
            }
        }
        await context.WriteResponseHeadersAsync(echoHeaders);
        return response;
    }

    public async Task<OutcomeResult> SleepOutcome(OutcomeQuery query, ServerCallContext context)
    {
        var outcome = _outcomes.GetOrAdd(query.Id, _ => new TaskCompletionSource<OutcomeResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        var done = await Task.WhenAny(outcome.Task, Task.Delay(query.WaitMs, context.CancellationToken));
        return done == outcome.Task ? outcome.Task.Result : new OutcomeResult();
    }
}
