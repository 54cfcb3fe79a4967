using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// The 64-bit key hashes of the matcher. The index stores these hashes instead of key strings
/// (a string per selector would blow the 120-byte budget); see <see cref="MatcherIndex"/> for the
/// collision policy. The functions are fixed (no per-process seed) because the snapshot file
/// stores them; they are not a defence against hash flooding, and need not be: only authenticated
/// holders can insert keys.
/// </summary>
internal static class KeyHasher
{
    // Multipliers from xxHash64 (public constants, odd, good bit dispersion).
    private const ulong P1 = 0x9E3779B185EBCA87UL;
    private const ulong P2 = 0xC2B2AE3D27D4EB4FUL;
    private const ulong P3 = 0x165667B19E3779F9UL;
    private const ulong HostSeed = 0x27D4EB2F165667C5UL;

    /// <summary>Hash of a key (canonical URL key, identifier text). Reads 4 UTF-16 units per step.</summary>
    public static ulong Hash(ReadOnlySpan<char> key)
    {
        var bytes = MemoryMarshal.AsBytes(key);
        var h = P3 ^ ((ulong)bytes.Length * P1);
        ref var start = ref MemoryMarshal.GetReference(bytes);
        var i = 0;
        var n = bytes.Length;
        for (; i + 16 <= n; i += 16)
        {
            var a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            var b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i + 8));
            h = (BitOperations.RotateLeft(h ^ (a * P2), 31) * P1) ^ (BitOperations.RotateLeft(b * P1, 27) * P2);
            h = BitOperations.RotateLeft(h, 23) * P3;
        }

        for (; i + 8 <= n; i += 8)
        {
            var a = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            h = BitOperations.RotateLeft(h ^ (BitOperations.RotateLeft(a * P2, 31) * P1), 27) * P1 + P3;
        }

        if (i < n)
        {
            // Tail: 2, 4 or 6 bytes (UTF-16), zero-extended.
            ulong tail = 0;
            for (var j = n - 1; j >= i; j--)
            {
                tail = (tail << 8) | Unsafe.Add(ref start, j);
            }

            h = BitOperations.RotateLeft(h ^ (tail * P1), 23) * P2;
        }

        return NonZero(Avalanche(h));
    }

    /// <summary>Hash of 8 raw bytes (SHA-256 prefix): already uniform, only made non-zero.</summary>
    public static ulong HashDigest(ReadOnlySpan<byte> digest) => NonZero(BinaryPrimitives.ReadUInt64LittleEndian(digest));

    /// <summary>Start state of the host hash, which runs from the last character to the first.</summary>
    public const ulong HostStart = HostSeed;

    /// <summary>
    /// One backward step of the host hash. Running it from the end of a host to each label boundary gives the
    /// hash of every label suffix (<c>com</c>, <c>example.com</c>, <c>a.example.com</c>) in one pass, which is
    /// how the check walks a host's suffixes with one table probe each (DESIGN.md "Serving checks fast").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HostStep(ulong state, char c) => (state ^ c) * P1;

    /// <summary>The hash of the suffix whose backward state is <paramref name="state"/> and length <paramref name="length"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong HostFinish(ulong state, int length) => NonZero(Avalanche(state ^ ((ulong)length * P2)));

    /// <summary>Hash of a whole host or authority (<c>host[:port]</c>), equal to the backward walk's value at position 0.</summary>
    public static ulong HostHash(ReadOnlySpan<char> host)
    {
        var state = HostStart;
        for (var i = host.Length - 1; i >= 0; i--)
        {
            state = HostStep(state, host[i]);
        }

        return HostFinish(state, host.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Avalanche(ulong h)
    {
        // MurmurHash3 fmix64.
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }

    /// <summary>0 marks an empty slot in <see cref="KeyTable"/>, so no key hashes to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong NonZero(ulong h) => h == 0 ? 1 : h;
}
