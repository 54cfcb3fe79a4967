using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

public class StreamingTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8192)]
    [InlineData(8193)]
    [InlineData(200_000)]
    public void DataAndInstanceHashers_AnyChunking_EqualOneShot(int length)
    {
        var data = IsccUnitVectorTests.StaticBytes(length);
        var expectedData = IsccGenerator.GenDataCodeV0(data, 256);
        var expectedInstance = IsccGenerator.GenInstanceCodeV0(data, 256);
        var rng = new Random(length);
        var dh = new DataCodeHasher();
        var ih = new InstanceCodeHasher();
        for (var pos = 0; pos < length;)
        {
            var n = Math.Min(rng.Next(1, 20_000), length - pos);
            dh.Append(data.AsSpan(pos, n));
            ih.Append(data.AsSpan(pos, n));
            pos += n;
        }

        Assert.Equal(expectedData, dh.Code(256));
        Assert.Equal(expectedInstance, ih.Result(256));
        Assert.Equal(length, dh.Length);
    }

    [Fact]
    public void SoftHashDataV0_OneMebibyte_MatchesIsccCoreTest()
    {
        // tests/test_code_data.py: static_bytes(1 MiB), also streamed through a Stream.
        using var ms = new MemoryStream(IsccUnitVectorTests.StaticBytes(1048576));
        Assert.Equal("ISCC:GAA6LM626EIYZ4E4", IsccGenerator.GenDataCodeV0(ms));
    }

    [Fact]
    public void GenTextCode_FromReader_EqualsString()
    {
        const string text = "Съешь же ещё этих мягких французских булок, да выпей чаю.";
        Assert.Equal(IsccGenerator.GenTextCodeV0(text), IsccGenerator.GenTextCodeV0(new StringReader(text)));
    }

    [Fact]
    public void MinHash_VectorPath_EqualsReferenceFormula()
    {
        var rng = new Random(99);
        var features = new uint[5000];
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = (uint)rng.NextInt64(0, 1L << 32);
        }

        // Include the extremes where the Mersenne reduction's correction step matters.
        features[0] = 0;
        features[1] = uint.MaxValue;
        var mh = new MinHash();
        mh.Add(features);
        var scalar = new uint[MinHash.Permutations];
        Array.Fill(scalar, uint.MaxValue);
        MinHash.AddScalar(features, scalar);
        for (var p = 0; p < MinHash.Permutations; p++)
        {
            var expected = uint.MaxValue;
            foreach (var f in features)
            {
                expected = Math.Min(expected, MinHash.Permute(p, f));
            }

            Assert.Equal(expected, mh.Values[p]);
            Assert.Equal(expected, scalar[p]);
        }
    }

    [Fact]
    public void JsonCanonicalizer_FollowsRfc8785Numbers()
    {
        string[] inputs = ["1.0", "1e20", "1e21", "0.000001", "1e-7", "-0.5", "123.456", "5e-324"];
        string[] expected = ["1", "100000000000000000000", "1e+21", "0.000001", "1e-7", "-0.5", "123.456", "5e-324"];
        for (var i = 0; i < inputs.Length; i++)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(inputs[i]);
            Assert.Equal(expected[i], Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(doc.RootElement)));
        }

        using var obj = System.Text.Json.JsonDocument.Parse("{\"b\":[true,null,\"\\u0001é\"],\"a\":{\"€\":1,\"z\":2}}");
        Assert.Equal("{\"a\":{\"z\":2,\"€\":1},\"b\":[true,null,\"\\u0001é\"]}", Encoding.UTF8.GetString(JsonCanonicalizer.Canonicalize(obj.RootElement)));
    }
}
