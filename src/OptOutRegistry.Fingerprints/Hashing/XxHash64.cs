using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Fingerprints.Hashing;

/// <summary>
/// XXH64 (xxHash 64-bit, spec: Cyan4973/xxHash doc/xxhash_spec.md, "XXH64 Algorithm Description").
/// One-shot through <see cref="HashToUInt64"/>, incremental through an instance; both agree for any chunking.
/// </summary>
public sealed class XxHash64
{
    private const ulong Prime1 = 11400714785074694791UL;
    private const ulong Prime2 = 14029467366897019727UL;
    private const ulong Prime3 = 1609587929392839161UL;
    private const ulong Prime4 = 9650029242287828579UL;
    private const ulong Prime5 = 2870177450012600261UL;
    private const int StripeSize = 32;

    private readonly ulong _seed;
    private ulong _v1;
    private ulong _v2;
    private ulong _v3;
    private ulong _v4;
    private ulong _totalLength;
    private readonly byte[] _buffer = new byte[StripeSize];
    private int _bufferLength;

    /// <summary>Creates an incremental XXH64 hasher with the given seed (default 0).</summary>
    public XxHash64(ulong seed = 0)
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
    public ulong GetCurrentHashAsUInt64()
    {
        ulong h;
        if (_totalLength >= StripeSize)
        {
            h = Converge(_v1, _v2, _v3, _v4);
        }
        else
        {
            h = unchecked(_seed + Prime5);
        }

        h = unchecked(h + _totalLength);
        return Finish(h, _buffer.AsSpan(0, _bufferLength));
    }

    /// <summary>Returns the hash of everything appended so far and resets for reuse.</summary>
    public ulong GetHashAndReset()
    {
        var h = GetCurrentHashAsUInt64();
        Reset();
        return h;
    }

    /// <summary>One-shot XXH64 of <paramref name="source"/>.</summary>
    public static ulong HashToUInt64(ReadOnlySpan<byte> source, ulong seed = 0)
    {
        ulong h;
        var len = source.Length;
        if (len >= StripeSize)
        {
            ulong v1 = unchecked(seed + Prime1 + Prime2), v2 = unchecked(seed + Prime2), v3 = seed, v4 = unchecked(seed - Prime1);
            var whole = len & ~(StripeSize - 1);
            for (var i = 0; i < whole; i += StripeSize)
            {
                v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(source[i..]));
                v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(source[(i + 8)..]));
                v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(source[(i + 16)..]));
                v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(source[(i + 24)..]));
            }

            h = Converge(v1, v2, v3, v4);
            source = source[whole..];
        }
        else
        {
            h = unchecked(seed + Prime5);
        }

        h = unchecked(h + (ulong)len);
        return Finish(h, source);
    }

    /// <summary>Hashes a whole stream with XXH64, reading it in blocks.</summary>
    public static ulong HashStream(Stream stream, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var hasher = new XxHash64(seed);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hasher.Append(buffer.AsSpan(0, read));
        }

        return hasher.GetCurrentHashAsUInt64();
    }

    private void ProcessStripes(ReadOnlySpan<byte> data)
    {
        ulong v1 = _v1, v2 = _v2, v3 = _v3, v4 = _v4;
        for (var i = 0; i < data.Length; i += StripeSize)
        {
            v1 = Round(v1, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
            v2 = Round(v2, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 8)..]));
            v3 = Round(v3, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 16)..]));
            v4 = Round(v4, BinaryPrimitives.ReadUInt64LittleEndian(data[(i + 24)..]));
        }

        _v1 = v1;
        _v2 = v2;
        _v3 = v3;
        _v4 = v4;
    }

    private static ulong Converge(ulong v1, ulong v2, ulong v3, ulong v4)
    {
        var h = BitOperations.RotateLeft(v1, 1) + BitOperations.RotateLeft(v2, 7)
                + BitOperations.RotateLeft(v3, 12) + BitOperations.RotateLeft(v4, 18);
        h = MergeRound(h, v1);
        h = MergeRound(h, v2);
        h = MergeRound(h, v3);
        return MergeRound(h, v4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Round(ulong acc, ulong lane) =>
        BitOperations.RotateLeft(unchecked(acc + (lane * Prime2)), 31) * Prime1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MergeRound(ulong acc, ulong value)
    {
        acc ^= Round(0, value);
        return unchecked((acc * Prime1) + Prime4);
    }

    private static ulong Finish(ulong h, ReadOnlySpan<byte> tail)
    {
        var i = 0;
        for (; i + 8 <= tail.Length; i += 8)
        {
            h ^= Round(0, BinaryPrimitives.ReadUInt64LittleEndian(tail[i..]));
            h = unchecked((BitOperations.RotateLeft(h, 27) * Prime1) + Prime4);
        }

        if (i + 4 <= tail.Length)
        {
            h ^= BinaryPrimitives.ReadUInt32LittleEndian(tail[i..]) * Prime1;
            h = unchecked((BitOperations.RotateLeft(h, 23) * Prime2) + Prime3);
            i += 4;
        }

        for (; i < tail.Length; i++)
        {
            h ^= tail[i] * Prime5;
            h = BitOperations.RotateLeft(h, 11) * Prime1;
        }

        h ^= h >> 33;
        h *= Prime2;
        h ^= h >> 29;
        h *= Prime3;
        h ^= h >> 32;
        return h;
    }
}
