using System.Buffers;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Hashing;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Incremental Data-Code v0 (iscc-core <c>code_data.DataHasherV0</c>): content-defined chunks (average 1024
/// bytes), xxh32 of each chunk, MinHash-256. Feed any chunking of the input; the result is the same.
/// </summary>
public sealed class DataCodeHasher
{
    private const int FeatureBatch = 1024;

    private readonly Cdc.Parameters _params = Cdc.ParametersFor(Cdc.DefaultAverageSize);
    private readonly MinHash _minHash = new();
    private readonly uint[] _features = new uint[FeatureBatch];
    private int _featureCount;
    private byte[] _pending = new byte[64 * 1024];
    private int _pendingLength;
    private long _length;

    /// <summary>Total bytes appended.</summary>
    public long Length => _length;

    /// <summary>Appends bytes.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        while (!data.IsEmpty)
        {
            var room = _pending.Length - _pendingLength;
            var take = Math.Min(room, data.Length);
            data[..take].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += take;
            data = data[take..];

            // Cut only where the chunker sees max-size bytes ahead, so cuts equal those of one-shot chunking.
            var pos = 0;
            while (_pendingLength - pos > _params.MaxSize)
            {
                var cut = Cdc.NextCut(_pending.AsSpan(pos, _pendingLength - pos), _params);
                AddFeature(XxHash32.HashToUInt32(_pending.AsSpan(pos, cut)));
                pos += cut;
            }

            if (pos > 0)
            {
                _pending.AsSpan(pos, _pendingLength - pos).CopyTo(_pending);
                _pendingLength -= pos;
            }
        }
    }

    /// <summary>Appends a whole stream.</summary>
    public void Append(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                Append(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The 256-bit Data-Hash digest (<c>soft_hash_data_v0</c>). Finishes the hasher.</summary>
    public byte[] Digest()
    {
        var pos = 0;
        while (pos < _pendingLength)
        {
            var cut = Cdc.NextCut(_pending.AsSpan(pos, _pendingLength - pos), _params);
            AddFeature(XxHash32.HashToUInt32(_pending.AsSpan(pos, cut)));
            pos += cut;
        }

        _pendingLength = 0;
        if (_featureCount == 0 && !_minHash.HasFeatures)
        {
            // code_data._finalize: empty input still yields one feature, xxh32(b"").
            AddFeature(XxHash32.HashToUInt32([]));
        }

        Flush();
        return _minHash.Digest256();
    }

    /// <summary>The Data-Code ("ISCC:G…") of everything appended.</summary>
    public string Code(int bits = 64) =>
        IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Data, IsccSubType.None, 0, bits, Digest());

    /// <summary>Starts over.</summary>
    public void Reset()
    {
        _minHash.Reset();
        _featureCount = 0;
        _pendingLength = 0;
        _length = 0;
    }

    private void AddFeature(uint feature)
    {
        _features[_featureCount++] = feature;
        if (_featureCount == FeatureBatch)
        {
            Flush();
        }
    }

    private void Flush()
    {
        _minHash.Add(_features.AsSpan(0, _featureCount));
        _featureCount = 0;
    }
}

/// <summary>Incremental Instance-Code v0 (iscc-core <c>code_instance</c>): BLAKE3-256 of the bytes.</summary>
public sealed class InstanceCodeHasher
{
    private readonly Blake3 _blake3 = new();
    private long _length;

    /// <summary>Total bytes appended (the <c>filesize</c> output).</summary>
    public long Length => _length;

    /// <summary>Appends bytes.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _length += data.Length;
        _blake3.Append(data);
    }

    /// <summary>Appends a whole stream.</summary>
    public void Append(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                Append(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The 32-byte BLAKE3 digest.</summary>
    public byte[] Digest()
    {
        var digest = new byte[32];
        _blake3.Finalize(digest);
        return digest;
    }

    /// <summary>The Instance-Code, the multihash <c>datahash</c> ("1e20" + hex) and the size.</summary>
    public InstanceCodeResult Result(int bits = 64)
    {
        var digest = Digest();
        var iscc = IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Instance, IsccSubType.None, 0, bits, digest);
        return new InstanceCodeResult(iscc, "1e20" + Convert.ToHexString(digest).ToLowerInvariant(), _length);
    }

    /// <summary>Starts over.</summary>
    public void Reset()
    {
        _blake3.Reset();
        _length = 0;
    }
}
