namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// The ISCC SimHash (iscc-core <c>simhash.py</c>): per bit position (MSB-first within each byte) count the
/// digests with that bit set; the output bit is set when the count is at least half the number of digests,
/// so ties set the bit.
/// </summary>
public sealed class SimHash
{
    private readonly int[] _counts;
    private int _digests;

    /// <summary>Creates an accumulator for digests of <paramref name="digestLength"/> bytes.</summary>
    public SimHash(int digestLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(digestLength);
        _counts = new int[digestLength * 8];
    }

    /// <summary>Number of digests added.</summary>
    public int Count => _digests;

    /// <summary>Adds one digest (must have the configured length).</summary>
    public void Add(ReadOnlySpan<byte> digest)
    {
        if (digest.Length * 8 != _counts.Length)
        {
            throw new ArgumentException($"digest: expected {_counts.Length / 8} bytes, got {digest.Length}.", nameof(digest));
        }

        var counts = _counts.AsSpan();
        for (var i = 0; i < digest.Length; i++)
        {
            var b = digest[i];
            var c = counts.Slice(i * 8, 8);
            c[0] += (b >> 7) & 1;
            c[1] += (b >> 6) & 1;
            c[2] += (b >> 5) & 1;
            c[3] += (b >> 4) & 1;
            c[4] += (b >> 3) & 1;
            c[5] += (b >> 2) & 1;
            c[6] += (b >> 1) & 1;
            c[7] += b & 1;
        }

        _digests++;
    }

    /// <summary>The similarity digest: bit i set when count_i ≥ n/2.</summary>
    public byte[] Digest()
    {
        var output = new byte[_counts.Length / 8];
        for (var i = 0; i < _counts.Length; i++)
        {
            // count >= n / 2 (real division) is 2 * count >= n in integers.
            if (2 * _counts[i] >= _digests)
            {
                output[i >> 3] |= (byte)(0x80 >> (i & 7));
            }
        }

        return output;
    }

    /// <summary>One-shot SimHash of equally sized digests.</summary>
    public static byte[] Of(IReadOnlyList<byte[]> digests)
    {
        ArgumentNullException.ThrowIfNull(digests);
        if (digests.Count == 0)
        {
            throw new ArgumentException("digests: at least one digest is required.", nameof(digests));
        }

        var s = new SimHash(digests[0].Length);
        foreach (var d in digests)
        {
            s.Add(d);
        }

        return s.Digest();
    }
}
