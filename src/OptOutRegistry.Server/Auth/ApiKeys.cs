using System.Security.Cryptography;
using System.Text;

namespace OptOutRegistry.Server.Auth;

/// <summary>
/// API key format and hashing. A key is <c>oor_</c> followed by 43 base64url characters (32 random bytes); the registry
/// stores only its SHA-256 and the first <see cref="PrefixLength"/> characters for listing.
/// </summary>
public static class ApiKeys
{
    /// <summary>The fixed start of every key (lets secret scanners recognise leaked keys).</summary>
    public const string KeyPrefix = "oor_";

    /// <summary>Characters of a key shown in listings.</summary>
    public const int PrefixLength = 12;

    /// <summary>Longest key accepted in a header (anything longer is refused without hashing).</summary>
    public const int MaxKeyLength = 256;

    /// <summary>A new random key.</summary>
    public static string Generate() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>SHA-256 of the key's UTF-8 bytes.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>The public prefix of a key.</summary>
    public static string Prefix(string key) => key.Length <= PrefixLength ? key : key[..PrefixLength];

    /// <summary>A random id with a type prefix, e.g. <c>rsv_01J…</c>: 48-bit millisecond time then 80 random bits, Crockford base32 (ULID layout), so ids sort by creation.</summary>
    public static string NewId(string prefix, DateTimeOffset now)
    {
        const string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        Span<byte> bytes = stackalloc byte[16];
        var ms = (ulong)now.ToUnixTimeMilliseconds();
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)ms;
            ms >>= 8;
        }

        RandomNumberGenerator.Fill(bytes[6..]);
        Span<char> chars = stackalloc char[26];
        // 128 bits into 26 base32 digits, most significant first (the first digit carries 3 bits).
        var high = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes);
        var low = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        var value = new UInt128(high, low);
        for (var i = 25; i >= 0; i--)
        {
            chars[i] = alphabet[(int)(value & 31)];
            value >>= 5;
        }

        return prefix + new string(chars);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
