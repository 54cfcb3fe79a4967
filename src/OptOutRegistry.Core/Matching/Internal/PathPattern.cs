namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// RFC 9309 §2.2.3 path patterns: <c>*</c> matches any sequence of characters (including <c>/</c>), a final
/// <c>$</c> anchors the end; without <c>$</c> a pattern matches as a prefix. Matching is greedy left-to-right
/// over the literal segments between stars: each segment is searched once, from where the previous one ended,
/// and the search position never moves back. For star-only patterns the leftmost occurrence of each segment is
/// always a valid choice, so no backtracking is needed: the cost is bounded by path length × segment count
/// (each search vectorised), never exponential — <c>*a*a*a*…b</c> against <c>aaaa…</c> is linear per segment.
/// </summary>
internal static class PathPattern
{
    /// <summary>Whether <paramref name="path"/> (path and query of a canonical key) matches <paramref name="pattern"/>.</summary>
    public static bool IsMatch(ReadOnlySpan<char> path, ReadOnlySpan<char> pattern)
    {
        var anchored = pattern.Length > 0 && pattern[^1] == '$';
        if (anchored)
        {
            pattern = pattern[..^1];
        }

        var star = pattern.IndexOf('*');
        if (star < 0)
        {
            return anchored ? path.SequenceEqual(pattern) : path.StartsWith(pattern);
        }

        // The first segment is anchored at the start of the path.
        if (!path.StartsWith(pattern[..star]))
        {
            return false;
        }

        var position = star;
        var rest = pattern[(star + 1)..];
        while (true)
        {
            star = rest.IndexOf('*');
            if (star < 0)
            {
                // Last segment: with '$' it must end the path (and not overlap what earlier segments used);
                // without '$' it may occur anywhere after the current position.
                if (anchored)
                {
                    return path.Length - position >= rest.Length && path.EndsWith(rest);
                }

                return rest.Length == 0 || path[position..].IndexOf(rest) >= 0;
            }

            var segment = rest[..star];
            if (segment.Length > 0)
            {
                var found = path[position..].IndexOf(segment);
                if (found < 0)
                {
                    return false;
                }

                position += found + segment.Length;
            }

            rest = rest[(star + 1)..];
        }
    }
}
