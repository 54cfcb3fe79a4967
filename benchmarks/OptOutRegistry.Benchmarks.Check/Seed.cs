using OptOutRegistry.Client;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>Registers the benchmark's selectors through the Registry service, and writes the query file.</summary>
internal static class Seed
{
    private const int PerReservation = 1000;

    public static async Task RunAsync(string server, int selectors, string queriesPath)
    {
        using var anonymous = RegistryClient.Create(server);
        var holder = await anonymous.CreateHolderAsync(new Pb.CreateHolderRequest { DisplayName = "Benchmark Press", ContactEmail = "bench@example.org" });
        using var client = anonymous.WithKey(holder.ApiKey);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reservations = (selectors + PerReservation - 1) / PerReservation;
        await Parallel.ForAsync(0, reservations, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (r, ct) =>
        {
            var spec = new Pb.ReservationSpec();
            spec.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
            for (var i = r * PerReservation; i < Math.Min(selectors, (r + 1) * PerReservation); i++)
            {
                spec.Selectors.Add(new Pb.Selector { Url = Covered(i) });
            }

            await client.CreateReservationAsync(spec, cancellationToken: ct);
        });
        Console.Error.WriteLine($"seeded {selectors} url selectors in {reservations} reservations in {clock.Elapsed.TotalSeconds:F1} s");

        // Queries: every covered URL once and as many uncovered ones (same hosts, other paths), shuffled; 50% covered.
        var random = new Random(7);
        var queries = new string[selectors];
        for (var i = 0; i < selectors; i++)
        {
            var n = random.Next(selectors);
            queries[i] = (i & 1) == 0 ? Covered(n) : Uncovered(n);
        }

        await File.WriteAllLinesAsync(queriesPath, queries);
    }

    // Realistic shapes: many hosts, a few path levels, some query strings.
    public static string Covered(int i) => $"https://www.site{i % 50_000}.example/gallery/{i / 50_000}/image-{i}.jpg";

    public static string Uncovered(int i) => $"https://www.site{i % 50_000}.example/gallery/{i / 50_000}/image-{i}.png?size=large";
}
