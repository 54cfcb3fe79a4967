using System.Security.Cryptography;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Snapshots;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>
/// Loading a snapshot for filtering (<see cref="SnapshotFilterChecker.Load"/>, which is <see cref="OfflineChecker.Load"/>):
/// one pass over the file, and nothing is returned unless the digest and the signature verify.
/// </summary>
public sealed class SnapshotLoadTests(SnapshotFixture fixture) : IClassFixture<SnapshotFixture>
{
    [Fact]
    public void Load_ReportsTheFilesSequenceKeyAndDigest_AsTheFooterRecordsThem()
    {
        SnapshotFooter footer;
        using (var reader = SnapshotReader.Open(File.OpenRead(fixture.SnapshotPath)))
        {
            while (reader.TryReadRecord(out _, out _))
            {
            }

            footer = reader.Footer!;
        }

        var state = SnapshotFilterChecker.Load(fixture.SnapshotPath).State;
        Assert.Equal(42, state.Sequence);
        Assert.Equal("registry.snapshot", state.Location);
        Assert.Equal(footer.KeyFingerprint, state.KeyFingerprint);
        Assert.Equal(Convert.ToHexStringLower(footer.Digest), state.Digest);

        var pinned = PemEncoding.WriteString("PUBLIC KEY", footer.PublicKeySpki);
        var offline = OfflineChecker.Load(fixture.SnapshotPath, pinned);
        Assert.Equal(state.Digest, offline.SnapshotDigest);
        Assert.Equal(42, offline.AppliedSequence);
    }

    [Fact]
    public void Load_WithAnotherPinnedKey_IsRefusedNamingTheSignature()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ex = Assert.Throws<SnapshotFormatException>(() => SnapshotFilterChecker.Load(fixture.SnapshotPath, other.ExportSubjectPublicKeyInfoPem()));
        Assert.Contains("the signature does not verify with the given public key", ex.Message);
    }

    [Theory]
    [InlineData("flip", 40)]
    [InlineData("flip", -40)]
    [InlineData("truncate", 3)]
    [InlineData("truncate", 200)]
    public void Load_OfAnAlteredFile_IsRefused(string damage, int at)
    {
        var bytes = File.ReadAllBytes(fixture.SnapshotPath);
        if (damage == "flip")
        {
            bytes[at >= 0 ? SnapshotFormat.HeaderLength + at : bytes.Length + at] ^= 0x01;
        }
        else
        {
            bytes = bytes[..^at];
        }

        var path = Path.Combine(fixture.Directory, $"damaged-{damage}-{at}.snapshot");
        File.WriteAllBytes(path, bytes);
        Assert.Throws<SnapshotFormatException>(() => SnapshotFilterChecker.Load(path));
    }
}
