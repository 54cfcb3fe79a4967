namespace OptOutRegistry.Core.Matching;

/// <summary>Options of a <see cref="MatcherIndex"/>.</summary>
public sealed record MatcherOptions
{
    /// <summary>
    /// Default Hamming threshold for ISCC similarity units (content, semantic, data): 8 of 64 bits (12.5 %).
    /// iscc-sum uses 12 for its Data-Code comparisons; 8 keeps false near-duplicate hits rare in a
    /// registry where a match means "do not use".
    /// </summary>
    public const int DefaultIsccMaxDistance = 8;

    /// <summary>Largest Hamming distance (0–32 of 64 bits) at which two ISCC similarity units are the same work.</summary>
    public int IsccMaxDistance { get; init; } = DefaultIsccMaxDistance;

    /// <summary>Expected number of selectors, to size the tables once instead of growing them.</summary>
    public long ExpectedSelectors { get; init; }

    /// <summary>The clock for checks without an as-of instant.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
