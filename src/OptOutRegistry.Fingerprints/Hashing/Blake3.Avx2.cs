using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptOutRegistry.Fingerprints.Hashing;

/// <summary>AVX2 path: eight whole chunks compressed side by side, one chunk per 32-bit lane.</summary>
public sealed partial class Blake3
{
    private const int ParallelChunks = 8;

    private static readonly Vector256<byte> Rot16Mask = Vector256.Create(
        (byte)2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);

    private static readonly Vector256<byte> Rot8Mask = Vector256.Create(
        (byte)1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Rot16(Vector256<uint> x) => Avx2.Shuffle(x.AsByte(), Rot16Mask).AsUInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Rot8(Vector256<uint> x) => Avx2.Shuffle(x.AsByte(), Rot8Mask).AsUInt32();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Rot12(Vector256<uint> x) => Avx2.ShiftRightLogical(x, 12) | Avx2.ShiftLeftLogical(x, 20);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Rot7(Vector256<uint> x) => Avx2.ShiftRightLogical(x, 7) | Avx2.ShiftLeftLogical(x, 25);

    /// <summary>
    /// Chaining values of 8 consecutive whole chunks (8 KiB) starting at chunk <paramref name="counter"/>, written
    /// as 8 × 8 words to <paramref name="cvs"/>. Same result as 8 calls of the scalar chunk compression.
    /// </summary>
    // Hot loop: compiled fully optimised at once instead of starting in tier 0 (matters for one-shot CLI runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CompressChunks8(ReadOnlySpan<byte> input, ReadOnlySpan<uint> key, ulong counter, uint flags, Span<uint> cvs)
    {
        ref var words = ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(input));
        var h0 = Vector256.Create(key[0]);
        var h1 = Vector256.Create(key[1]);
        var h2 = Vector256.Create(key[2]);
        var h3 = Vector256.Create(key[3]);
        var h4 = Vector256.Create(key[4]);
        var h5 = Vector256.Create(key[5]);
        var h6 = Vector256.Create(key[6]);
        var h7 = Vector256.Create(key[7]);
        var counterLow = Vector256.Create(
            (uint)counter, (uint)(counter + 1), (uint)(counter + 2), (uint)(counter + 3),
            (uint)(counter + 4), (uint)(counter + 5), (uint)(counter + 6), (uint)(counter + 7));
        var counterHigh = Vector256.Create(
            (uint)(counter >> 32), (uint)((counter + 1) >> 32), (uint)((counter + 2) >> 32), (uint)((counter + 3) >> 32),
            (uint)((counter + 4) >> 32), (uint)((counter + 5) >> 32), (uint)((counter + 6) >> 32), (uint)((counter + 7) >> 32));
        var blockLength = Vector256.Create((uint)BlockLength);

        for (var b = 0; b < ChunkLength / BlockLength; b++)
        {
            var blockFlags = flags | (b == 0 ? ChunkStart : 0) | (b == (ChunkLength / BlockLength) - 1 ? ChunkEnd : 0);
            var offset = (nuint)(b * 16);
            Transpose(ref words, offset, out var m0, out var m1, out var m2, out var m3, out var m4, out var m5, out var m6, out var m7);
            Transpose(ref words, offset + 8, out var m8, out var m9, out var m10, out var m11, out var m12, out var m13, out var m14, out var m15);

            Vector256<uint> s0 = h0, s1 = h1, s2 = h2, s3 = h3, s4 = h4, s5 = h5, s6 = h6, s7 = h7;
            var s8 = Vector256.Create(Iv0);
            var s9 = Vector256.Create(Iv1);
            var s10 = Vector256.Create(Iv2);
            var s11 = Vector256.Create(Iv3);
            var s12 = counterLow;
            var s13 = counterHigh;
            var s14 = blockLength;
            var s15 = Vector256.Create(blockFlags);

            // Round 1.
            s0 += s4 + m0;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m1;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m2;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m3;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m4;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m5;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m6;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m7;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m8;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m9;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m10;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m11;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m12;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m13;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m14;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m15;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 2.
            s0 += s4 + m2;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m6;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m3;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m10;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m7;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m0;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m4;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m13;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m1;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m11;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m12;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m5;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m9;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m14;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m15;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m8;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 3.
            s0 += s4 + m3;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m4;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m10;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m12;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m13;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m2;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m7;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m14;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m6;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m5;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m9;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m0;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m11;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m15;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m8;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m1;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 4.
            s0 += s4 + m10;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m7;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m12;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m9;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m14;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m3;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m13;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m15;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m4;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m0;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m11;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m2;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m5;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m8;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m1;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m6;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 5.
            s0 += s4 + m12;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m13;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m9;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m11;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m15;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m10;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m14;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m8;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m7;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m2;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m5;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m3;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m0;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m1;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m6;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m4;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 6.
            s0 += s4 + m9;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m14;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m11;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m5;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m8;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m12;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m15;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m1;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m13;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m3;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m0;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m10;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m2;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m6;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m4;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m7;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);
            // Round 7.
            s0 += s4 + m11;
            s12 = Rot16(s12 ^ s0);
            s8 += s12;
            s4 = Rot12(s4 ^ s8);
            s0 += s4 + m15;
            s12 = Rot8(s12 ^ s0);
            s8 += s12;
            s4 = Rot7(s4 ^ s8);
            s1 += s5 + m5;
            s13 = Rot16(s13 ^ s1);
            s9 += s13;
            s5 = Rot12(s5 ^ s9);
            s1 += s5 + m0;
            s13 = Rot8(s13 ^ s1);
            s9 += s13;
            s5 = Rot7(s5 ^ s9);
            s2 += s6 + m1;
            s14 = Rot16(s14 ^ s2);
            s10 += s14;
            s6 = Rot12(s6 ^ s10);
            s2 += s6 + m9;
            s14 = Rot8(s14 ^ s2);
            s10 += s14;
            s6 = Rot7(s6 ^ s10);
            s3 += s7 + m8;
            s15 = Rot16(s15 ^ s3);
            s11 += s15;
            s7 = Rot12(s7 ^ s11);
            s3 += s7 + m6;
            s15 = Rot8(s15 ^ s3);
            s11 += s15;
            s7 = Rot7(s7 ^ s11);
            s0 += s5 + m14;
            s15 = Rot16(s15 ^ s0);
            s10 += s15;
            s5 = Rot12(s5 ^ s10);
            s0 += s5 + m10;
            s15 = Rot8(s15 ^ s0);
            s10 += s15;
            s5 = Rot7(s5 ^ s10);
            s1 += s6 + m2;
            s12 = Rot16(s12 ^ s1);
            s11 += s12;
            s6 = Rot12(s6 ^ s11);
            s1 += s6 + m12;
            s12 = Rot8(s12 ^ s1);
            s11 += s12;
            s6 = Rot7(s6 ^ s11);
            s2 += s7 + m3;
            s13 = Rot16(s13 ^ s2);
            s8 += s13;
            s7 = Rot12(s7 ^ s8);
            s2 += s7 + m4;
            s13 = Rot8(s13 ^ s2);
            s8 += s13;
            s7 = Rot7(s7 ^ s8);
            s3 += s4 + m7;
            s14 = Rot16(s14 ^ s3);
            s9 += s14;
            s4 = Rot12(s4 ^ s9);
            s3 += s4 + m13;
            s14 = Rot8(s14 ^ s3);
            s9 += s14;
            s4 = Rot7(s4 ^ s9);

            h0 = s0 ^ s8;
            h1 = s1 ^ s9;
            h2 = s2 ^ s10;
            h3 = s3 ^ s11;
            h4 = s4 ^ s12;
            h5 = s5 ^ s13;
            h6 = s6 ^ s14;
            h7 = s7 ^ s15;
        }

