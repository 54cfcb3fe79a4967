using System.Runtime.CompilerServices;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Content-defined chunking as iscc-core does it (<c>cdc.py</c>, FastCDC-style with a gear table):
/// pattern = (pattern >> 1) + gear[byte]; cut where (pattern &amp; mask) == 0, with the stricter mask before
/// the centre size and the looser one after it.
/// </summary>
public static class Cdc
{
    /// <summary>The default average chunk size for Data-Code (<c>data_avg_chunk_size</c>).</summary>
    public const int DefaultAverageSize = 1024;

    /// <summary>Chunking parameters (<c>alg_cdc_params</c>).</summary>
    /// <param name="MinSize">Minimum chunk size.</param>
    /// <param name="MaxSize">Maximum chunk size.</param>
    /// <param name="CenterSize">Where the mask switches from small to large.</param>
    /// <param name="MaskS">Mask used before the centre (more bits: cuts are rarer).</param>
    /// <param name="MaskL">Mask used after the centre.</param>
    public readonly record struct Parameters(int MinSize, int MaxSize, int CenterSize, uint MaskS, uint MaskL);

    /// <summary>Computes the parameters for an average size (<c>alg_cdc_params</c>).</summary>
    public static Parameters ParametersFor(int averageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(averageSize, 4);
        var minSize = averageSize / 4;
        var maxSize = averageSize * 8;
        var offset = minSize + ((minSize + 1) / 2);
        var centerSize = averageSize - offset;
        var bits = (int)Math.Round(Math.Log2(averageSize), MidpointRounding.ToEven);
        return new Parameters(minSize, maxSize, centerSize, (uint)((1L << (bits + 1)) - 1), (uint)((1L << (bits - 1)) - 1));
    }

    /// <summary>
    /// Length of the next chunk at the start of <paramref name="buffer"/> (<c>alg_cdc_offset</c>). The caller must
    /// pass at least <see cref="Parameters.MaxSize"/> bytes unless the buffer holds the end of the input.
    /// </summary>
    // Hot loop: compiled fully optimised at once instead of starting in tier 0 (matters for one-shot CLI runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int NextCut(ReadOnlySpan<byte> buffer, in Parameters p)
    {
        // Python's pattern is an unbounded int: (pattern >> 1) + gear stays below 2^33, so ulong is exact.
        ReadOnlySpan<uint> gear = Gear;
        ulong pattern = 0;
        var size = buffer.Length;
        var i = Math.Min(p.MinSize, size);
        var barrier = Math.Min(p.CenterSize, size);
        ulong maskS = p.MaskS, maskL = p.MaskL;
        while (i < barrier)
        {
            pattern = (pattern >> 1) + gear[buffer[i]];
            if ((pattern & maskS) == 0)
            {
                return i + 1;
            }

            i++;
        }

        barrier = Math.Min(p.MaxSize, size);
        while (i < barrier)
        {
            pattern = (pattern >> 1) + gear[buffer[i]];
            if ((pattern & maskL) == 0)
            {
                return i + 1;
            }

            i++;
        }

        return i;
    }

    /// <summary>
    /// Splits a whole in-memory input into chunks (<c>alg_cdc_chunks</c>); empty input gives one empty chunk.
    /// With <paramref name="utf32"/> cut points are aligned down to a multiple of 4.
    /// </summary>
    public static List<(int Offset, int Length)> Chunks(ReadOnlySpan<byte> data, bool utf32 = false, int averageSize = DefaultAverageSize)
    {
        var p = ParametersFor(averageSize);
        var result = new List<(int, int)>();
        if (data.IsEmpty)
        {
            result.Add((0, 0));
            return result;
        }

        var pos = 0;
        while (pos < data.Length)
        {
            var cut = NextCut(data[pos..], p);
            if (utf32)
            {
                cut -= cut % 4;
            }

            if (cut == 0)
            {
                // A utf32 cut below 4 bytes can only happen at the very end of misaligned input.
                cut = data.Length - pos;
            }

            result.Add((pos, cut));
            pos += cut;
        }

        return result;
    }

