using System.Diagnostics;

namespace OptOutRegistry.Fuzz.Parsers;

/// <summary>
/// Runs one <see cref="ParserTarget"/>: its seeds first, then mutated inputs, until the iteration count or the time
/// budget is reached. The loop runs on its own thread so a parser that never returns is reported as a hang (with the
/// input that hung) instead of stopping the whole run.
/// </summary>
public static class ParserFuzzer
{
    /// <summary>Per-input limit. Inputs are at most tens of KiB, so anything near this is far beyond linear work.</summary>
    public static readonly TimeSpan SlowInputLimit = TimeSpan.FromSeconds(2);

    /// <summary>Fuzzes <paramref name="target"/>.</summary>
    /// <param name="target">The parser.</param>
    /// <param name="seed">Random seed (same seed, same inputs).</param>
    /// <param name="maxInputs">Stop after this many inputs.</param>
    /// <param name="budget">Stop after this much time.</param>
    public static FuzzTargetResult Run(ParserTarget target, int seed, long maxInputs, TimeSpan budget)
    {
        var findings = new List<FuzzFinding>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long inputs = 0, documented = 0;
        var slowest = TimeSpan.Zero;
        byte[]? current = null;
        var total = Stopwatch.StartNew();

        void Record(FindingKind kind, string key, string detail, byte[] input)
        {
            lock (findings)
            {
                if (seen.Add(kind + "|" + key))
                {
                    findings.Add(new FuzzFinding(target.Name, kind, detail, FuzzFinding.Encode(input)));
                }
            }
        }

        void Loop()
        {
            var mutator = new Mutator(seed, target.Dictionary);
            var one = new Stopwatch();
            var index = 0;

            // The seeds run first and outside the budget: they include JIT compilation and one-time setup (the filter's
            // snapshot), which would otherwise eat a short CI budget.
            var budgetClock = new Stopwatch();
            while (Interlocked.Read(ref inputs) < maxInputs && (index < target.Seeds.Count || budgetClock.Elapsed < budget))
            {
                if (index == target.Seeds.Count)
                {
                    budgetClock.Start();
                }

                var input = index < target.Seeds.Count ? target.Seeds[index] : mutator.Next(target.Seeds, target.MaxInputLength);
                index++;
                Volatile.Write(ref current, input);
                one.Restart();
                try
                {
                    target.Run(input);
                }
                catch (Exception ex) when (target.IsDocumented(ex))
                {
                    documented++;
                }
                catch (Exception ex)
                {
                    var frame = new StackTrace(ex, fNeedFileInfo: false).GetFrame(0)?.GetMethod();
                    var where = frame is null ? "?" : frame.DeclaringType?.Name + "." + frame.Name;
                    Record(FindingKind.UndocumentedException, ex.GetType().FullName + "@" + where, $"{ex.GetType().Name} at {where}: {ex.Message}", input);
                }

                one.Stop();
                if (one.Elapsed > slowest)
                {
                    slowest = one.Elapsed;
                }

                // The first inputs include JIT compilation of the parser; they are not held to the limit.
                if (one.Elapsed > SlowInputLimit && index > target.Seeds.Count + 1)
                {
                    Record(FindingKind.Slow, "slow", $"{one.Elapsed.TotalMilliseconds:F0} ms for {input.Length} bytes", input);
                }

                Interlocked.Increment(ref inputs);
            }
        }

        var thread = new Thread(Loop) { IsBackground = true, Name = "fuzz " + target.Name };
        thread.Start();
        if (!thread.Join(budget + SlowInputLimit + TimeSpan.FromSeconds(10 + 5 * target.Seeds.Count)))
        {
            // The thread is abandoned (it is a background thread); its input is the finding.
            Record(FindingKind.Hang, "hang", $"no return within {SlowInputLimit.TotalSeconds + 10:F0} s after the budget", Volatile.Read(ref current) ?? []);
        }

        return new FuzzTargetResult(target.Name, Interlocked.Read(ref inputs), documented, total.Elapsed, slowest, findings);
    }
}
