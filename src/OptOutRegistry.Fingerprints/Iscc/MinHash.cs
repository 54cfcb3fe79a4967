using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// The ISCC MinHash (iscc-core <c>minhash.py</c>): 64 universal hash permutations
/// h_i(f) = (((a_i·f + b_i) mod 2^64) mod (2^61 − 1)) mod 2^32, minimum over all features.
/// </summary>
/// <remarks>
/// Where the time goes: every feature costs 64 permutations of a 64-bit multiply-add and a Mersenne
/// reduction. The vector path runs 4 permutations per 256-bit register (16 registers per feature):
/// the 64×32-bit product is two <c>vpmuludq</c> (a is split into 32-bit halves, f is 32-bit), the reduction
/// modulo 2^61 − 1 is shift/mask/add with the single conditional subtraction made branch-free, and the
/// minimum is taken on the low 32-bit lanes with <c>vpminud</c> (only the low 32 bits of each value are kept,
/// so the high lanes are never read). Features are processed in blocks so the accumulators of 4 registers
/// (16 permutations) stay in registers across a whole block.
/// </remarks>
public sealed class MinHash
{
    /// <summary>Number of permutations.</summary>
    public const int Permutations = 64;

    private const ulong MersennePrime = (1UL << 61) - 1;

    private static readonly ulong[] Mpa =
    [
        853146490016488653, 1849332765672628665, 1131688930666554379, 1936485333668353377,
        890837126813020267, 1988249303247129861, 1408894512544874755, 2140251716176616185,
        1755124413189049421, 1355916793659431597, 546586563822844083, 497603761441203021,
        2000709902557454173, 1057597903350092207, 1576204252850880253, 2078784234495706739,
        1022616668454863635, 2150082342606334489, 712341150087765807, 1511757510246096559,
        1525853819909660573, 1263771796138990131, 1215963627200985263, 590069150281426443,
        130824646248385081, 962725325544728503, 1702561325943522847, 296074222435072629,
        490211158716051523, 1255327197241792767, 699458998727907367, 32930168991409845,
        1985097843455124585, 362027841570125531, 1903252144040897835, 900391845076405289,
        547470123601853551, 1689373724032359119, 845594231933442371, 400331968021206285,
        174967108345233429, 876513700861085019, 505848386844809885, 1920468508342256199,
        1292611725303815789, 963317239501343903, 1730880032297268007, 284614929850059717,
        1185026248283273081, 2167288823816985197, 1214905315086686483, 1555253098157439857,
        1048013650291539723, 1238618594841147605, 1213502582686547311, 286300733803129311,
        1250358511639043529, 407534797452854371, 960869149538623787, 1722699901467253087,
        1325704236119824319, 196979859428570839, 1669408735473259699, 781336617016068757,
    ];

    private static readonly ulong[] Mpb =
    [
        1089606993368836715, 726972438868274737, 66204585613901025, 1078410179646709132,
        1343470117098523467, 698653121981343911, 1248486536592473639, 1447963007834012793,
        1034598851883537815, 1474008409379745934, 793773480906057541, 980501101461882479,
        963941556313537655, 233651787311327325, 243905121737149907, 570269452476776142,
        297633284648631084, 1516796967247398557, 1494795672066692649, 1728741177365151059,
        1029197538967983408, 1660732464170610344, 1399769594446678069, 506465470557005705,
        1279720146829545181, 860096419955634036, 411519685280832908, 69539191273403207,
        1960489729088056217, 605092075716397684, 1017496016211653149, 1304834535101321372,
        949013511180032347, 1142776242221098779, 576980004709031232, 1071272177143100544,
        1494527341093835499, 1073290814142727850, 1285904200674942617, 1277176606329477335,
        343788427301735585, 2100915269685487331, 1227711252031557450, 18593166391963377,
        2101884148332688233, 191808277534686888, 2170124912729392024, 918430470748151293,
        1831024560113812361, 1951365515851067694, 744352348473654499, 1921518311887826722,
        2020165648600700886, 1764930142256726985, 1903893374912839788, 1449378957774802122,
        1435825328374066345, 833197549717762813, 2238991044337210799, 748955638857938366,
        1834583747494146901, 222012292803592982, 901238460725547841, 1501611130776083278,
    ];

