using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace OptOutRegistry.Fingerprints.Hashing;

/// <summary>
/// BLAKE3 (spec: "BLAKE3: one function, fast everywhere", 2020, and the reference implementation's
/// structure): hash, keyed hash, derive-key and extendable output of any length. Incremental through
/// <see cref="Append"/>; the result does not depend on how the input is chunked.
/// </summary>
/// <remarks>
/// Portable scalar code: one compression at a time (no SIMD lanes over chunks). No BLAKE3 package
/// can be restored on the project's package source (DESIGN.md), hence this implementation.
/// </remarks>
public sealed partial class Blake3
{
    /// <summary>The default output length in bytes (256 bits).</summary>
    public const int DefaultOutputLength = 32;

    /// <summary>The key length for keyed hashing, in bytes.</summary>
    public const int KeyLength = 32;

    internal const int BlockLength = 64;
    internal const int ChunkLength = 1024;

    // Spec §2.1 Table 3 (domain separation flags).
    internal const uint ChunkStart = 1 << 0;
    internal const uint ChunkEnd = 1 << 1;
    internal const uint Parent = 1 << 2;
    internal const uint Root = 1 << 3;
    internal const uint KeyedHash = 1 << 4;
    internal const uint DeriveKeyContext = 1 << 5;
    internal const uint DeriveKeyMaterial = 1 << 6;

    // Spec §2.2: IV is the SHA-256 IV.
    internal const uint Iv0 = 0x6A09E667;
    internal const uint Iv1 = 0xBB67AE85;
    internal const uint Iv2 = 0x3C6EF372;
    internal const uint Iv3 = 0xA54FF53A;
    internal const uint Iv4 = 0x510E527F;
    internal const uint Iv5 = 0x9B05688C;
    internal const uint Iv6 = 0x1F83D9AB;
    internal const uint Iv7 = 0x5BE0CD19;

    // A tree over 2^64 chunks has at most 54 levels (2^64 bytes / 2^10 bytes per chunk).
    private const int MaxDepth = 54;

    private readonly uint[] _key = new uint[8];
    private readonly uint _flags;
    private readonly uint[] _cvStack = new uint[MaxDepth * 8];
    private int _cvStackLength;

    // Current chunk state.
    private readonly uint[] _chunkCv = new uint[8];
    private ulong _chunkCounter;
    private readonly byte[] _block = new byte[BlockLength];
    private int _blockLength;
    private int _blocksCompressed;

    private Blake3(ReadOnlySpan<uint> key, uint flags)
    {
        key.CopyTo(_key);
        _flags = flags;
        Reset();
    }

    /// <summary>Creates a hasher for the plain BLAKE3 hash mode.</summary>
    public Blake3()
        : this([Iv0, Iv1, Iv2, Iv3, Iv4, Iv5, Iv6, Iv7], 0)
    {
    }

    /// <summary>Creates a hasher for the keyed-hash mode (a MAC / PRF) with a 32-byte key.</summary>
    /// <exception cref="ArgumentException">The key is not exactly 32 bytes.</exception>
    public static Blake3 CreateKeyed(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException($"key: BLAKE3 keys are {KeyLength} bytes, got {key.Length}.", nameof(key));
        }

