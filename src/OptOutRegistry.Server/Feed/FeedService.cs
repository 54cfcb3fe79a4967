using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Replication;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Feed;

/// <summary>The <c>optout.v1.Feed</c> gRPC service (feed.proto): public and read-only.</summary>
public sealed class FeedService(IServiceProvider services, ReplicaOptions replica)
{
    /// <summary>Snapshot chunk size: 1 MiB, well under the 4 MiB default message limit of gRPC clients.</summary>
    public const int ChunkSize = 1024 * 1024;

    private const int ReadBatch = 1000;

    /// <summary>Binds the service's methods.</summary>
    public void Bind(GrpcServiceBinder binder) => binder
        .ServerStreaming<Pb.WatchEventsRequest, Pb.Event>("WatchEvents", WatchEventsAsync)
        .Unary<Pb.GetTreeHeadRequest, Pb.SignedTreeHead>("GetTreeHead", GetTreeHeadAsync)
        .Unary<Pb.GetInclusionProofRequest, Pb.InclusionProof>("GetInclusionProof", GetInclusionProofAsync)
        .Unary<Pb.GetConsistencyProofRequest, Pb.ConsistencyProof>("GetConsistencyProof", GetConsistencyProofAsync)
        .Unary<Pb.GetPublicKeyRequest, Pb.PublicKey>("GetPublicKey", GetPublicKeyAsync)
        .ServerStreaming<Pb.GetSnapshotRequest, Pb.SnapshotChunk>("GetSnapshot", GetSnapshotAsync);

    private async Task WatchEventsAsync(Pb.WatchEventsRequest request, IServerStreamWriter<Pb.Event> responses, ServerCallContext context)
    {
        var store = Store();
        if (request.FromSequence < 0)
        {
            throw Invalid($"from_sequence: {request.FromSequence} is negative");
        }

        var ct = context.CancellationToken;
        if (request.StopAtEnd)
        {
            for (var from = request.FromSequence; ;)
            {
                var events = await store.ReadEventsAsync(from, ReadBatch, ct);
                if (events.Count == 0)
                {
                    return;
                }

                foreach (var committed in events)
                {
                    await responses.WriteAsync(StoredEvents.ToProto(committed), ct);
                }

                from = events[^1].Sequence + 1;
            }
        }

        await foreach (var committed in store.TailEventsAsync(request.FromSequence, ct))
        {
            await responses.WriteAsync(StoredEvents.ToProto(committed), ct);
        }
    }

    private async Task<Pb.SignedTreeHead> GetTreeHeadAsync(Pb.GetTreeHeadRequest request, ServerCallContext context)
    {
        var head = await Store().GetTreeHeadAsync(context.CancellationToken);
        var signed = Signing().TreeHeads.Sign(head.TreeSize, head.RootHash, DateTimeOffset.UtcNow);
        return new Pb.SignedTreeHead
        {
            TreeSize = signed.TreeSize,
            RootHash = ByteString.CopyFrom(signed.RootHash),
            Timestamp = Timestamp.FromDateTimeOffset(signed.Timestamp),
            Signature = ByteString.CopyFrom(signed.Signature),
            KeyFingerprint = signed.KeyFingerprint,
        };
    }

    private async Task<Pb.InclusionProof> GetInclusionProofAsync(Pb.GetInclusionProofRequest request, ServerCallContext context)
    {
        var store = Store();
        var ct = context.CancellationToken;
        var size = request.TreeSize == 0 ? (await store.GetTreeHeadAsync(ct)).TreeSize : request.TreeSize;
        if (request.LeafIndex < 0 || request.LeafIndex >= size)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, $"leaf_index: {request.LeafIndex} is not in a tree of {size} leaves"));
        }

        var hashes = await Proof(() => store.GetInclusionProofAsync(request.LeafIndex, size, ct), "tree_size");
        var proof = new Pb.InclusionProof { LeafIndex = request.LeafIndex, TreeSize = size };
        foreach (var h in hashes)
        {
            proof.Hashes.Add(ByteString.CopyFrom(h));
        }

        return proof;
    }

    private async Task<Pb.ConsistencyProof> GetConsistencyProofAsync(Pb.GetConsistencyProofRequest request, ServerCallContext context)
    {
        var store = Store();
        var ct = context.CancellationToken;
        var second = request.SecondSize == 0 ? (await store.GetTreeHeadAsync(ct)).TreeSize : request.SecondSize;
        if (request.FirstSize < 1 || request.FirstSize > second)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, $"first_size: {request.FirstSize} is not in 1..{second}"));
        }

        var hashes = await Proof(() => store.GetConsistencyProofAsync(request.FirstSize, second, ct), "second_size");
        var proof = new Pb.ConsistencyProof { FirstSize = request.FirstSize, SecondSize = second };
        foreach (var h in hashes)
        {
            proof.Hashes.Add(ByteString.CopyFrom(h));
        }

        return proof;
    }

    private Task<Pb.PublicKey> GetPublicKeyAsync(Pb.GetPublicKeyRequest request, ServerCallContext context)
    {
        var signer = Signing().TreeHeads;
        return Task.FromResult(new Pb.PublicKey
        {
            SpkiPem = signer.ExportPublicKeyPem(),
            Fingerprint = signer.KeyFingerprint,
            Algorithm = "ECDSA-P256-SHA256",
        });
    }

    private async Task GetSnapshotAsync(Pb.GetSnapshotRequest request, IServerStreamWriter<Pb.SnapshotChunk> responses, ServerCallContext context)
    {
        Store();
        var provider = services.GetRequiredService<SnapshotProvider>();
        Stream file;
        long asOf;
        try
        {
            (file, asOf) = await provider.OpenAsync(request.SinceSequence, context.CancellationToken);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, ex.Message.Split(" (Parameter")[0]));
        }

        await using (file)
        {
            var buffer = new byte[ChunkSize];
            var first = true;
            int read;
            while ((read = await file.ReadAsync(buffer, context.CancellationToken)) > 0)
            {
                var chunk = new Pb.SnapshotChunk { Data = ByteString.CopyFrom(buffer, 0, read), AsOfSequence = asOf };
                if (first)
                {
                    chunk.TotalSize = file.Length;
                    first = false;
                }

                await responses.WriteAsync(chunk, context.CancellationToken);
            }
        }
    }

    private IRegistryStore Store()
    {
        if (replica.FollowUrl is { } primary)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"read-only replica of {primary}: ask the primary for the feed"));
        }

        return services.GetService<IRegistryStore>()
            ?? throw new RpcException(new Status(StatusCode.Unavailable, "the registry store is not configured"));
    }

    private FeedSigning Signing() => services.GetRequiredService<FeedSigning>();

    private static async Task<byte[][]> Proof(Func<Task<byte[][]>> get, string field)
    {
        try
        {
            return await get();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange, $"{field}: {ex.Message.Split(" (Parameter")[0]}"));
        }
    }

    private static RpcException Invalid(string detail) => new(new Status(StatusCode.InvalidArgument, detail));
}
