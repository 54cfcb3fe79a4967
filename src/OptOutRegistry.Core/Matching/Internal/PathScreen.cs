using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// A per-host screen of its prefix/pattern rules, kept inside the host slot (<see cref="HostTable.Slot"/>), so that
/// a URL on a host that has rules but none matching its path — the uncovered crawl on a registered site — is decided
/// from the host slot alone instead of after a second, dependent cache miss on the host's rule list (issue 3 item 8:
/// that miss was most of the remaining cost of that case).
/// <para>Every rule contributes one <b>necessary condition</b> that a path must meet for the rule to match it, as a
/// key in a 96-bit Bloom filter (3 bits per key):</para>
/// <list type="bullet">
/// <item>a prefix rule, and a pattern whose literal part before the first <c>*</c> is at least 2 characters: the path
/// starts with that literal, cut down to the nearest of 16 fixed lengths (<see cref="Cuts"/>); the key is the hash of
/// the cut, and the cut's length class is a bit of the slot's cut mask. A path is screened by hashing its own prefixes
/// at the classes in the mask (2–3 for a typical host). Cutting is conservative: a path that starts with the literal
/// starts with every prefix of it.</item>
/// <item>a pattern starting with <c>/*</c> whose literal parts contain a whole segment <c>/s/</c> (<c>/*/private/</c>,
/// <c>/*/q12/*.png$</c>): the path contains <c>/s/</c> (RFC 9309 §2.2.3: a <c>*</c> matches any run of characters, the
/// literals must occur in order). The key is the hash of <c>s</c>; a path is screened by hashing each of its
/// slash-enclosed runs (path and query, as the rules see them).</item>
/// <item>any other pattern (<c>/*.pdf$</c>): no screen — the slot's <see cref="Unscreened"/> flag sends every path to
/// the rule walk, which is what happened for every path before.</item>
/// </list>
/// <para>No false negatives: a path the screen rejects matches no rule of the host. False positives only cost the rule
/// walk that would otherwise always run (about 0.3 % per probe with 5 keys, 2 % with 10, 10 % with 20; a host with
/// hundreds of rules saturates its filter and is walked every time, as before).</para>
/// <para>Concurrency: the writer ORs a rule's bits into the slot (release writes) before it publishes the rule in the
/// host's list, so a check that sees the rule also sees its key; bits are never cleared (rules are never removed).</para>
/// </summary>
internal static class PathScreen
{
    /// <summary>Bit of <see cref="HostTable.Slot.Screen"/>: some pattern contributes a segment key.</summary>
    public const uint SegmentKeys = 1u << 16;

    /// <summary>Bit of <see cref="HostTable.Slot.Screen"/>: some rule has no screen; walk the rules for every path.</summary>
    public const uint Unscreened = 1u << 17;

    private const uint CutMask = 0xFFFF;
    private const ulong PrefixSalt = 0x9FB21C651E98DF25UL;
    private const ulong SegmentSalt = 0xD6E8FEB86659FD93UL;

    /// <summary>Characters a key hashes: the longest cut; a longer segment keys by its first 40 characters and that cap.</summary>
    private const int MaxKeyChars = 40;

    /// <summary>Paths with more slash-enclosed runs than this are walked rather than screened.</summary>
    private const int MaxSegments = 24;

    /// <summary>The prefix lengths a literal is cut to (ascending); bit i of the cut mask stands for <c>Cuts[i]</c>.</summary>
    private static ReadOnlySpan<byte> Cuts => [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 32, 40];

    /// <summary>
    /// Writer: the screen contribution of one prefix (<paramref name="isPattern"/> false) or pattern rule with path text
    /// <paramref name="path"/>: flag and cut bits for <see cref="HostTable.Slot.Screen"/> and the key hash for the
    /// Bloom bits (0: no key).
    /// </summary>
    public static uint Describe(ReadOnlySpan<char> path, bool isPattern, out ulong key)
    {
        var literal = path;
        if (isPattern)
        {
            var star = path.IndexOf('*');
            if (star >= 0)
            {
                literal = path[..star];
            }
            else if (path.EndsWith("$"))
            {
                literal = path[..^1];
            }
        }

        if (literal.IsEmpty)
        {
            // Not produced by Selector.Create (paths start with '/'); screened conservatively all the same.
            key = 0;
            return Unscreened;
        }

        if (!isPattern || literal.Length >= 2)
        {
            var cut = CutIndex(literal.Length);
            key = Key(literal, 0, Cuts[cut], PrefixSalt);
            return 1u << cut;
        }

        var segment = LongestWholeSegment(path);
        if (segment < 0)
        {
            key = 0;
            return Unscreened;
        }

        var length = path[(segment + 1)..].IndexOf('/');
        key = Key(path, segment + 1, length, SegmentSalt);
        return SegmentKeys;
    }

