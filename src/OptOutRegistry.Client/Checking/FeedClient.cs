using System.Runtime.CompilerServices;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>Typed client of the public, read-only <c>optout.v1.Feed</c> service.</summary>
public sealed class FeedClient : IDisposable
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor Service = Pb.FeedReflection.Descriptor.Services[0];
    private static readonly Method<Pb.WatchEventsRequest, Pb.Event> WatchEventsMethod = Method<Pb.WatchEventsRequest, Pb.Event>.Create(Service, "WatchEvents");
    private static readonly Method<Pb.GetTreeHeadRequest, Pb.SignedTreeHead> GetTreeHeadMethod = Method<Pb.GetTreeHeadRequest, Pb.SignedTreeHead>.Create(Service, "GetTreeHead");
    private static readonly Method<Pb.GetInclusionProofRequest, Pb.InclusionProof> GetInclusionProofMethod = Method<Pb.GetInclusionProofRequest, Pb.InclusionProof>.Create(Service, "GetInclusionProof");
    private static readonly Method<Pb.GetConsistencyProofRequest, Pb.ConsistencyProof> GetConsistencyProofMethod = Method<Pb.GetConsistencyProofRequest, Pb.ConsistencyProof>.Create(Service, "GetConsistencyProof");
    private static readonly Method<Pb.GetPublicKeyRequest, Pb.PublicKey> GetPublicKeyMethod = Method<Pb.GetPublicKeyRequest, Pb.PublicKey>.Create(Service, "GetPublicKey");
    private static readonly Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk> GetSnapshotMethod = Method<Pb.GetSnapshotRequest, Pb.SnapshotChunk>.Create(Service, "GetSnapshot");

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;

    /// <summary>A client over an existing channel (not disposed with the client).</summary>
    public FeedClient(GrpcChannel channel)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
    }

    private FeedClient(GrpcChannel channel, bool ownsChannel)
        : this(channel)
    {
        _ownsChannel = ownsChannel;
    }

    /// <summary>A client for the registry at <paramref name="address"/>.</summary>
    public static FeedClient Create(string address) => new(GrpcChannel.ForAddress(address), ownsChannel: true);

    /// <summary>
    /// The events from <paramref name="fromSequence"/> on: the stored ones, then (unless <paramref name="stopAtEnd"/>)
    /// new ones as they are committed. To resume after a break, call again from the last received sequence + 1.
    /// </summary>
    public async IAsyncEnumerable<Pb.Event> WatchEventsAsync(long fromSequence, bool stopAtEnd = false,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var call = _channel.ServerStreaming(WatchEventsMethod, new Pb.WatchEventsRequest { FromSequence = fromSequence, StopAtEnd = stopAtEnd },
            new CallOptions(CancellationToken: cancellationToken));
        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return call.ResponseStream.Current;
        }
    }

    /// <summary>The latest signed tree head.</summary>
    public Task<Pb.SignedTreeHead> GetTreeHeadAsync(CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(GetTreeHeadMethod, new Pb.GetTreeHeadRequest(), new CallOptions(CancellationToken: cancellationToken));

    /// <summary>An inclusion proof of a leaf in the tree of <paramref name="treeSize"/> leaves (0 = latest).</summary>
    public Task<Pb.InclusionProof> GetInclusionProofAsync(long leafIndex, long treeSize = 0, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(GetInclusionProofMethod, new Pb.GetInclusionProofRequest { LeafIndex = leafIndex, TreeSize = treeSize },
            new CallOptions(CancellationToken: cancellationToken));

    /// <summary>A consistency proof between two tree sizes (<paramref name="secondSize"/> 0 = latest).</summary>
    public Task<Pb.ConsistencyProof> GetConsistencyProofAsync(long firstSize, long secondSize = 0, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(GetConsistencyProofMethod, new Pb.GetConsistencyProofRequest { FirstSize = firstSize, SecondSize = secondSize },
            new CallOptions(CancellationToken: cancellationToken));

    /// <summary>The registry's signing key.</summary>
    public Task<Pb.PublicKey> GetPublicKeyAsync(CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(GetPublicKeyMethod, new Pb.GetPublicKeyRequest(), new CallOptions(CancellationToken: cancellationToken));

    /// <summary>
    /// Downloads a snapshot (full, or with <paramref name="sinceSequence"/> a delta) into <paramref name="destination"/>
    /// and returns its sequence. The bytes are written as received; verify them with <c>SnapshotReader</c>.
    /// </summary>
    public async Task<long> DownloadSnapshotAsync(Stream destination, long? sinceSequence = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var request = new Pb.GetSnapshotRequest { SinceSequence = sinceSequence };

        using var call = _channel.ServerStreaming(GetSnapshotMethod, request, new CallOptions(CancellationToken: cancellationToken));
        var asOf = -1L;
        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            var chunk = call.ResponseStream.Current;
            asOf = chunk.AsOfSequence;
            await destination.WriteAsync(chunk.Data.Memory, cancellationToken).ConfigureAwait(false);
        }

        return asOf;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsChannel)
        {
            _channel.Dispose();
        }
    }
}
