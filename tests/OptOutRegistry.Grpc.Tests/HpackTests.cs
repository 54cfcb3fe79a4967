using OptOutRegistry.Grpc.Client.Http2;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>The client transport's HPACK decoder and encoder against RFC 7541 Appendix C and malformed blocks.</summary>
public sealed class HpackTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    private static List<KeyValuePair<string, string>> Decode(HpackDecoder decoder, string hex)
    {
        var headers = new List<KeyValuePair<string, string>>();
        Assert.True(decoder.Decode(Hex(hex), headers, 64 * 1024));
        return headers;
    }

    private static void AssertHeaders(List<KeyValuePair<string, string>> actual, params string[] expected)
    {
        Assert.Equal(expected.Length / 2, actual.Count);
        for (var i = 0; i < actual.Count; i++)
        {
            Assert.Equal(expected[2 * i], actual[i].Key);
            Assert.Equal(expected[(2 * i) + 1], actual[i].Value);
        }
    }

    // RFC 7541 C.3 (raw literals) and C.4 (Huffman): three requests on one connection, the table growing.
    [Theory]
    [InlineData(
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")]
    [InlineData(
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")]
    public void Decode_Rfc7541RequestSequence_MatchesAppendixC(string first, string second, string third)
    {
        var decoder = new HpackDecoder();
        AssertHeaders(Decode(decoder, first), ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com");
        Assert.Equal(57, decoder.DynamicSize);
        AssertHeaders(Decode(decoder, second), ":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache");
        Assert.Equal(110, decoder.DynamicSize);
        AssertHeaders(Decode(decoder, third), ":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com", "custom-key", "custom-value");
        Assert.Equal(164, decoder.DynamicSize);
        Assert.Equal(3, decoder.DynamicCount);
    }

    // RFC 7541 C.5 (raw) and C.6 (Huffman): three responses in a 256-byte table, with eviction.
    [Theory]
    [InlineData(
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31")]
    [InlineData(
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")]
    public void Decode_Rfc7541ResponseSequence_EvictsAsAppendixC(string first, string second, string third)
    {
        var decoder = new HpackDecoder(maxTableSize: 256);
        AssertHeaders(Decode(decoder, first), ":status", "302", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com");
        Assert.Equal(222, decoder.DynamicSize);
        AssertHeaders(Decode(decoder, second), ":status", "307", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com");
        Assert.Equal(222, decoder.DynamicSize);
        AssertHeaders(Decode(decoder, third), ":status", "200", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location", "https://www.example.com",
            "content-encoding", "gzip", "set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1");
        Assert.Equal(215, decoder.DynamicSize);
        Assert.Equal(3, decoder.DynamicCount);
    }

    [Theory]
    [InlineData("80", "index 0")]
    [InlineData("be", "beyond the dynamic table")]
    [InlineData("7f", "ends inside an integer")]
    [InlineData("7fffffffffff7f", "too large")]
    [InlineData("4085 61", "runs past the end")]
    [InlineData("0081 00", "Huffman")] // "0" then 3 zero bits of padding: padding must be ones (RFC 7541 5.2)
    [InlineData("0084 ffffffff", "Huffman")] // EOS inside a string
    [InlineData("3fe21f", "exceeds the limit")] // a size update to 4,097, above our SETTINGS_HEADER_TABLE_SIZE
    [InlineData("88 20", "after a header field")]
    public void Decode_InvalidBlock_ThrowsNamingTheProblem(string hex, string reason)
    {
        var decoder = new HpackDecoder();
        var ex = Assert.Throws<HpackDecodingException>(() => decoder.Decode(Hex(hex), new List<KeyValuePair<string, string>>(), 64 * 1024));
        Assert.Contains(reason, ex.Message);
    }

    [Fact]
    public void Decode_ListOverLimit_ReturnsFalseButKeepsTheTableInStep()
    {
        var decoder = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        // C.3.1 inserts :authority; a 40-byte limit is passed by the second field.
        Assert.False(decoder.Decode(Hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), headers, 40));
        Assert.Empty(headers);
        Assert.Equal(1, decoder.DynamicCount);
        Assert.True(decoder.Decode(Hex("be"), headers, 4096));
        AssertHeaders(headers, ":authority", "www.example.com");
    }

    [Fact]
    public void Huffman_EveryByteRoundTrips()
    {
        var all = new byte[256];
        for (var i = 0; i < all.Length; i++)
        {
            all[i] = (byte)i;
        }
        var encoded = HuffmanEncode(all);
        var decoded = new byte[512];
        var n = HuffmanDecoder.Decode(encoded, decoded);
        Assert.Equal(all, decoded.AsSpan(0, n).ToArray());
        Assert.Equal(Hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), HuffmanEncode("www.example.com"u8.ToArray()));
    }

    [Fact]
    public void Encoder_RequestBlock_DecodesToTheRequestHeaders()
    {
        var pseudo = HpackEncoder.EncodePseudoHeaders(https: false, "/optout.v1.Check/Check", "localhost:5000");
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://localhost:5000/optout.v1.Check/Check");
        request.Headers.TryAddWithoutValidation("grpc-timeout", "100m");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("User-Agent", "grpc-dotnet-optout/1.0");
        request.Headers.TryAddWithoutValidation("x-long", new string('v', 300));
        request.Headers.TryAddWithoutValidation("Host", "ignored");
        request.Content = new ByteArrayContent([]);
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        var block = RequestHeaderEncoder.Encode(pseudo, request, out _).ToArray();
        var headers = new List<KeyValuePair<string, string>>();
        var decoder = new HpackDecoder();
        Assert.True(decoder.Decode(block, headers, 64 * 1024));
        AssertHeaders(headers, ":method", "POST", ":scheme", "http", ":path", "/optout.v1.Check/Check", ":authority", "localhost:5000",
            "grpc-timeout", "100m", "te", "trailers", "user-agent", "grpc-dotnet-optout/1.0", "x-long", new string('v', 300), "content-type", "application/grpc");
        // Without indexing: the decoder's table stays empty, so blocks do not depend on each other.
        Assert.Equal(0, decoder.DynamicCount);
    }

    /// <summary>Test-side Huffman encoder built from the decoder's code table.</summary>
    internal static byte[] HuffmanEncode(byte[] input)
    {
        var output = new List<byte>();
        ulong bits = 0;
        var count = 0;
        foreach (var b in input)
        {
            var length = HuffmanDecoder.CodeLength(b);
            bits = (bits << length) | HuffmanDecoder.Code(b);
            count += length;
            while (count >= 8)
            {
                output.Add((byte)(bits >> (count - 8)));
                count -= 8;
            }
        }
        if (count > 0)
        {
            // Pad with the most significant bits of EOS (all ones).
            output.Add((byte)((bits << (8 - count)) | (0xFFu >> count)));
        }
        return [.. output];
    }
}
