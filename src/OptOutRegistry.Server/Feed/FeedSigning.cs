using System.Security.Cryptography;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Server.Feed;

/// <summary>
/// The registry's signing key as the feed uses it: tree heads through Storage's <see cref="TreeHeadSigner"/>, and
/// snapshot files with the same ECDSA P-256 key (under their own signature prefix, docs/snapshot-format.md), so one
/// published public key verifies both.
/// </summary>
public sealed class FeedSigning : IDisposable
{
    private readonly ECDsa _snapshotKey;

    /// <summary>
    /// Uses the one signer of the log (<c>{data-dir}/transparency-signing-key.pem</c> or <c>--signing-key FILE</c>), so that
    /// snapshots, feed tree heads and receipts are signed by the key the server publishes.
    /// </summary>
    public FeedSigning(TreeHeadSigner treeHeads)
    {
        ArgumentNullException.ThrowIfNull(treeHeads);
        TreeHeads = treeHeads;
        _snapshotKey = ECDsa.Create();
        _snapshotKey.ImportFromPem(File.ReadAllText(treeHeads.KeyFilePath));
    }

    /// <summary>The tree-head signer.</summary>
    public TreeHeadSigner TreeHeads { get; }

    /// <summary>The key that signs snapshot files.</summary>
    public ECDsa SnapshotKey => _snapshotKey;

    /// <inheritdoc />
    public void Dispose()
    {
        // TreeHeads belongs to the container (it is also the receipts' signer).
        _snapshotKey.Dispose();
    }
}
