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

    /// <summary>Loads (or, on first start, creates) the key in the data directory.</summary>
    public FeedSigning(ServerPaths paths)
    {
        TreeHeads = TreeHeadSigner.LoadOrCreate(paths.DataDirectory);
        _snapshotKey = ECDsa.Create();
        _snapshotKey.ImportFromPem(File.ReadAllText(Path.Combine(paths.DataDirectory, TreeHeadSigner.KeyFileName)));
    }

    /// <summary>The tree-head signer.</summary>
    public TreeHeadSigner TreeHeads { get; }

    /// <summary>The key that signs snapshot files.</summary>
    public ECDsa SnapshotKey => _snapshotKey;

    /// <inheritdoc />
    public void Dispose()
    {
        TreeHeads.Dispose();
        _snapshotKey.Dispose();
    }
}
