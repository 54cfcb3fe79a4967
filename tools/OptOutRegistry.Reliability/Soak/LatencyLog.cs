namespace OptOutRegistry.Reliability.Soak;

/// <summary>Check call latencies with the time they ended, kept whole so any window's percentiles can be computed.</summary>
internal sealed class LatencyLog
{
    private readonly object _lock = new();
    private readonly List<(double At, double Ms)> _entries = new(1 << 16);

    public void Add(double atSeconds, double milliseconds)
    {
        lock (_lock)
        {
            _entries.Add((atSeconds, milliseconds));
        }
    }

    /// <summary>Count, p50 and p99 of the latencies that ended in [from, to).</summary>
    public (long Count, double P50, double P99) Window(double from, double to)
    {
        var values = new List<double>();
        lock (_lock)
        {
            foreach (var (at, ms) in _entries)
            {
                if (at >= from && at < to)
                {
                    values.Add(ms);
                }
            }
        }

        if (values.Count == 0)
        {
            return (0, 0, 0);
        }

        values.Sort();
        return (values.Count, Percentile(values, 0.50), Percentile(values, 0.99));
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(List<double> sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