    private static readonly ulong[] MpaHigh = BuildHigh();

    private readonly uint[] _min = new uint[Permutations];
    private bool _any;

    /// <summary>Creates an empty MinHash accumulator.</summary>
    public MinHash()
    {
        Reset();
    }

    private static ulong[] BuildHigh()
    {
        var high = new ulong[Permutations];
        for (var i = 0; i < Permutations; i++)
        {
            high[i] = Mpa[i] >> 32;
        }

        return high;
    }

    /// <summary>True once at least one feature was added.</summary>
    public bool HasFeatures => _any;

    /// <summary>Forgets all features.</summary>
    public void Reset()
    {
        Array.Fill(_min, uint.MaxValue);
        _any = false;
    }

    /// <summary>Adds a block of 32-bit features.</summary>
    public void Add(ReadOnlySpan<uint> features)
    {
        if (features.IsEmpty)
        {
            return;
        }

        _any = true;
        if (Avx2.IsSupported)
        {
            AddAvx2(features, _min);
        }
        else
        {
            AddScalar(features, _min);
        }
    }

    /// <summary>Adds one feature.</summary>
    public void Add(uint feature) => Add([feature]);

    /// <summary>The 64 minimum values (valid once a feature was added).</summary>
    public ReadOnlySpan<uint> Values => _min;

    /// <summary>
    /// iscc-core <c>alg_minhash_compress</c>: concatenates bit <c>bitpos</c> of all 64 values for bitpos 0..lsb−1
    /// into a big-endian bit string (lsb = 4 gives the 256-bit digest, lsb = 1 the 64-bit one).
    /// </summary>
    public static byte[] Compress(ReadOnlySpan<uint> values, int lsb)
    {
        var bits = values.Length * lsb;
        var output = new byte[(bits + 7) / 8];
        var pos = (output.Length * 8) - bits; // int(bits, 2).to_bytes(...) right-aligns the bit string
        for (var bitpos = 0; bitpos < lsb; bitpos++)
        {
            foreach (var h in values)
            {
                if (((h >> bitpos) & 1) != 0)
                {
                    output[pos >> 3] |= (byte)(0x80 >> (pos & 7));
                }

                pos++;
            }
        }

        return output;
    }

    /// <summary>The 256-bit digest (<c>alg_minhash_256</c>).</summary>
    public byte[] Digest256() => Compress(_min, 4);

    /// <summary>The 64-bit digest (<c>alg_minhash_64</c>).</summary>
    public byte[] Digest64() => Compress(_min, 1);

    /// <summary>One permutation, exactly as iscc-core computes it (reference for tests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Permute(int i, uint feature)
    {
        var x = unchecked((Mpa[i] * feature) + Mpb[i]);
        return (uint)(x % MersennePrime);
    }

    internal static void AddScalar(ReadOnlySpan<uint> features, Span<uint> min)
    {
        for (var i = 0; i < Permutations; i++)
        {
            var a = Mpa[i];
            var b = Mpb[i];
            var m = min[i];
            foreach (var f in features)
            {
                var x = unchecked((a * f) + b);
                // x mod (2^61-1) for x < 2^64: t = (x & p) + (x >> 61) is at most p + 7, so one
                // subtraction of p (done when t + 1 reaches 2^61) completes the reduction.
                var t = (x & MersennePrime) + (x >> 61);
                t += (t + 1) >> 61;
                var h = (uint)t;
                m = h < m ? h : m;
            }

            min[i] = m;
        }
    }

