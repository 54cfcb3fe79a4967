using System.Buffers;
using System.Security.Cryptography;

namespace OptOutRegistry.Transparency;

/// <summary>
/// The RFC 9162 §2.1.1 hash functions: leaf hash = SHA-256(0x00 ‖ leaf), interior node =
/// SHA-256(0x01 ‖ left ‖ right), empty tree = SHA-256("").
/// </summary>
public static class MerkleHash
{
    /// <summary>Length of every hash in the tree (SHA-256).</summary>
    public const int Size = 32;

    private const byte LeafPrefix = 0x00;
    private const byte NodePrefix = 0x01;

    /// <summary>The root of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1).</summary>
    public static ReadOnlySpan<byte> EmptyRoot =>
    [
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
    ];

    /// <summary>Computes the leaf hash of <paramref name="leaf"/> into <paramref name="destination"/>.</summary>
    public static void HashLeaf(ReadOnlySpan<byte> leaf, Span<byte> destination)
    {
        var length = leaf.Length + 1;
        byte[]? rented = null;
        var buffer = length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(length));
        buffer[0] = LeafPrefix;
        leaf.CopyTo(buffer[1..]);
        SHA256.HashData(buffer[..length], destination);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Returns the leaf hash of <paramref name="leaf"/>.</summary>
    public static byte[] HashLeaf(ReadOnlySpan<byte> leaf)
    {
        var result = new byte[Size];
        HashLeaf(leaf, result);
        return result;
    }

    /// <summary>Computes the interior node hash of two children into <paramref name="destination"/>.</summary>
    public static void HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right, Span<byte> destination)
    {
        // Children may be of any length when a verifier is fed garbage; hash exactly what was given.
        var length = 1 + left.Length + right.Length;
        byte[]? rented = null;
        var buffer = length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(length));
        buffer[0] = NodePrefix;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[(1 + left.Length)..]);
        SHA256.HashData(buffer[..length], destination);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Returns the interior node hash of two children.</summary>
    public static byte[] HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        var result = new byte[Size];
        HashChildren(left, right, result);
        return result;
    }
}