        Span<uint> lane = stackalloc uint[8];
        Store(h0, 0, lane, cvs);
        Store(h1, 1, lane, cvs);
        Store(h2, 2, lane, cvs);
        Store(h3, 3, lane, cvs);
        Store(h4, 4, lane, cvs);
        Store(h5, 5, lane, cvs);
        Store(h6, 6, lane, cvs);
        Store(h7, 7, lane, cvs);
    }

    private static void Store(Vector256<uint> h, int word, Span<uint> lane, Span<uint> cvs)
    {
        h.CopyTo(lane);
        for (var j = 0; j < ParallelChunks; j++)
        {
            cvs[(j * 8) + word] = lane[j];
        }
    }

    // Loads words [offset, offset + 8) of the current block from each of the 8 chunks (rows) and transposes
    // them so that m_k holds word k of every chunk.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(
        ref uint words, nuint offset,
        out Vector256<uint> m0, out Vector256<uint> m1, out Vector256<uint> m2, out Vector256<uint> m3,
        out Vector256<uint> m4, out Vector256<uint> m5, out Vector256<uint> m6, out Vector256<uint> m7)
    {
        const nuint chunkWords = ChunkLength / 4;
        var r0 = Vector256.LoadUnsafe(ref words, offset);
        var r1 = Vector256.LoadUnsafe(ref words, offset + chunkWords);
        var r2 = Vector256.LoadUnsafe(ref words, offset + (2 * chunkWords));
        var r3 = Vector256.LoadUnsafe(ref words, offset + (3 * chunkWords));
        var r4 = Vector256.LoadUnsafe(ref words, offset + (4 * chunkWords));
        var r5 = Vector256.LoadUnsafe(ref words, offset + (5 * chunkWords));
        var r6 = Vector256.LoadUnsafe(ref words, offset + (6 * chunkWords));
        var r7 = Vector256.LoadUnsafe(ref words, offset + (7 * chunkWords));

        var t0 = Avx2.UnpackLow(r0, r1).AsUInt64();
        var t1 = Avx2.UnpackHigh(r0, r1).AsUInt64();
        var t2 = Avx2.UnpackLow(r2, r3).AsUInt64();
        var t3 = Avx2.UnpackHigh(r2, r3).AsUInt64();
        var t4 = Avx2.UnpackLow(r4, r5).AsUInt64();
        var t5 = Avx2.UnpackHigh(r4, r5).AsUInt64();
        var t6 = Avx2.UnpackLow(r6, r7).AsUInt64();
        var t7 = Avx2.UnpackHigh(r6, r7).AsUInt64();

        var u0 = Avx2.UnpackLow(t0, t2).AsUInt32();
        var u1 = Avx2.UnpackHigh(t0, t2).AsUInt32();
        var u2 = Avx2.UnpackLow(t1, t3).AsUInt32();
        var u3 = Avx2.UnpackHigh(t1, t3).AsUInt32();
        var u4 = Avx2.UnpackLow(t4, t6).AsUInt32();
        var u5 = Avx2.UnpackHigh(t4, t6).AsUInt32();
        var u6 = Avx2.UnpackLow(t5, t7).AsUInt32();
        var u7 = Avx2.UnpackHigh(t5, t7).AsUInt32();

        m0 = Avx2.Permute2x128(u0, u4, 0x20);
        m4 = Avx2.Permute2x128(u0, u4, 0x31);
        m1 = Avx2.Permute2x128(u1, u5, 0x20);
        m5 = Avx2.Permute2x128(u1, u5, 0x31);
        m2 = Avx2.Permute2x128(u2, u6, 0x20);
        m6 = Avx2.Permute2x128(u2, u6, 0x31);
        m3 = Avx2.Permute2x128(u3, u7, 0x20);
        m7 = Avx2.Permute2x128(u3, u7, 0x31);
    }
}
