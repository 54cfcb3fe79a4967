using OptOutRegistry.Fuzz.Parsers;
using Xunit.Abstractions;

namespace OptOutRegistry.Fuzz.Tests;

/// <summary>
/// Pathological inputs at n and 4n (robots <c>*</c> patterns, long URLs, nested JSON, deep HTML, big structured
/// fields and filter records): the time ratio must stay under <see cref="Superlinear.RatioLimit"/> (linear ≈ 4,
/// quadratic ≈ 16). Ratios, never absolute times, so a loaded machine does not decide the outcome.
/// </summary>
public sealed class SuperlinearTests(ITestOutputHelper output)
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Superlinear.All)
        {
            data.Add(c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Work_AtFourTimesTheInput_GrowsAtMostLinearly(string name)
    {
        var c = Superlinear.All.Single(x => x.Name == name);
        var (small, large, ratio) = Superlinear.Measure(c);
        output.WriteLine($"{name}: n={c.N} {small.TotalMilliseconds:F3} ms, 4n {large.TotalMilliseconds:F3} ms, ratio {ratio:F1}");

        // One retry: a single burst of load from another process can distort one measurement; two in a row is the code.
        if (ratio >= Superlinear.RatioLimit)
        {
            (small, large, ratio) = Superlinear.Measure(c);
            output.WriteLine($"retry: {small.TotalMilliseconds:F3} ms, {large.TotalMilliseconds:F3} ms, ratio {ratio:F1}");
        }

        Assert.True(ratio < Superlinear.RatioLimit, $"{name}: 4n took {ratio:F1}× the time of n ({small.TotalMilliseconds:F3} ms → {large.TotalMilliseconds:F3} ms)");
    }
}