    /// <summary>Writer: the two Bloom words with the 3 bits of <paramref name="key"/> set (0 and 0 for no key).</summary>
    public static void Bits(ulong key, out uint low, out ulong high)
    {
        low = 0;
        high = 0;
        if (key == 0)
        {
            return;
        }

        for (var k = 0; k < 3; k++)
        {
            var position = Position(key, k);
            if (position < 32)
            {
                low |= 1u << position;
            }
            else
            {
                high |= 1UL << (position - 32);
            }
        }
    }

    /// <summary>
    /// Reader: false when no rule of the host can match <paramref name="path"/> (the path and query of a canonical
    /// key); true when some may (then the rules are walked).
    /// </summary>
    public static bool MayMatch(uint screen, uint low, ulong high, ReadOnlySpan<char> path)
    {
        if ((screen & Unscreened) != 0)
        {
            return true;
        }

        // The prefix keys of all cuts in one pass: the sum over whole 4-character words is carried from cut to cut,
        // so each cut adds only its own words and a partial one (the same value as PrefixKey(path[..cut])).
        var cuts = screen & CutMask;
        ulong sum = 0;
        var words = 0;
        while (cuts != 0)
        {
            int cut = Cuts[BitOperations.TrailingZeroCount(cuts)];
            if (cut > path.Length)
            {
                // The classes ascend: every remaining one is longer than the path.
                break;
            }

            for (; (words + 1) * 4 <= cut; words++)
            {
                sum += Chars(path, words * 4, 4) * Multipliers[words];
            }

            var partial = cut > words * 4 ? Chars(path, words * 4, cut - (words * 4)) * Multipliers[words] : 0;
            if (Contains(low, high, Finish(sum + partial, cut, PrefixSalt)))
            {
                return true;
            }

            cuts &= cuts - 1;
        }

        return (screen & SegmentKeys) != 0 && MayMatchSegment(low, high, path);
    }

