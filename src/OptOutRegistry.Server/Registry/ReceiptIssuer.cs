using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Server.Mapping;
using OptOutRegistry.Storage;
using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Registry;

/// <summary>
/// Builds receipts (DESIGN.md "Evidence"): the committed event, its exact leaf bytes, a freshly signed tree head that
/// includes it and the RFC 9162 inclusion proof. Anyone with the registry's public key can verify one offline
/// (OptOutRegistry.Client.Receipts.ReceiptVerifier, <c>optout verify-receipt</c>).
/// </summary>
public sealed class ReceiptIssuer
{
    private readonly IRegistryStore _store;
    private readonly TreeHeadSigner _signer;
    private readonly TimeProvider _time;

    /// <summary>Creates the issuer.</summary>
    public ReceiptIssuer(IRegistryStore store, TreeHeadSigner signer, TimeProvider? time = null)
    {
        _store = store;
        _signer = signer;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The receipt of a committed event against the current tree.</summary>
    public async Task<Pb.Receipt> IssueAsync(CommittedEvent committed, CancellationToken cancellationToken)
    {
        var head = await _store.GetTreeHeadAsync(cancellationToken).ConfigureAwait(false);
        // The log only grows, so the current head always includes an event that was committed before we read it.
        var proof = await _store.GetInclusionProofAsync(committed.Sequence, head.TreeSize, cancellationToken).ConfigureAwait(false);
        var signed = _signer.Sign(head.TreeSize, head.RootHash, _time.GetUtcNow());
        var @event = EventMapping.ToApi(committed);
        var receipt = new Pb.Receipt
        {
            Event = @event,
            LeafData = ByteString.CopyFrom(committed.EncodeLeaf()),
            TreeHead = ToApi(signed),
            InclusionProof = new Pb.InclusionProof { LeafIndex = committed.Sequence, TreeSize = head.TreeSize },
            ReservationId = EventMapping.ReservationId(@event),
        };
        foreach (var hash in proof)
        {
            receipt.InclusionProof.Hashes.Add(ByteString.CopyFrom(hash));
        }

        return receipt;
    }

    /// <summary>The wire form of a signed tree head.</summary>
    public static Pb.SignedTreeHead ToApi(SignedTreeHead head) => new()
    {
        TreeSize = head.TreeSize,
        RootHash = ByteString.CopyFrom(head.RootHash),
        Timestamp = Timestamp.FromDateTimeOffset(head.Timestamp),
        Signature = ByteString.CopyFrom(head.Signature),
        KeyFingerprint = head.KeyFingerprint,
    };
}
