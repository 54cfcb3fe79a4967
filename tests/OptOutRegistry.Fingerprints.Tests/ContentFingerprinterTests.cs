using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

public class ContentFingerprinterTests
{
    [Fact]
    public void GetResultAndReset_EqualsTheIndividualFunctions_ForConsecutiveRecords()
    {
        using var fp = new ContentFingerprinter(text: true);
        foreach (var text in new[] { "Hello World", "", "Съешь же ещё этих мягких французских булок, да выпей чаю." })
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            fp.Append(bytes.AsSpan(0, bytes.Length / 2));
            fp.Append(bytes.AsSpan(bytes.Length / 2));
            var r = fp.GetResultAndReset();
            Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), r.Sha256);
            Assert.Equal(IsccGenerator.GenInstanceCodeV0(bytes).Iscc, r.InstanceCode);
            Assert.Equal(IsccGenerator.GenDataCodeV0(bytes), r.DataCode);
            Assert.Equal(IsccGenerator.GenTextCodeV0(text), r.TextCode);
            Assert.Equal(IsccGenerator.GenIsccCodeV0([r.TextCode!.Iscc, r.DataCode, r.InstanceCode]), r.IsccCode);
            Assert.Equal(bytes.Length, r.Length);
        }
    }

    [Fact]
    public void BinaryContent_HasNoTextCode_AndASumIsccCode()
    {
        using var fp = new ContentFingerprinter(text: false);
        fp.Append(new MemoryStream(new byte[] { 0xff, 0x00 }));
        var r = fp.GetResultAndReset();
        Assert.Null(r.TextCode);
        Assert.Equal("ISCC:GAAXL2XYM5BQIAZ3", r.DataCode); // data.json test_0000_two_bytes_64
        Assert.Equal(IsccSubType.Sum, IsccCode.Decode(r.IsccCode).SubType);
    }
}