    /// <summary>Whether some run between two consecutive slashes of <paramref name="path"/> is a segment key.</summary>
    private static bool MayMatchSegment(uint low, ulong high, ReadOnlySpan<char> path)
    {
        // The slashes of 8 characters at a time as a bit mask (one compare), instead of one search call per segment.
        ref var start = ref Unsafe.As<char, ushort>(ref MemoryMarshal.GetReference(path));
        var slash = Vector128.Create((ushort)'/');
        var previous = -1;
        var runs = 0;
        for (var offset = 0; offset < path.Length; offset += Vector128<ushort>.Count)
        {
            uint mask;
            if (offset + Vector128<ushort>.Count <= path.Length)
            {
                mask = Vector128.Equals(Vector128.LoadUnsafe(ref start, (nuint)offset), slash).ExtractMostSignificantBits();
            }
            else
            {
                mask = 0;
                for (var i = path.Length - 1; i >= offset; i--)
                {
                    mask = (mask << 1) | (path[i] == '/' ? 1u : 0u);
                }
            }

            while (mask != 0)
            {
                var at = offset + BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
                if (previous >= 0 && at > previous + 1)
                {
                    if (++runs > MaxSegments)
                    {
                        return true;
                    }

                    if (Contains(low, high, Key(path, previous + 1, at - previous - 1, SegmentSalt)))
                    {
                        return true;
                    }
                }

                previous = at;
            }
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Contains(uint low, ulong high, ulong key)
    {
        // Early exit: for a key not in a sparse filter the first bit is usually clear already.
        for (var k = 0; k < 3; k++)
        {
            var position = Position(key, k);
            var bit = position < 32 ? (low >> position) & 1 : (uint)(high >> (position - 32)) & 1;
            if (bit == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Bit <paramref name="k"/> of a key: a position in [0, 96) from 21 bits of the hash (range reduction).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Position(ulong key, int k) => (int)((((key >> (21 * k)) & 0x1FFFFF) * 96) >> 21);

    /// <summary>
    /// The screen's own key hash of <c>text[start..(start + length)]</c> (nothing outside the host slot stores it): a sum
    /// of the text's 4-character words times fixed odd multipliers, then mixed. Cheaper than <see cref="KeyHasher.Hash"/>
    /// for the few short texts a check hashes here, and a prefix's sum extends to a longer prefix, which
    /// <see cref="MayMatch"/> uses. Texts longer than <see cref="MaxKeyChars"/> key by their first characters and that cap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Key(ReadOnlySpan<char> text, int start, int length, ulong salt)
    {
        var n = Math.Min(length, MaxKeyChars);
        ulong sum = 0;
        for (var i = 0; i * 4 < n; i++)
        {
            sum += Chars(text, start + (i * 4), Math.Min(4, n - (i * 4))) * Multipliers[i];
        }

        return Finish(sum, n, salt);
    }

    /// <summary>
    /// <paramref name="count"/> (1–4) characters of <paramref name="text"/> from <paramref name="start"/> as one
    /// little-endian word, zero-extended: one unaligned load, masked, where 4 characters are there to read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Chars(ReadOnlySpan<char> text, int start, int count)
    {
        if (start + 4 <= text.Length)
        {
            var word = Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<char, byte>(ref Unsafe.Add(ref MemoryMarshal.GetReference(text), start)));
            return count >= 4 ? word : word & ((1UL << (count * 16)) - 1);
        }

        ulong result = 0;
        for (var j = start + count - 1; j >= start; j--)
        {
            result = (result << 16) | text[j];
        }

        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Finish(ulong sum, int length, ulong salt)
    {
        // Two rounds of multiply-xorshift: every output bit depends on every input bit (the Bloom positions take
        // 21-bit slices of the result).
        var x = sum ^ salt ^ ((ulong)length * 0x9E3779B97F4A7C15UL);
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93UL;
        x ^= x >> 32;
        x *= 0xD6E8FEB86659FD93UL;
        x ^= x >> 32;
        return x == 0 ? 1 : x;
    }

    /// <summary>One odd multiplier per 4-character word of a key (<see cref="MaxKeyChars"/> / 4).</summary>
    private static ReadOnlySpan<ulong> Multipliers =>
    [
        0x9E3779B185EBCA87UL, 0xC2B2AE3D27D4EB4FUL, 0x165667B19E3779F9UL, 0x85EBCA77C2B2AE63UL, 0x27D4EB2F165667C5UL,
        0xFF51AFD7ED558CCDUL, 0xC4CEB9FE1A85EC53UL, 0x94D049BB133111EBUL, 0xBF58476D1CE4E5B9UL, 0xD1B54A32D192ED03UL,
    ];

    /// <summary>The largest cut class not longer than <paramref name="length"/> (≥ 1).</summary>
    private static int CutIndex(int length)
    {
        var cuts = Cuts;
        var i = cuts.Length - 1;
        while (cuts[i] > length)
        {
            i--;
        }

        return i;
    }

    /// <summary>
    /// The start (index of its leading '/') of the longest non-empty run <c>/s/</c> inside one literal part of a
    /// pattern (between stars, without a final '$'), or -1.
    /// </summary>
    private static int LongestWholeSegment(ReadOnlySpan<char> pattern)
    {
        var body = pattern.EndsWith("$") ? pattern[..^1] : pattern;
        int best = -1, bestLength = 0;
        for (var i = 0; i < body.Length; i++)
        {
            if (body[i] != '/')
            {
                continue;
            }

            var end = body[(i + 1)..].IndexOfAny('/', '*');
            if (end < 0)
            {
                break;
            }

            if (body[i + 1 + end] == '/' && end > bestLength)
            {
                best = i;
                bestLength = end;
            }
        }

        return best;
    }
}
