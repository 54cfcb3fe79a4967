namespace OptOutRegistry.Grpc.Client.Http2;

/// <summary>
/// Decodes HPACK Huffman-coded strings (RFC 7541 section 5.2 and Appendix B). The code is canonical: codes of equal
/// length are consecutive in symbol order and each length starts where the previous one left off, so the bit
/// lengths of Appendix B are enough to rebuild every code. Decoding walks the code a bit at a time against the first
/// code of each length (the table is small and header strings are short; Kestrel sends none, grpc-core does).
/// </summary>
internal static class HuffmanDecoder
{
    /// <summary>Code length in bits of symbols 0..255 and of EOS (256), RFC 7541 Appendix B.</summary>
    private static readonly byte[] s_codeLengths =
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ];

    private const int MaxCodeLength = 30;
    private const int EndOfString = 256;

    // For each length L: the first code of that length, how many symbols have it, and where they start in s_symbols.
    private static readonly uint[] s_firstCode = new uint[MaxCodeLength + 1];
    private static readonly int[] s_count = new int[MaxCodeLength + 1];
    private static readonly int[] s_offset = new int[MaxCodeLength + 1];
    private static readonly short[] s_symbols = BuildTables();

    private static short[] BuildTables()
    {
        var symbols = new short[s_codeLengths.Length];
        var n = 0;
        uint code = 0;
        for (var length = 1; length <= MaxCodeLength; length++)
        {
            s_firstCode[length] = code;
            s_offset[length] = n;
            for (var symbol = 0; symbol < s_codeLengths.Length; symbol++)
            {
                if (s_codeLengths[symbol] == length)
                {
                    symbols[n++] = (short)symbol;
                    s_count[length]++;
                    code++;
                }
            }
            code <<= 1;
        }
        return symbols;
    }

    /// <summary>The bit length of a symbol's code (used by tests to encode).</summary>
    internal static int CodeLength(int symbol) => s_codeLengths[symbol];

    /// <summary>The code of a symbol, right-aligned (used by tests to encode).</summary>
    internal static uint Code(int symbol)
    {
        var length = s_codeLengths[symbol];
        for (var i = 0; i < s_count[length]; i++)
        {
            if (s_symbols[s_offset[length] + i] == symbol)
            {
                return s_firstCode[length] + (uint)i;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(symbol));
    }

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="destination"/>; returns the number of bytes written, or
    /// -1 when the input is not valid Huffman code (RFC 7541 5.2: EOS inside the string, padding longer than 7 bits or
    /// not all ones) or the destination is too small.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var written = 0;
        uint code = 0;
        var length = 0;
        var padOnes = true;
        foreach (var b in source)
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                var value = (uint)(b >> bit) & 1;
                code = (code << 1) | value;
                length++;
                padOnes &= value == 1;
                if (length > MaxCodeLength)
                {
                    return -1;
                }
                var index = code - s_firstCode[length];
                if (index < (uint)s_count[length])
                {
                    var symbol = s_symbols[s_offset[length] + (int)index];
                    if (symbol == EndOfString || written == destination.Length)
                    {
                        return -1;
                    }
                    destination[written++] = (byte)symbol;
                    code = 0;
                    length = 0;
                    padOnes = true;
                }
            }
        }
        // What is left must be a prefix of EOS: at most 7 bits, all ones.
        return length > 7 || !padOnes ? -1 : written;
    }
}