    /// <summary>The gear table <c>cdc_gear</c> (iscc-core <c>options.py</c>), 256 random 31-bit values.</summary>
    internal static ReadOnlySpan<uint> Gear =>
    [
        1553318008, 574654857, 759734804, 310648967, 1393527547, 1195718329, 694400241, 1154184075,
        1319583805, 1298164590, 122602963, 989043992, 1918895050, 933636724, 1369634190, 1963341198,
        1565176104, 1296753019, 1105746212, 1191982839, 1195494369, 29065008, 1635524067, 722221599,
        1355059059, 564669751, 1620421856, 1100048288, 1018120624, 1087284781, 1723604070, 1415454125,
        737834957, 1854265892, 1605418437, 1697446953, 973791659, 674750707, 1669838606, 320299026,
        1130545851, 1725494449, 939321396, 748475270, 554975894, 1651665064, 1695413559, 671470969,
        992078781, 1935142196, 1062778243, 1901125066, 1935811166, 1644847216, 744420649, 2068980838,
        1988851904, 1263854878, 1979320293, 111370182, 817303588, 478553825, 694867320, 685227566,
        345022554, 2095989693, 1770739427, 165413158, 1322704750, 46251975, 710520147, 700507188,
        2104251000, 1350123687, 1593227923, 1756802846, 1179873910, 1629210470, 358373501, 807118919,
        751426983, 172199468, 174707988, 1951167187, 1328704411, 2129871494, 1242495143, 1793093310,
        1721521010, 306195915, 1609230749, 1992815783, 1790818204, 234528824, 551692332, 1930351755,
        110996527, 378457918, 638641695, 743517326, 368806918, 1583529078, 1767199029, 182158924,
        1114175764, 882553770, 552467890, 1366456705, 934589400, 1574008098, 1798094820, 1548210079,
        821697741, 601807702, 332526858, 1693310695, 136360183, 1189114632, 506273277, 397438002,
        620771032, 676183860, 1747529440, 909035644, 142389739, 1991534368, 272707803, 1905681287,
        1210958911, 596176677, 1380009185, 1153270606, 1150188963, 1067903737, 1020928348, 978324723,
        962376754, 1368724127, 1133797255, 1367747748, 1458212849, 537933020, 1295159285, 2104731913,
        1647629177, 1691336604, 922114202, 170715530, 1608833393, 62657989, 1140989235, 381784875,
        928003604, 449509021, 1057208185, 1239816707, 525522922, 476962140, 102897870, 132620570,
        419788154, 2095057491, 1240747817, 1271689397, 973007445, 1380110056, 1021668229, 12064370,
        1186917580, 1017163094, 597085928, 2018803520, 1795688603, 1722115921, 2015264326, 506263638,
        1002517905, 1229603330, 1376031959, 763839898, 1970623926, 1109937345, 524780807, 1976131071,
        905940439, 1313298413, 772929676, 1578848328, 1108240025, 577439381, 1293318580, 1512203375,
        371003697, 308046041, 320070446, 1252546340, 568098497, 1341794814, 1922466690, 480833267,
        1060838440, 969079660, 1836468543, 2049091118, 2023431210, 383830867, 2112679659, 231203270,
        1551220541, 1377927987, 275637462, 2110145570, 1700335604, 738389040, 1688841319, 1506456297,
        1243730675, 258043479, 599084776, 41093802, 792486733, 1897397356, 28077829, 1520357900,
        361516586, 1119263216, 209458355, 45979201, 363681532, 477245280, 2107748241, 601938891,
        244572459, 1689418013, 1141711990, 1485744349, 1181066840, 1950794776, 410494836, 1445347454,
        2137242950, 852679640, 1014566730, 1999335993, 1871390758, 1736439305, 231222289, 603972436,
        783045542, 370384393, 184356284, 709706295, 1453549767, 591603172, 768512391, 854125182,
    ];
}
