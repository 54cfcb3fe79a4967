using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Fingerprints.Hashing;

/// <summary>
/// XXH32 (xxHash 32-bit, spec: Cyan4973/xxHash doc/xxhash_spec.md, "XXH32 Algorithm Description").
/// Written here because System.IO.Hashing cannot be restored on the project's package source.
/// Use <see cref="HashToUInt32"/> for one-shot hashing or an instance for incremental hashing over
/// any chunking; both give the same value.
/// </summary>
public sealed class XxHash32
{
    internal const uint Prime1 = 2654435761U;
    internal const uint Prime2 = 2246822519U;
    internal const uint Prime3 = 3266489917U;
    internal const uint Prime4 = 668265263U;
    internal const uint Prime5 = 374761393U;
    private const int StripeSize = 16;

    private readonly uint _seed;
    private uint _v1;
    private uint _v2;
    private uint _v3;
    private uint _v4;
    private ulong _totalLength;
    private readonly byte[] _buffer = new byte[StripeSize];
    private int _bufferLength;

    /// <summary>Creates an incremental XXH32 hasher with the given seed (default 0).</summary>
    public XxHash32(uint seed = 0)
    {
        _seed = seed;
        Reset();
    }

    /// <summary>Discards all appended data and starts over with the same seed.</summary>
    public void Reset()
    {
        _v1 = unchecked(_seed + Prime1 + Prime2);
        _v2 = unchecked(_seed + Prime2);
        _v3 = _seed;
        _v4 = unchecked(_seed - Prime1);
        _totalLength = 0;
        _bufferLength = 0;
    }

    /// <summary>Appends bytes to the data being hashed.</summary>
    public void Append(ReadOnlySpan<byte> source)
    {
        _totalLength += (ulong)source.Length;
        if (_bufferLength > 0)
        {
            var take = Math.Min(StripeSize - _bufferLength, source.Length);
            source[..take].CopyTo(_buffer.AsSpan(_bufferLength));
            _bufferLength += take;
            source = source[take..];
            if (_bufferLength < StripeSize)
            {
                return;
            }

            ProcessStripes(_buffer);
            _bufferLength = 0;
        }

        var whole = source.Length & ~(StripeSize - 1);
        if (whole > 0)
        {
            ProcessStripes(source[..whole]);
            source = source[whole..];
        }

        source.CopyTo(_buffer);
        _bufferLength = source.Length;
    }

    /// <summary>Returns the hash of everything appended so far without resetting.</summary>
    public uint GetCurrentHashAsUInt32()
    {
        uint h = _totalLength >= StripeSize
            ? BitOperations.RotateLeft(_v1, 1) + BitOperations.RotateLeft(_v2, 7)
              + BitOperations.RotateLeft(_v3, 12) + BitOperations.RotateLeft(_v4, 18)
            : unchecked(_seed + Prime5);
        h = unchecked(h + (uint)_totalLength);
        return Finish(h, _buffer.AsSpan(0, _bufferLength));
    }

    /// <summary>Returns the hash of everything appended so far and resets for reuse.</summary>
    public uint GetHashAndReset()
    {
        var h = GetCurrentHashAsUInt32();
        Reset();
        return h;
    }

    /// <summary>One-shot XXH32 of <paramref name="source"/>.</summary>
    public static uint HashToUInt32(ReadOnlySpan<byte> source, uint seed = 0)
    {
        uint h;
        var len = source.Length;
        if (len >= StripeSize)
        {
            uint v1 = unchecked(seed + Prime1 + Prime2), v2 = unchecked(seed + Prime2), v3 = seed, v4 = unchecked(seed - Prime1);
            var whole = len & ~(StripeSize - 1);
            for (var i = 0; i < whole; i += StripeSize)
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt32LittleEndian(source[i..]));
                v2 = Round(v2, BinaryPrimitives.ReadUInt32LittleEndian(source[(i + 4)..]));
                v3 = Round(v3, BinaryPrimitives.ReadUInt32LittleEndian(source[(i + 8)..]));
                v4 = Round(v4, BinaryPrimitives.ReadUInt32LittleEndian(source[(i + 12)..]));
            }

            h = BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7)
                + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18);
            source = source[whole..];
        }
        else
        {
            h = unchecked(seed + Prime5);
        }

        h = unchecked(h + (uint)len);
        return Finish(h, source);
    }

    /// <summary>
    /// XXH32 (seed 0) of the 13 bytes at <paramref name="start"/>: the Text-Code window of ASCII text. Same
    /// result as <see cref="HashToUInt32"/>, unrolled for the fixed length (three 4-byte lanes and one byte).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Hash13(ref byte start)
    {
        var h = Prime5 + 13u;
        h = BitOperations.RotateLeft(h + (Unsafe.ReadUnaligned<uint>(ref start) * Prime3), 17) * Prime4;
        h = BitOperations.RotateLeft(h + (Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 4)) * Prime3), 17) * Prime4;
        h = BitOperations.RotateLeft(h + (Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 8)) * Prime3), 17) * Prime4;
        h = BitOperations.RotateLeft(h + (Unsafe.Add(ref start, 12) * Prime5), 11) * Prime1;
        h ^= h >> 15;
        h *= Prime2;
        h ^= h >> 13;
        h *= Prime3;
        h ^= h >> 16;
        return h;
    }

    /// <summary>Hashes a whole stream with XXH32, reading it in blocks.</summary>
    public static uint HashStream(Stream stream, uint seed = 0)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var hasher = new XxHash32(seed);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hasher.Append(buffer.AsSpan(0, read));
        }

        return hasher.GetCurrentHashAsUInt32();
    }

    private void ProcessStripes(ReadOnlySpan<byte> data)
    {
        uint v1 = _v1, v2 = _v2, v3 = _v3, v4 = _v4;
        for (var i = 0; i < data.Length; i += StripeSize)
        {
            v1 = Round(v1, BinaryPrimitives.ReadUInt32LittleEndian(data[i..]));
            v2 = Round(v2, BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]));
            v3 = Round(v3, BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 8)..]));
            v4 = Round(v4, BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 12)..]));
        }

        _v1 = v1;
        _v2 = v2;
        _v3 = v3;
        _v4 = v4;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Round(uint acc, uint lane) =>
        BitOperations.RotateLeft(unchecked(acc + (lane * Prime2)), 13) * Prime1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Finish(uint h, ReadOnlySpan<byte> tail)
    {
        // Spec step 5 ("consume remaining input"): 4-byte lanes, then single bytes.
        var i = 0;
        for (; i + 4 <= tail.Length; i += 4)
        {
            h = unchecked(h + (BinaryPrimitives.ReadUInt32LittleEndian(tail[i..]) * Prime3));
            h = BitOperations.RotateLeft(h, 17) * Prime4;
        }

        for (; i < tail.Length; i++)
        {
            h = unchecked(h + (tail[i] * Prime5));
            h = BitOperations.RotateLeft(h, 11) * Prime1;
        }

        // Step 6: final mix (avalanche).
        h ^= h >> 15;
        h *= Prime2;
        h ^= h >> 13;
        h *= Prime3;
        h ^= h >> 16;
        return h;
    }
}