    // Hot loop: compiled fully optimised at once instead of starting in tier 0 (matters for one-shot CLI runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddAvx2(ReadOnlySpan<uint> features, Span<uint> min)
    {
        var mask61 = Vector256.Create(MersennePrime);
        var one = Vector256.Create(1UL);
        Span<uint> lane = stackalloc uint[8];

        // 4 registers x 4 permutations = 16 permutations per pass over the features.
        for (var g = 0; g < Permutations; g += 16)
        {
            var a0 = Vector256.Create(Mpa[g], Mpa[g + 1], Mpa[g + 2], Mpa[g + 3]);
            var a1 = Vector256.Create(Mpa[g + 4], Mpa[g + 5], Mpa[g + 6], Mpa[g + 7]);
            var a2 = Vector256.Create(Mpa[g + 8], Mpa[g + 9], Mpa[g + 10], Mpa[g + 11]);
            var a3 = Vector256.Create(Mpa[g + 12], Mpa[g + 13], Mpa[g + 14], Mpa[g + 15]);
            var h0 = Vector256.Create(MpaHigh[g], MpaHigh[g + 1], MpaHigh[g + 2], MpaHigh[g + 3]);
            var h1 = Vector256.Create(MpaHigh[g + 4], MpaHigh[g + 5], MpaHigh[g + 6], MpaHigh[g + 7]);
            var h2 = Vector256.Create(MpaHigh[g + 8], MpaHigh[g + 9], MpaHigh[g + 10], MpaHigh[g + 11]);
            var h3 = Vector256.Create(MpaHigh[g + 12], MpaHigh[g + 13], MpaHigh[g + 14], MpaHigh[g + 15]);
            var b0 = Vector256.Create(Mpb[g], Mpb[g + 1], Mpb[g + 2], Mpb[g + 3]);
            var b1 = Vector256.Create(Mpb[g + 4], Mpb[g + 5], Mpb[g + 6], Mpb[g + 7]);
            var b2 = Vector256.Create(Mpb[g + 8], Mpb[g + 9], Mpb[g + 10], Mpb[g + 11]);
            var b3 = Vector256.Create(Mpb[g + 12], Mpb[g + 13], Mpb[g + 14], Mpb[g + 15]);

            // Accumulators: the low 32-bit lane of each 64-bit lane holds the running minimum.
            var m0 = Vector256.Create((ulong)min[g], min[g + 1], min[g + 2], min[g + 3]).AsUInt32();
            var m1 = Vector256.Create((ulong)min[g + 4], min[g + 5], min[g + 6], min[g + 7]).AsUInt32();
            var m2 = Vector256.Create((ulong)min[g + 8], min[g + 9], min[g + 10], min[g + 11]).AsUInt32();
            var m3 = Vector256.Create((ulong)min[g + 12], min[g + 13], min[g + 14], min[g + 15]).AsUInt32();

            foreach (var f in features)
            {
                var fv = Vector256.Create((ulong)f).AsUInt32();
                m0 = Avx2.Min(m0, Lane(a0, h0, b0, fv, mask61, one));
                m1 = Avx2.Min(m1, Lane(a1, h1, b1, fv, mask61, one));
                m2 = Avx2.Min(m2, Lane(a2, h2, b2, fv, mask61, one));
                m3 = Avx2.Min(m3, Lane(a3, h3, b3, fv, mask61, one));
            }

            Store(m0, min[g..], lane);
            Store(m1, min[(g + 4)..], lane);
            Store(m2, min[(g + 8)..], lane);
            Store(m3, min[(g + 12)..], lane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Lane(
        Vector256<ulong> a, Vector256<ulong> aHigh, Vector256<ulong> b, Vector256<uint> f, Vector256<ulong> mask61, Vector256<ulong> one)
    {
        // a*f mod 2^64 with f < 2^32: lo(a)*f + (hi(a)*f << 32).
        var lo = Avx2.Multiply(a.AsUInt32(), f);
        var hi = Avx2.Multiply(aHigh.AsUInt32(), f);
        var x = lo + Avx2.ShiftLeftLogical(hi, 32) + b;
        var t = (x & mask61) + Avx2.ShiftRightLogical(x, 61);
        t += Avx2.ShiftRightLogical(t + one, 61);
        return t.AsUInt32();
    }

    private static void Store(Vector256<uint> m, Span<uint> destination, Span<uint> lane)
    {
        m.CopyTo(lane);
        destination[0] = lane[0];
        destination[1] = lane[2];
        destination[2] = lane[4];
        destination[3] = lane[6];
    }
}
