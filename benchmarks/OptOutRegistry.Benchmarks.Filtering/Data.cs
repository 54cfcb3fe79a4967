using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Filtering;

/// <summary>
/// Deterministic benchmark data: a signed snapshot of <c>selectors</c> exact-URL selectors (1,000 per reservation, one
/// holder per reservation), the same URLs as a plain list (DuckDB's side of the anti-join), and JSON Lines records of
/// which <c>covered</c> per mille carry a registered URL. Every URL is already canonical (lower-case host, no default
/// port, no fragment), so an exact string anti-join and the registry's canonicalising matcher must agree on the counts.
/// </summary>
internal static class Data
{
    public const int Hosts = 100_000;

    public static string SelectorUrl(long i) => string.Create(CultureInfo.InvariantCulture, $"https://h{i % Hosts}.example{i % 97}.com/works/{i}/page.html");

    public static void Generate(string directory, long records, long selectors, int coveredPerMille, int textBytes)
    {
        Directory.CreateDirectory(directory);
        using (var list = new StreamWriter(Path.Combine(directory, "blocked-urls.txt"), false, new UTF8Encoding(false), 1 << 20))
        using (var file = File.Create(Path.Combine(directory, "registry.snapshot")))
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var created = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var stamp = Timestamp.FromDateTimeOffset(created);
            using var writer = new SnapshotWriter(file, new SnapshotHeader(SnapshotKind.Full, selectors / 1000, -1, created));
            for (long r = 0; r * 1000 < selectors; r++)
            {
                var reservation = new Pb.Reservation
                {
                    Id = "r" + r.ToString(CultureInfo.InvariantCulture),
                    HolderId = "h" + (r % 500).ToString(CultureInfo.InvariantCulture),
                    HolderName = "Holder " + (r % 500).ToString(CultureInfo.InvariantCulture),
                    RegisteredAt = stamp,
                    ValidFrom = stamp,
                    State = Pb.ReservationState.Active,
                };
                for (var s = r * 1000; s < Math.Min(selectors, (r + 1) * 1000); s++)
                {
                    var url = SelectorUrl(s);
                    reservation.Selectors.Add(new Pb.Selector { Url = url });
                    list.Write(url);
                    list.Write('\n');
                }

                reservation.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
                writer.WriteReservation(reservation);
            }

            writer.Finish(key);
        }

        var rng = new Random(20261122);
        var filler = textBytes > 0 ? Words(rng, textBytes) : null;
        using var output = new StreamWriter(Path.Combine(directory, textBytes > 0 ? "records-text.jsonl" : "records.jsonl"), false, new UTF8Encoding(false), 1 << 20);
        for (long i = 0; i < records; i++)
        {
            // Covered records hit a registered URL; the others are on the same hosts (so host rules are consulted) but other paths.
            var url = rng.Next(1000) < coveredPerMille
                ? SelectorUrl(rng.NextInt64(selectors))
                : string.Create(CultureInfo.InvariantCulture, $"https://h{rng.Next(Hosts)}.example{rng.Next(97)}.com/articles/{i}?ref=feed");
            output.Write("{\"id\":");
            output.Write(i.ToString(CultureInfo.InvariantCulture));
            output.Write(",\"url\":\"");
            output.Write(url);
            output.Write("\",\"lang\":\"en\"");
            if (filler is not null)
            {
                output.Write(",\"text\":\"");
                output.Write(filler[rng.Next(filler.Length)]);
                output.Write('"');
            }

            output.Write("}\n");
        }
    }

    private static string[] Words(Random rng, int bytes)
    {
        var words = "river stone lantern orchard meadow harbour violet copper whisper thunder quiet amber glacier falcon ember willow canyon silver marble tide".Split(' ');
        var texts = new string[64];
        for (var t = 0; t < texts.Length; t++)
        {
            var sb = new StringBuilder();
            while (sb.Length < bytes)
            {
                sb.Append(words[rng.Next(words.Length)]).Append(' ');
            }

            texts[t] = sb.ToString(0, bytes);
        }

        return texts;
    }
}
