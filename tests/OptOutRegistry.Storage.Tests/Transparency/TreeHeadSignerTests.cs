using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Tests.Transparency;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TreeHeadSignerTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("optout-sth-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly byte[] Root = Convert.FromHexString("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");

    [Fact]
    public void LoadOrCreate_FirstStart_CreatesPrivateKeyWithMode0600AndReloadsTheSameKey()
    {
        using var first = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var path = Path.Combine(_dir.FullName, TreeHeadSigner.KeyFileName);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(path));
        using var second = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        Assert.Equal(first.KeyFingerprint, second.KeyFingerprint);
        Assert.Equal(64, first.KeyFingerprint.Length);
    }

    [Fact]
    public void Sign_ThenVerifyWithExportedPublicPem_Succeeds()
    {
        using var signer = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var head = signer.Sign(8, Root, DateTimeOffset.Parse("2026-11-22T06:00:00.123456Z"));

        Assert.Equal(DateTimeOffset.Parse("2026-11-22T06:00:00.123Z"), head.Timestamp);
        Assert.True(TreeHeadSigner.Verify(head, signer.ExportPublicKeyPem()));
        Assert.True(TreeHeadSigner.Verify(head, signer.PublicKeySpki));
    }

    public static TheoryData<string> Tamperings => new() { "size", "root", "timestamp", "signature", "fingerprint" };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public void Verify_TamperedHead_Fails(string field)
    {
        using var signer = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var head = signer.Sign(8, Root, DateTimeOffset.UnixEpoch.AddDays(20000));
        var flipped = (byte[])Root.Clone();
        flipped[31] ^= 1;
        var badSignature = (byte[])head.Signature.Clone();
        badSignature[^1] ^= 1;
        var tampered = field switch
        {
            "size" => head with { TreeSize = 9 },
            "root" => head with { RootHash = flipped },
            "timestamp" => head with { Timestamp = head.Timestamp.AddMilliseconds(1) },
            "signature" => head with { Signature = badSignature },
            _ => head with { KeyFingerprint = new string('0', 64) },
        };

        Assert.False(TreeHeadSigner.Verify(tampered, signer.ExportPublicKeyPem()));
    }

    [Fact]
    public void Verify_WithAnotherLogsKey_Fails()
    {
        using var signer = TreeHeadSigner.LoadOrCreate(_dir.FullName);
        var other = Directory.CreateTempSubdirectory("optout-sth-other-");
        try
        {
            using var otherSigner = TreeHeadSigner.LoadOrCreate(other.FullName);
            var head = signer.Sign(1, Root, DateTimeOffset.UnixEpoch);
            Assert.False(TreeHeadSigner.Verify(head, otherSigner.ExportPublicKeyPem()));
            Assert.False(TreeHeadSigner.Verify(head, "not a pem"));
        }
        finally
        {
            other.Delete(true);
        }
    }

    [Fact]
    public void LoadOrCreate_KeyReadableByOthers_IsRefusedWithTheFileNamed()
    {
        using (TreeHeadSigner.LoadOrCreate(_dir.FullName))
        {
        }

        var path = Path.Combine(_dir.FullName, TreeHeadSigner.KeyFileName);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        var error = Assert.Throws<InvalidOperationException>(() => TreeHeadSigner.LoadOrCreate(_dir.FullName));
        Assert.Contains(TreeHeadSigner.KeyFileName, error.Message);
    }

    [Fact]
    public void Encode_IsFixedLayout()
    {
        var bytes = SignedTreeHead.Encode(0x0102, Root, 0x0A0B);
        Assert.Equal("optout-registry/tree-head/v1\n"u8.ToArray(), bytes[..29]);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B }, bytes[29..45]);
        Assert.Equal(Root, bytes[45..]);
    }
}
