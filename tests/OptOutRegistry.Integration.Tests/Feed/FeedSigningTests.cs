using System.Security.Cryptography;
using OptOutRegistry.Server.Feed;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Feed;

/// <summary>
/// Snapshot files are signed by the transparency log's signer itself (one key, loaded once): what the feed writes
/// verifies with the key the server publishes, and that signer never signs anything that could pass for a tree head.
/// </summary>
public sealed class FeedSigningTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("optout-feed-signing-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static MemoryStream WriteSnapshot(ISnapshotSigner signer)
    {
        var output = new MemoryStream();
        using (var writer = new SnapshotWriter(output, new SnapshotHeader(SnapshotKind.Delta, 2, 0, DateTimeOffset.UnixEpoch)))
        {
            writer.WriteEvent(new Pb.Event { Sequence = 1 });
            writer.WriteEvent(new Pb.Event { Sequence = 2 });
            writer.Finish(signer);
        }

        output.Position = 0;
        return output;
    }

    [Fact]
    public void SnapshotSignedThroughTheLogSigner_VerifiesWithItsPublishedKey_EvenAfterTheKeyFileIsGone()
    {
        using var treeHeads = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var signing = new FeedSigning(treeHeads);
        // The key is read once, by TreeHeadSigner: nothing reads the file again to sign snapshots.
        File.Delete(treeHeads.KeyFilePath);

        using var reader = SnapshotReader.Open(WriteSnapshot(signing));
        while (reader.TryReadRecord(out _, out _))
        {
        }

        Assert.True(reader.VerifySignature(treeHeads.PublicKeySpki));
        Assert.True(reader.VerifySignature(SubjectPublicKeyInfo(treeHeads.ExportPublicKeyPem())));
        Assert.Equal(treeHeads.KeyFingerprint, reader.Footer!.KeyFingerprint);

        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.False(reader.VerifySignature(other.ExportSubjectPublicKeyInfo()));
    }

    [Fact]
    public void SnapshotSignatures_AreOverTheSnapshotPrefix_NotATreeHeadEncoding()
    {
        using var treeHeads = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var digest = SHA256.HashData("a snapshot"u8);
        var signature = new FeedSigning(treeHeads).SignSnapshotDigest(digest);

        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(treeHeads.PublicKeySpki, out _);
        byte[] signedMessage = [.. SnapshotFormat.SignaturePrefix, .. digest];
        Assert.True(key.VerifyData(signedMessage, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        Assert.False(key.VerifyData(digest, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    [Theory]
    [InlineData("")]
    [InlineData("optout-registry/tree-head/v1\n")]
    [InlineData("optout-registry/tree-head/v1\nmore")]
    [InlineData("optout-registry/tree")]
    public void SignDigest_RefusesAPrefixThatCouldReadAsATreeHead(string prefix)
    {
        using var treeHeads = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var ex = Assert.Throws<ArgumentException>(() => treeHeads.SignDigest(System.Text.Encoding.ASCII.GetBytes(prefix), new byte[32]));
        Assert.Equal("prefix", ex.ParamName);
    }

    private static byte[] SubjectPublicKeyInfo(string pem)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return key.ExportSubjectPublicKeyInfo();
    }
}
