using System.Numerics;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Hamming distance over ISCC unit bodies (iscc-core <c>utils.iscc_distance</c>) and the near-duplicate
/// threshold the matcher uses.
/// </summary>
/// <remarks>
/// Threshold: two unrelated 64-bit codes differ in Binomial(64, ½) bits, so P(distance ≤ 10) = 1.0e-8 (≤ 12:
/// 2.3e-7); against a registry of 10^6 content codes, ≤ 10 keeps the expected random false matches per query
/// near 0.01. For MinHash codes (Text, Data) each of the 64 bits is the lowest bit of one permutation's minimum,
/// so the expected distance is about 32·(1 − J) for feature-set Jaccard similarity J: ≤ 10 accepts J ≳ 0.7 on
/// average. Whitespace, line-break, case and Unicode-normalisation changes give 0 (the text is collapsed first);
/// truncation to 90–95 % gives a few bits (see NearDuplicateTests). Callers can pass their own threshold;
/// results should say which unit matched (standards.md §20).
/// </remarks>
public static class IsccSimilarity
{
    /// <summary>Default maximum Hamming distance (of 64 bits) for a near-duplicate Content/Data/Meta match.</summary>
    public const int DefaultNearDuplicateThreshold = 10;

    /// <summary>Number of differing bits between two 64-bit unit bodies.</summary>
    public static int HammingDistance(ulong a, ulong b) => BitOperations.PopCount(a ^ b);

    /// <summary>Number of differing bits between two equally long bodies.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static int HammingDistance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"b: bodies differ in length ({a.Length} and {b.Length} bytes).", nameof(b));
        }

        var d = 0;
        var i = 0;
        for (; i + 8 <= a.Length; i += 8)
        {
            d += BitOperations.PopCount(BitConverter.ToUInt64(a[i..]) ^ BitConverter.ToUInt64(b[i..]));
        }

        for (; i < a.Length; i++)
        {
            d += BitOperations.PopCount((uint)(a[i] ^ b[i]));
        }

        return d;
    }

    /// <summary>
    /// Hamming distance of two units of the same kind over their common prefix of at most 64 bits; -1 when
    /// MainType or SubType differ (the bodies are not comparable).
    /// </summary>
    public static int Distance(in IsccUnit a, in IsccUnit b)
    {
        if (a.MainType != b.MainType || a.SubType != b.SubType)
        {
            return -1;
        }

        var bits = Math.Min(64, Math.Min(a.BitLength, b.BitLength));
        var mask = bits == 64 ? ulong.MaxValue : ~(ulong.MaxValue >> bits);
        return BitOperations.PopCount((a.Head ^ b.Head) & mask);
    }

    /// <summary>True when both units are comparable and within <paramref name="threshold"/> bits.</summary>
    public static bool IsNearDuplicate(in IsccUnit a, in IsccUnit b, int threshold = DefaultNearDuplicateThreshold)
    {
        var d = Distance(a, b);
        return d >= 0 && d <= threshold;
    }
}
