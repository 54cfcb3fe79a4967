using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>Content selectors: SHA-256, identifiers, ISCC near-duplicates.</summary>
public class ContentMatchingTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(1);

    // iscc-core conformance data (corpora/iscc/data.json, gen_iscc_code_v0 test_0000_standard).
    private const string Composite = "ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY";

    [Fact]
    public void Sha256_MatchesTheExactDigest_InAnyCase()
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes("a photograph"));
        var hex = Convert.ToHexString(digest);
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Sha256, hex.ToLowerInvariant()))]);

        Assert.Equal(Verdict.Disallowed, index.CheckSha256(digest, UsageCategory.TrainAi, Now));
        Assert.Equal(Verdict.Disallowed, index.Check(CheckQuery.Sha256("sha256:" + hex, UsageCategory.TrainAi, Now)).Verdict);
        var other = SHA256.HashData(Encoding.UTF8.GetBytes("another photograph"));
        Assert.Equal(Verdict.Unknown, index.CheckSha256(other, UsageCategory.TrainAi, Now));
        var match = Assert.Single(index.Check(CheckQuery.Sha256(hex, UsageCategory.TrainAi, Now)).Matches);
        Assert.Equal(hex.ToLowerInvariant(), match.SelectorText);
    }

    [Theory]
    [InlineData("isbn:978-0-306-40615-7", "ISBN 0-306-40615-2")]
    [InlineData("isbn:0306406152", "ISBN-13: 978-0-306-40615-7")]
    [InlineData("doi:10.1000/XYZ123", "https://doi.org/10.1000/xyz123")]
    public void Identifier_MatchesItsNormalisedForms(string registered, string checkedId)
    {
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Identifier, registered))]);
        Assert.Equal(Verdict.Disallowed, index.Check(CheckQuery.Identifier(checkedId, UsageCategory.TrainAi, Now)).Verdict);
        Assert.Equal(Verdict.Disallowed, index.CheckIdentifier(StandardIdentifier.Parse(checkedId), UsageCategory.TrainAi, Now));
    }

    [Fact]
    public void Identifier_InvalidSubject_IsRefusedWithTheReason()
    {
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Identifier, "isbn:9780306406157"))]);
        var e = Assert.Throws<ModelValidationException>(() => index.Check(CheckQuery.Identifier("isbn:9780306406158", UsageCategory.All, Now)));
        Assert.Equal("subject", e.Field);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(5, true)]
    [InlineData(8, true)]
    [InlineData(9, false)]
    [InlineData(20, false)]
    public void Iscc_ContentUnitWithinTheDefaultThreshold_IsANearDuplicate(int flippedBits, bool covered)
    {
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Iscc, Composite))]);
        var content = IsccCode.Parse(Composite).Units.Single(u => u.MainType == IsccMainType.Content);
        var query = EncodeUnit(2, content.SubType, Flip(content.Head, flippedBits));

        var result = index.Check(CheckQuery.Iscc(query, UsageCategory.TrainAi, Now));
        Assert.Equal(covered ? Verdict.Disallowed : Verdict.Unknown, result.Verdict);
        Assert.Equal(covered ? Verdict.Disallowed : Verdict.Unknown, index.CheckIscc(IsccCode.Parse(query), UsageCategory.TrainAi, Now));
        if (covered)
        {
            var match = Assert.Single(result.Matches);
            Assert.Equal(flippedBits, match.HammingDistance);
            Assert.Equal(IsccMainType.Content, match.IsccUnit!.Value.MainType);
            Assert.Equal(Composite, match.SelectorText);
        }
    }

    [Fact]
    public void Iscc_InstanceUnitsMatchOnlyWhenEqual_AndMetaUnitsNotAtAll()
    {
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Iscc, Composite))]);
        var units = IsccCode.Parse(Composite).Units;
        var instance = units.Single(u => u.MainType == IsccMainType.Instance);
        var meta = units.Single(u => u.MainType == IsccMainType.Meta);

        Assert.Equal(Verdict.Disallowed, index.CheckIscc(IsccCode.Parse(EncodeUnit(4, 0, instance.Head)), UsageCategory.All, Now));
        Assert.Equal(Verdict.Unknown, index.CheckIscc(IsccCode.Parse(EncodeUnit(4, 0, Flip(instance.Head, 1))), UsageCategory.All, Now));
        Assert.Equal(Verdict.Unknown, index.CheckIscc(IsccCode.Parse(EncodeUnit(0, 0, meta.Head)), UsageCategory.All, Now));
        // A data unit of another type (content/image) with the same bits is a different kind of unit.
        var content = units.Single(u => u.MainType == IsccMainType.Content);
        Assert.Equal(Verdict.Unknown, index.CheckIscc(IsccCode.Parse(EncodeUnit(2, 1, content.Head)), UsageCategory.All, Now));
    }

    [Fact]
    public void Iscc_ThresholdIsConfigurable()
    {
        var index = MatcherIndex.Build([Disallow("h", Sel(SelectorKind.Iscc, Composite))], new MatcherOptions { IsccMaxDistance = 12 });
        var content = IsccCode.Parse(Composite).Units.Single(u => u.MainType == IsccMainType.Content);
        Assert.Equal(Verdict.Disallowed, index.CheckIscc(IsccCode.Parse(EncodeUnit(2, 0, Flip(content.Head, 12))), UsageCategory.All, Now));
        Assert.Equal(Verdict.Unknown, index.CheckIscc(IsccCode.Parse(EncodeUnit(2, 0, Flip(content.Head, 13))), UsageCategory.All, Now));
    }

    [Fact]
    public void Iscc_ManyIndexedCodes_OnlyTheNearOnesMatch()
    {
        // 5,000 random content units and one query near a known one: the multi-index search must find exactly
        // the units within the threshold, as a brute-force scan does.
        var random = new Random(42);
        var heads = new ulong[5000];
        var list = new List<Reservation>();
        for (var i = 0; i < heads.Length; i++)
        {
            heads[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40);
            list.Add(Make($"h{i % 7}", UsageStatements.DisallowAll, [Sel(SelectorKind.Iscc, EncodeUnit(2, 0, heads[i]))], id: $"i{i}"));
        }

        var index = MatcherIndex.Build(list);
        for (var q = 0; q < 50; q++)
        {
            var query = Flip(heads[random.Next(heads.Length)], random.Next(0, 12));
            var expected = heads.Count(h => ulong.PopCount(h ^ query) <= 8);
            var result = index.Check(CheckQuery.Iscc(EncodeUnit(2, 0, query), UsageCategory.All, Now));
            Assert.Equal(expected, result.Matches.Count);
            Assert.All(result.Matches, m => Assert.True(m.HammingDistance <= 8));
        }
    }

    private static ulong Flip(ulong head, int bits)
    {
        // Flip bits spread over all four 16-bit blocks.
        for (var i = 0; i < bits; i++)
        {
            head ^= 1UL << ((i * 17) % 64);
        }

        return head;
    }

    /// <summary>An ISCC unit string: header (MainType, SubType, Version 0, Length 1 = 64 bits) + 8 body bytes.</summary>
    private static string EncodeUnit(int mainType, int subType, ulong head)
    {
        var bytes = new byte[10];
        bytes[0] = (byte)((mainType << 4) | subType);
        bytes[1] = 0x01;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(2), head);
        return "ISCC:" + Base32(bytes);
    }

    private static string Base32(byte[] data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            sb.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return sb.ToString();
    }
}
