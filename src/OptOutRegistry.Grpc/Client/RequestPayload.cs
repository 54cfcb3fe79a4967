using System.Buffers;

namespace OptOutRegistry.Grpc.Client;

/// <summary>
/// The framed request message of a unary or server-streaming call (5-byte prefix + message) in a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/>: a 1,000-URL CheckBatch request is ~70 KB and a 10,000-URL one lands on the large
/// object heap, so a fresh array per call was the biggest allocation of a batch call. Reference-counted because
/// several parties read it at once and none may see the buffer after it went back to the pool: the call (until its
/// attempts are started), each transport send that is still copying it into a connection's write buffer, and a hedged
/// call's later attempts. The buffer returns to the pool exactly once, when the last reference is released.
/// </summary>
internal sealed class RequestPayload
{
    private byte[]? _array;
    private readonly bool _pooled;
    private int _references = 1;

    private RequestPayload(byte[] array, int length, bool pooled)
    {
        _array = array;
        Length = length;
        _pooled = pooled;
    }

    /// <summary>A payload of <paramref name="length"/> bytes in a rented buffer; the caller holds the one reference.</summary>
    public static RequestPayload Rent(int length) => new(ArrayPool<byte>.Shared.Rent(length), length, pooled: true);

    /// <summary>A payload over an array nobody else uses (not pooled: released references just drop it).</summary>
    public static RequestPayload Wrap(byte[] array) => new(array, array.Length, pooled: false);

    /// <summary>Bytes of the framed message.</summary>
    public int Length { get; }

    /// <summary>True once the last reference was released (the buffer is back in the pool).</summary>
    public bool IsReleased => Volatile.Read(ref _references) == 0;

    /// <summary>The bytes, for writing; only while the caller holds a reference.</summary>
    public Span<byte> WritableSpan => (_array ?? throw Released()).AsSpan(0, Length);

    /// <summary>The bytes; only while the caller holds a reference.</summary>
    public ReadOnlySpan<byte> Span => (_array ?? throw Released()).AsSpan(0, Length);

    /// <summary>The bytes; only while the caller holds a reference.</summary>
    public ReadOnlyMemory<byte> Memory => (_array ?? throw Released()).AsMemory(0, Length);

    /// <summary>Takes another reference; false when the payload was already released (nothing may read it then).</summary>
    public bool TryAddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Gives up one reference; the last one returns the buffer to the pool.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left > 0)
        {
            return;
        }
        if (left < 0)
        {
            // More releases than references: a bug in the caller, and returning the buffer twice would hand it to two renters.
            throw new InvalidOperationException("RequestPayload released more often than referenced.");
        }
        var array = Interlocked.Exchange(ref _array, null);
        if (_pooled && array is not null)
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private static ObjectDisposedException Released() => new(nameof(RequestPayload), "The request payload was already returned to the pool.");
}
