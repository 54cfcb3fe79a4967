using System.Buffers;
using System.Runtime.CompilerServices;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>
/// A growable character buffer that starts on caller-provided (usually stack) memory and only rents
/// from <see cref="ArrayPool{T}"/> when that runs out, so the common case allocates nothing.
/// </summary>
internal ref struct CharBuffer
{
    private Span<char> _span;
    private char[]? _pooled;
    private int _length;

    public CharBuffer(Span<char> initial)
    {
        _span = initial;
        _pooled = null;
        _length = 0;
    }

    public readonly int Length => _length;

    public readonly ReadOnlySpan<char> Written => _span[.._length];

    public readonly char this[int index] => _span[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Append(char c)
    {
        if ((uint)_length < (uint)_span.Length)
        {
            _span[_length++] = c;
        }
        else
        {
            Grow(1);
            _span[_length++] = c;
        }
    }

    public void Append(scoped ReadOnlySpan<char> text)
    {
        if (_length + text.Length > _span.Length)
        {
            Grow(text.Length);
        }

        text.CopyTo(_span[_length..]);
        _length += text.Length;
    }

    /// <summary>Appends <paramref name="text"/> lower-cased; the caller guarantees it is ASCII.</summary>
    public void AppendAsciiLower(scoped ReadOnlySpan<char> text)
    {
        if (_length + text.Length > _span.Length)
        {
            Grow(text.Length);
        }

        System.Text.Ascii.ToLower(text, _span[_length..], out var written);
        _length += written;
    }

    /// <summary>Appends a byte as <c>%XX</c> with upper-case hex digits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AppendPercentEncoded(byte b)
    {
        if (_length + 3 > _span.Length)
        {
            Grow(3);
        }

        _span[_length] = '%';
        _span[_length + 1] = UpperHex[b >> 4];
        _span[_length + 2] = UpperHex[b & 0xF];
        _length += 3;
    }

    [SkipLocalsInit]
    public void AppendNumber(uint value)
    {
        Span<char> digits = stackalloc char[10];
        value.TryFormat(digits, out var n, default, System.Globalization.CultureInfo.InvariantCulture);
        Append(digits[..n]);
    }

    /// <summary>Reserves <paramref name="count"/> characters at the end and returns them; call <see cref="Truncate"/> to give back what was not used.</summary>
    public Span<char> AppendSpan(int count)
    {
        if (_length + count > _span.Length)
        {
            Grow(count);
        }

        var result = _span.Slice(_length, count);
        _length += count;
        return result;
    }

    public void Truncate(int length) => _length = length;

    public readonly ReadOnlySpan<char> Slice(int start, int length) => _span.Slice(start, length);

    public void Dispose()
    {
        var pooled = _pooled;
        this = default;
        if (pooled is not null)
        {
            ArrayPool<char>.Shared.Return(pooled);
        }
    }

    private static ReadOnlySpan<char> UpperHex => "0123456789ABCDEF";

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow(int additional)
    {
        var next = ArrayPool<char>.Shared.Rent(Math.Max(_span.Length * 2, _length + additional));
        _span[.._length].CopyTo(next);
        var old = _pooled;
        _span = next;
        _pooled = next;
        if (old is not null)
        {
            ArrayPool<char>.Shared.Return(old);
        }
    }
}
