using OptOutRegistry.Snapshots;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Server.Feed;

/// <summary>
/// The registry's signing key as the feed uses it: tree heads and snapshot files (under their own signature prefix,
/// docs/snapshot-format.md) are both signed by the log's <see cref="TreeHeadSigner"/>, so one published public key
/// verifies both and the private key is read from its file once.
/// </summary>
public sealed class FeedSigning : ISnapshotSigner
{
    /// <summary>
    /// Uses the one signer of the log (<c>{data-dir}/transparency-signing-key.pem</c> or <c>--signing-key FILE</c>), so that
    /// snapshots, feed tree heads and receipts are signed by the key the server publishes.
    /// </summary>
    public FeedSigning(TreeHeadSigner treeHeads)
    {
        ArgumentNullException.ThrowIfNull(treeHeads);
        TreeHeads = treeHeads;
    }

    /// <summary>The tree-head signer (owned by the container: it is also the receipts' signer).</summary>
    public TreeHeadSigner TreeHeads { get; }

    /// <inheritdoc />
    public ReadOnlySpan<byte> PublicKeySpki => TreeHeads.PublicKeySpki;

    /// <inheritdoc />
    public byte[] SignSnapshotDigest(ReadOnlySpan<byte> digest) => TreeHeads.SignDigest(SnapshotFormat.SignaturePrefix, digest);
}
