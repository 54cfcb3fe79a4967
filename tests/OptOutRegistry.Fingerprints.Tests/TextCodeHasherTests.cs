using System.Text;
using OptOutRegistry.Fingerprints.Iscc;

namespace OptOutRegistry.Fingerprints.Tests;

public class TextCodeHasherTests
{
    // Mixed scripts and the collapse edge cases: Greek final sigma next to punctuation, Hangul conjoining jamo
    // around punctuation (NFKC composes L+V), combining marks after commas, astral characters, digits.
    private static readonly string[] Pieces =
    [
        "Their most significant property, ", "ΟΔΟΣ, ΚΑΙ ΛΟΓΟΣ. ", "Йошкар-Ола, ёлка 2024; ", "Қазақстан, әдебиет! ",
        "\u1100,\u1161 \u1100\u1161 ", "e,\u0301 x ", "😀 emoji 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, ", "1234567890 ", "it's a:b.c ", "\r\n\t  ",
    ];

    private static string BuildText(int seed, int length)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder();
        while (sb.Length < length)
        {
            sb.Append(Pieces[rng.Next(Pieces.Length)]);
        }

        return sb.ToString();
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 5)]
    [InlineData(3, 40)]
    [InlineData(4, 5_000)]
    [InlineData(5, 300_000)]
    public void Append_AnyChunking_EqualsOneShot(int seed, int length)
    {
        var text = BuildText(seed, length);
        var expected = IsccGenerator.GenTextCodeV0(text, 256);
        var rng = new Random(seed);
        var hasher = new TextCodeHasher();
        for (var pos = 0; pos < text.Length;)
        {
            var n = Math.Min(rng.Next(1, 90_000), text.Length - pos);
            hasher.Append(text.AsSpan(pos, n));
            pos += n;
        }

        Assert.Equal(expected, hasher.GetCodeAndReset(256));

        // UTF-8 bytes in odd-sized pieces (characters split across calls) and the Stream / TextReader helpers.
        var bytes = Encoding.UTF8.GetBytes(text);
        for (var pos = 0; pos < bytes.Length; pos += 7777)
        {
            hasher.Append(bytes.AsSpan(pos, Math.Min(7777, bytes.Length - pos)));
        }

        Assert.Equal(expected, hasher.GetCodeAndReset(256));
        Assert.Equal(expected, IsccGenerator.GenTextCodeV0(new MemoryStream(bytes), 256));
        Assert.Equal(expected, IsccGenerator.GenTextCodeV0(new StringReader(text), 256));
    }

    [Theory]
    [InlineData("съешь же ещё этих мягких французских булок да выпей чаю ")]
    [InlineData("\u3131,\u1161 \u1100,\u1161 가,각 ")]
    public void Append_LongTextWithoutSplitPoints_GrowsAndStillMatches(string unit)
    {
        var text = string.Concat(Enumerable.Repeat(unit, 200_000 / unit.Length));
        var hasher = new TextCodeHasher();
        for (var pos = 0; pos < text.Length; pos += 4096)
        {
            hasher.Append(text.AsSpan(pos, Math.Min(4096, text.Length - pos)));
        }

        Assert.Equal(IsccGenerator.GenTextCodeV0(text), hasher.GetCodeAndReset());
    }

    [Fact]
    public void Split_BetweenHangulJamoAroundPunctuation_IsNeverChosen()
    {
        // "ᄀ,ᅡ" collapses to the composed syllable 가 only if both jamo meet after the comma is removed.
        Assert.Equal("\uAC00", TextNormalization.Collapse("\u1100,\u1161"));
        Assert.False(TextCodeHasher.IsSafeSplit('\u1100', ','));
        Assert.True(TextCodeHasher.IsSafeSplit('d', ','));
        Assert.True(TextCodeHasher.IsSafeSplit('м', ','));
        Assert.False(TextCodeHasher.IsSafeSplit('\u3131', ',')); // compatibility jamo: NFKC gives a conjoining jamo
        Assert.False(TextCodeHasher.IsSafeSplit('\uAC00', ','));
        Assert.False(TextCodeHasher.IsSafeSplit('d', '.'));
        Assert.False(TextCodeHasher.IsSafeSplit('d', 'e'));
    }
}
