using OptOutRegistry.Filtering;
using OptOutRegistry.Fuzz.Parsers;

namespace OptOutRegistry.Fuzz.Tests;

/// <summary>Runs <c>optout filter</c>'s engine over bytes against the fuzz snapshot and returns the report.</summary>
public static class FilterRun
{
    /// <summary>Filters <paramref name="input"/> in <paramref name="format"/> (non-strict).</summary>
    public static FilterReport Run(byte[] input, RecordFormat format) => Pathological.FilterReport(input, format);
}
