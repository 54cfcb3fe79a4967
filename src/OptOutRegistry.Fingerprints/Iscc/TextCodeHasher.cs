using System.Buffers;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Fingerprints.Hashing;

namespace OptOutRegistry.Fingerprints.Iscc;

/// <summary>
/// Incremental Text-Code v0 for large or streamed text (WARC payloads, files): append text in any pieces; the
/// code equals <see cref="IsccGenerator.GenTextCodeV0(string, int)"/> of the concatenation, with memory bounded
/// by the distance between safe split points rather than by the text size.
/// </summary>
/// <remarks>
/// Text is collapsed piecewise, split only between a Latin, Greek or Cyrillic letter (or ASCII digit) and a
/// following ASCII character that is not a letter, not whitespace and not case-ignorable (a digit or most
/// punctuation, e.g. "слово|, next"). Such a split is invisible to every collapse step: the letter before it is
/// kept and neither it nor its NFKC decomposition composes with a following starter (only Hangul jamo do),
/// NFD, whitespace removal and lower-casing are per character, and Python's Final_Sigma rule stops at the
/// character after the split from either side. Scanning for split points is incremental (linear overall).
/// Windows that straddle a split are produced by carrying the last 12 collapsed code points forward.
/// </remarks>
public sealed class TextCodeHasher
{
    private const int FeatureBatch = 2048;

    /// <summary>Pending text is collapsed once it holds this many characters and has a safe split point.</summary>
    private const int FlushThreshold = 64 * 1024;

    private readonly MinHash _minHash = new();
    private char[] _pending = new char[2 * FlushThreshold];
    private int _pendingLength;
    private int _scannedUpTo; // no safe split point exists in _pending[1.._scannedUpTo)
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly uint[] _features = new uint[FeatureBatch];
    private int _featureCount;
    private string _carry = string.Empty; // last ≤ 12 collapsed code points
    private long _characters;
    private bool _anyWindow;

    /// <summary>Code points of collapsed text so far (the <c>characters</c> output once finished).</summary>
    public long Characters => _characters;