        Span<uint> words = stackalloc uint[8];
        LoadWords(key, words);
        return new Blake3(words, KeyedHash);
    }

    /// <summary>
    /// Creates a hasher for the derive-key mode: <paramref name="context"/> should be a hard-coded,
    /// globally unique, application-specific string; the key material is then appended.
    /// </summary>
    public static Blake3 CreateDeriveKey(string context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var contextHasher = new Blake3([Iv0, Iv1, Iv2, Iv3, Iv4, Iv5, Iv6, Iv7], DeriveKeyContext);
        contextHasher.Append(Encoding.UTF8.GetBytes(context));
        Span<byte> contextKey = stackalloc byte[KeyLength];
        contextHasher.Finalize(contextKey);
        Span<uint> words = stackalloc uint[8];
        LoadWords(contextKey, words);
        return new Blake3(words, DeriveKeyMaterial);
    }

    /// <summary>One-shot BLAKE3 hash; <paramref name="output"/> may be any length (extendable output).</summary>
    public static void Hash(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var hasher = new Blake3();
        hasher.Append(input);
        hasher.Finalize(output);
    }

    /// <summary>One-shot BLAKE3 hash returning the default 32-byte digest.</summary>
    public static byte[] Hash(ReadOnlySpan<byte> input)
    {
        var output = new byte[DefaultOutputLength];
        Hash(input, output);
        return output;
    }

    /// <summary>One-shot keyed hash (32-byte key); <paramref name="output"/> may be any length.</summary>
    public static void KeyedHashOf(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        var hasher = CreateKeyed(key);
        hasher.Append(input);
        hasher.Finalize(output);
    }

    /// <summary>One-shot key derivation; <paramref name="output"/> may be any length.</summary>
    public static void DeriveKey(string context, ReadOnlySpan<byte> keyMaterial, Span<byte> output)
    {
        var hasher = CreateDeriveKey(context);
        hasher.Append(keyMaterial);
        hasher.Finalize(output);
    }

    /// <summary>Hashes a whole stream and returns the 32-byte digest.</summary>
    public static byte[] HashStream(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var hasher = new Blake3();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hasher.Append(buffer.AsSpan(0, read));
        }

        var output = new byte[DefaultOutputLength];
        hasher.Finalize(output);
        return output;
    }

    /// <summary>Discards all appended data; the mode and key are kept.</summary>
    public void Reset()
    {
        _cvStackLength = 0;
        StartChunk(0);
    }

    /// <summary>Appends input bytes.</summary>
    public void Append(ReadOnlySpan<byte> input)
    {
        Span<uint> cv = stackalloc uint[8];
        Span<uint> cvs = stackalloc uint[ParallelChunks * 8];
        while (!input.IsEmpty)
        {
            // A full chunk is only finished once more input arrives: the last chunk may be the root.
            if (ChunkBytes == ChunkLength)
            {
                ChunkOutputCv(cv);
                PushChunkCv(cv, _chunkCounter + 1);
                StartChunk(_chunkCounter + 1);
            }

            // Fast path: 8 chunks at a time in AVX2 lanes. Strictly more input must remain, so none of them
            // can be the root chunk.
            if (Avx2.IsSupported && BitConverter.IsLittleEndian)
            {
                while (ChunkBytes == 0 && input.Length > ParallelChunks * ChunkLength)
                {
                    CompressChunks8(input, _key, _chunkCounter, _flags, cvs);
                    for (var j = 0; j < ParallelChunks; j++)
                    {
                        PushChunkCv(cvs.Slice(j * 8, 8), _chunkCounter + 1);
                        StartChunk(_chunkCounter + 1);
                    }

                    input = input[(ParallelChunks * ChunkLength)..];
                }
            }

            // Whole chunks straight from the input, without copying into the block buffer.
            while (ChunkBytes == 0 && input.Length > ChunkLength)
            {
                CompressWholeChunk(input[..ChunkLength], cv);
                PushChunkCv(cv, _chunkCounter + 1);
                StartChunk(_chunkCounter + 1);
                input = input[ChunkLength..];
            }

            // Fill the current chunk block by block, keeping the final block buffered.
            while (!input.IsEmpty && ChunkBytes < ChunkLength)
            {
                if (_blockLength == BlockLength)
                {
                    CompressBlock(_block, BlockLength, StartFlag);
                    _blocksCompressed++;
                    _blockLength = 0;
                }

                var take = Math.Min(BlockLength - _blockLength, input.Length);
                input[..take].CopyTo(_block.AsSpan(_blockLength));
                _blockLength += take;
                input = input[take..];
            }
        }
    }

    /// <summary>
    /// Writes the extendable output for everything appended so far into <paramref name="output"/> (any length).
    /// Does not change the state, so more input may be appended afterwards.
    /// </summary>
    public void Finalize(Span<byte> output)
    {
        Span<uint> inputCv = stackalloc uint[8];
        Span<uint> blockWords = stackalloc uint[16];
        ulong counter;
        uint blockLength;
        uint flags;

        // Root candidate: the current chunk's final block.
        _chunkCv.CopyTo(inputCv);
        LoadBlockWords(_block.AsSpan(0, _blockLength), blockWords);
        counter = _chunkCounter;
        blockLength = (uint)_blockLength;
        flags = _flags | StartFlag | ChunkEnd;

        // Merge with the stacked subtrees from the right edge up.
        Span<uint> cv = stackalloc uint[8];
        Span<uint> outWords = stackalloc uint[16];
        for (var i = _cvStackLength - 1; i >= 0; i--)
        {
            Compress(inputCv, blockWords, counter, blockLength, flags, outWords);
            outWords[..8].CopyTo(cv);
            _cvStack.AsSpan(i * 8, 8).CopyTo(blockWords);
            cv.CopyTo(blockWords[8..]);
            _key.CopyTo(inputCv);
            counter = 0;
            blockLength = BlockLength;
            flags = _flags | Parent;
        }

        // Root output: counter increments per 64-byte block of output (spec §2.6).
        Span<uint> rootWords = stackalloc uint[16];
        ulong outputCounter = 0;
        while (!output.IsEmpty)
        {
            Compress(inputCv, blockWords, outputCounter, blockLength, flags | Root, rootWords);
            var n = Math.Min(BlockLength, output.Length);
            var wordBytes = MemoryMarshal.AsBytes(rootWords);
            if (BitConverter.IsLittleEndian)
            {
                wordBytes[..n].CopyTo(output);
            }
            else
            {
                for (var j = 0; j < n; j++)
                {
                    output[j] = (byte)(rootWords[j >> 2] >> (8 * (j & 3)));
                }
            }

            output = output[n..];
            outputCounter++;
        }
    }

    /// <summary>Writes the output into <paramref name="output"/> and resets the hasher.</summary>
    public void GetHashAndReset(Span<byte> output)
    {
        Finalize(output);
        Reset();
    }

    private int ChunkBytes => (_blocksCompressed * BlockLength) + _blockLength;

    private uint StartFlag => _blocksCompressed == 0 ? ChunkStart : 0;

    private void StartChunk(ulong counter)
    {
        _key.CopyTo(_chunkCv, 0);
        _chunkCounter = counter;
        _blockLength = 0;
        _blocksCompressed = 0;
    }

    private void CompressBlock(ReadOnlySpan<byte> block, int length, uint extraFlags)
    {
        Span<uint> words = stackalloc uint[16];
        LoadBlockWords(block[..length], words);
        Span<uint> outWords = stackalloc uint[16];
        Compress(_chunkCv, words, _chunkCounter, (uint)length, _flags | extraFlags, outWords);
        outWords[..8].CopyTo(_chunkCv);
    }

    private void CompressWholeChunk(ReadOnlySpan<byte> chunk, Span<uint> cvOut)
    {
        _key.CopyTo(cvOut);
        Span<uint> words = stackalloc uint[16];
        Span<uint> outWords = stackalloc uint[16];
        for (var b = 0; b < ChunkLength / BlockLength; b++)
        {
            LoadWords(chunk.Slice(b * BlockLength, BlockLength), words);
            var f = _flags | (b == 0 ? ChunkStart : 0) | (b == (ChunkLength / BlockLength) - 1 ? ChunkEnd : 0);
            Compress(cvOut, words, _chunkCounter, BlockLength, f, outWords);
            outWords[..8].CopyTo(cvOut);
        }
    }

    private void ChunkOutputCv(Span<uint> cvOut)
    {
        Span<uint> words = stackalloc uint[16];
        LoadBlockWords(_block.AsSpan(0, _blockLength), words);
        Span<uint> outWords = stackalloc uint[16];
        Compress(_chunkCv, words, _chunkCounter, (uint)_blockLength, _flags | StartFlag | ChunkEnd, outWords);
        outWords[..8].CopyTo(cvOut);
    }

    // Spec §5.1.2: merge completed subtrees while the total chunk count has trailing zero bits.
    private void PushChunkCv(ReadOnlySpan<uint> chunkCv, ulong totalChunks)
    {
        Span<uint> cv = stackalloc uint[8];
        chunkCv.CopyTo(cv);
        Span<uint> block = stackalloc uint[16];
        Span<uint> outWords = stackalloc uint[16];
        while ((totalChunks & 1) == 0)
        {
            _cvStackLength--;
            _cvStack.AsSpan(_cvStackLength * 8, 8).CopyTo(block);
            cv.CopyTo(block[8..]);
            Compress(_key, block, 0, BlockLength, _flags | Parent, outWords);
            outWords[..8].CopyTo(cv);
            totalChunks >>= 1;
        }

        cv.CopyTo(_cvStack.AsSpan(_cvStackLength * 8, 8));
        _cvStackLength++;
    }

    private static void LoadWords(ReadOnlySpan<byte> bytes, Span<uint> words)
    {
        for (var i = 0; i < words.Length; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]);
        }
    }

    private static void LoadBlockWords(ReadOnlySpan<byte> partial, Span<uint> words)
    {
        Span<byte> padded = stackalloc byte[BlockLength];
        padded.Clear();
        partial.CopyTo(padded);
        LoadWords(padded, words);
    }

    /// <summary>The BLAKE3 compression function (spec §2.2), 7 rounds, fully unrolled over locals.</summary>
    // Hot loop: compiled fully optimised at once instead of starting in tier 0 (matters for one-shot CLI runs).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Compress(
        ReadOnlySpan<uint> cv, ReadOnlySpan<uint> m, ulong counter, uint blockLength, uint flags, Span<uint> output)
    {
        uint s0 = cv[0], s1 = cv[1], s2 = cv[2], s3 = cv[3], s4 = cv[4], s5 = cv[5], s6 = cv[6], s7 = cv[7];
        uint s8 = Iv0, s9 = Iv1, s10 = Iv2, s11 = Iv3;
        uint s12 = (uint)counter, s13 = (uint)(counter >> 32), s14 = blockLength, s15 = flags;

        uint m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7];
        uint m8 = m[8], m9 = m[9], m10 = m[10], m11 = m[11], m12 = m[12], m13 = m[13], m14 = m[14], m15 = m[15];

        // Seven rounds, generated with the message schedule applied statically (spec §2.2, Table 2),
        // so the message words stay in locals and no permutation copies run.
        // Round 1.
        s0 += s4 + m0; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m1; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m2; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m3; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m4; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m5; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m6; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m7; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m8; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m9; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m10; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m11; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m12; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m13; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m14; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m15; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 2.
        s0 += s4 + m2; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m6; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m3; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m10; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m7; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m0; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m4; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m13; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m1; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m11; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m12; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m5; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m9; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m14; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m15; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m8; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 3.
        s0 += s4 + m3; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m4; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m10; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m12; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m13; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m2; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m7; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m14; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m6; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m5; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m9; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m0; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m11; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m15; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m8; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m1; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 4.
        s0 += s4 + m10; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m7; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m12; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m9; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m14; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m3; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m13; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m15; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m4; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m0; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m11; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m2; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m5; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m8; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m1; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m6; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 5.
        s0 += s4 + m12; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m13; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m9; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m11; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m15; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m10; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m14; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m8; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m7; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m2; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m5; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m3; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m0; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m1; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m6; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m4; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 6.
        s0 += s4 + m9; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m14; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m11; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m5; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m8; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m12; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m15; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m1; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m13; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m3; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m0; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m10; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m2; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m6; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m4; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m7; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);
        // Round 7.
        s0 += s4 + m11; s12 = BitOperations.RotateRight(s12 ^ s0, 16);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 12);
        s0 += s4 + m15; s12 = BitOperations.RotateRight(s12 ^ s0, 8);
        s8 += s12; s4 = BitOperations.RotateRight(s4 ^ s8, 7);
        s1 += s5 + m5; s13 = BitOperations.RotateRight(s13 ^ s1, 16);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 12);
        s1 += s5 + m0; s13 = BitOperations.RotateRight(s13 ^ s1, 8);
        s9 += s13; s5 = BitOperations.RotateRight(s5 ^ s9, 7);
        s2 += s6 + m1; s14 = BitOperations.RotateRight(s14 ^ s2, 16);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 12);
        s2 += s6 + m9; s14 = BitOperations.RotateRight(s14 ^ s2, 8);
        s10 += s14; s6 = BitOperations.RotateRight(s6 ^ s10, 7);
        s3 += s7 + m8; s15 = BitOperations.RotateRight(s15 ^ s3, 16);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 12);
        s3 += s7 + m6; s15 = BitOperations.RotateRight(s15 ^ s3, 8);
        s11 += s15; s7 = BitOperations.RotateRight(s7 ^ s11, 7);
        s0 += s5 + m14; s15 = BitOperations.RotateRight(s15 ^ s0, 16);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 12);
        s0 += s5 + m10; s15 = BitOperations.RotateRight(s15 ^ s0, 8);
        s10 += s15; s5 = BitOperations.RotateRight(s5 ^ s10, 7);
        s1 += s6 + m2; s12 = BitOperations.RotateRight(s12 ^ s1, 16);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 12);
        s1 += s6 + m12; s12 = BitOperations.RotateRight(s12 ^ s1, 8);
        s11 += s12; s6 = BitOperations.RotateRight(s6 ^ s11, 7);
        s2 += s7 + m3; s13 = BitOperations.RotateRight(s13 ^ s2, 16);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 12);
        s2 += s7 + m4; s13 = BitOperations.RotateRight(s13 ^ s2, 8);
        s8 += s13; s7 = BitOperations.RotateRight(s7 ^ s8, 7);
        s3 += s4 + m7; s14 = BitOperations.RotateRight(s14 ^ s3, 16);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 12);
        s3 += s4 + m13; s14 = BitOperations.RotateRight(s14 ^ s3, 8);
        s9 += s14; s4 = BitOperations.RotateRight(s4 ^ s9, 7);

        output[0] = s0 ^ s8;
        output[1] = s1 ^ s9;
        output[2] = s2 ^ s10;
        output[3] = s3 ^ s11;
        output[4] = s4 ^ s12;
        output[5] = s5 ^ s13;
        output[6] = s6 ^ s14;
        output[7] = s7 ^ s15;
        output[8] = s8 ^ cv[0];
        output[9] = s9 ^ cv[1];
        output[10] = s10 ^ cv[2];
        output[11] = s11 ^ cv[3];
        output[12] = s12 ^ cv[4];
        output[13] = s13 ^ cv[5];
        output[14] = s14 ^ cv[6];
        output[15] = s15 ^ cv[7];
    }
}