    /// <summary>Appends text.</summary>
    public void Append(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            if (_pendingLength == _pending.Length)
            {
                // No safe split point yet in a full buffer (e.g. a long run without ASCII punctuation): grow.
                Array.Resize(ref _pending, _pending.Length * 2);
            }

            var take = Math.Min(text.Length, _pending.Length - _pendingLength);
            text[..take].CopyTo(_pending.AsSpan(_pendingLength));
            _pendingLength += take;
            text = text[take..];
            if (_pendingLength >= FlushThreshold)
            {
                FlushSafePrefix();
            }
        }
    }

    /// <summary>Appends UTF-8 bytes (a character split across calls is handled; invalid bytes become U+FFFD).</summary>
    public void Append(ReadOnlySpan<byte> utf8)
    {
        var chars = ArrayPool<char>.Shared.Rent(_utf8.GetCharCount(utf8, flush: false) + 2);
        try
        {
            var n = _utf8.GetChars(utf8, chars, flush: false);
            Append(chars.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>Appends a whole UTF-8 stream.</summary>
    public void Append(Stream utf8Stream)
    {
        ArgumentNullException.ThrowIfNull(utf8Stream);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = utf8Stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                Append(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Finishes and returns the Text-Code; the hasher is reset for reuse.</summary>
    public TextCodeResult GetCodeAndReset(int bits = 64)
    {
        Span<char> tail = stackalloc char[4];
        var n = _utf8.GetChars([], tail, flush: true);
        Append(tail[..n]);
        Process(new string(_pending, 0, _pendingLength));
        _pendingLength = 0;
        _scannedUpTo = 0;
        if (!_anyWindow)
        {
            // Fewer than 13 code points in total: one short window over all of it (also for empty text).
            AddFeature(XxHash32.HashToUInt32(Encoding.UTF8.GetBytes(_carry)));
        }

        _minHash.Add(_features.AsSpan(0, _featureCount));
        var digest = _minHash.Digest256();
        var result = new TextCodeResult(
            IsccCodec.Prefix + IsccCodec.EncodeUnit(IsccMainType.Content, IsccSubType.Text, 0, bits, digest),
            (int)Math.Min(_characters, int.MaxValue));
        Reset();
        return result;
    }

    /// <summary>Starts over.</summary>
    public void Reset()
    {
        _minHash.Reset();
        _pendingLength = 0;
        _scannedUpTo = 0;
        _utf8.Reset();
        _featureCount = 0;
        _carry = string.Empty;
        _characters = 0;
        _anyWindow = false;
    }

    /// <summary>True when a split between <paramref name="before"/> and <paramref name="c"/> cannot change the collapsed result.</summary>
    internal static bool IsSafeSplit(char before, char c) =>
        IsSafeBefore(before) && c < 0x80 && !char.IsAsciiLetter(c) && !TextNormalization.IsPythonWhitespace(c)
        && c is not ('\'' or '.' or ':');

    // A kept letter or digit from Latin, Greek or Cyrillic: it survives collapse, and neither it nor its NFKC
    // decomposition can compose with a following starter (only Hangul jamo do that).
    private static bool IsSafeBefore(char c) =>
        char.IsAsciiLetterOrDigit(c) || (c >= '\u00C0' && c <= '\u052F' && char.IsLetter(c));

    private void FlushSafePrefix()
    {
        // Scan only what arrived since the last scan (backwards, to find the last split point).
        for (var i = _pendingLength - 1; i > 0 && i >= _scannedUpTo; i--)
        {
            if (IsSafeSplit(_pending[i - 1], _pending[i]))
            {
                var head = new string(_pending, 0, i);
                _pending.AsSpan(i, _pendingLength - i).CopyTo(_pending);
                _pendingLength -= i;
                _scannedUpTo = _pendingLength;
                Process(head);
                return;
            }
        }

        _scannedUpTo = _pendingLength;
    }

    private void Process(string piece)
    {
        var collapsed = TextNormalization.Collapse(piece);
        if (collapsed.Length == 0)
        {
            return;
        }

        _characters += TextNormalization.CodePointCount(collapsed);
        var combined = _carry + collapsed;
        var length = Encoding.UTF8.GetByteCount(combined);
        var bytes = ArrayPool<byte>.Shared.Rent(length);
        var starts = ArrayPool<int>.Shared.Rent(combined.Length + 1);
        try
        {
            Encoding.UTF8.GetBytes(combined, bytes);
            var utf8 = bytes.AsSpan(0, length);
            const int n = IsccGenerator.TextNgramSize;
            int count;
            if (length == combined.Length && BitConverter.IsLittleEndian)
            {
                // ASCII: code points are bytes; the unrolled 13-byte xxh32 applies.
                count = length;
                ref var start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(utf8);
                for (var i = 0; i + n <= count; i++)
                {
                    AddFeature(XxHash32.Hash13(ref System.Runtime.CompilerServices.Unsafe.Add(ref start, i)));
                    _anyWindow = true;
                }

                var keepAscii = Math.Min(n - 1, count);
                _carry = combined[(count - keepAscii)..];
                return;
            }

            count = 0;
            for (var b = 0; b < length; b++)
            {
                if ((utf8[b] & 0xC0) != 0x80)
                {
                    starts[count++] = b;
                }
            }

            starts[count] = length;
            for (var i = 0; i + n <= count; i++)
            {
                AddFeature(XxHash32.HashToUInt32(utf8[starts[i]..starts[i + n]]));
                _anyWindow = true;
            }

            var keep = Math.Min(n - 1, count);
            _carry = Encoding.UTF8.GetString(utf8[starts[count - keep]..]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
            ArrayPool<int>.Shared.Return(starts);
        }
    }

    private void AddFeature(uint feature)
    {
        _features[_featureCount++] = feature;
        if (_featureCount == FeatureBatch)
        {
            _minHash.Add(_features);
            _featureCount = 0;
        }
    }
}
