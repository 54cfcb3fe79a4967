using System.Security.Cryptography;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Fingerprints.Iscc;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Filtering.Tests;

/// <summary>A signed snapshot written at test time with one reservation per selector kind the filter relies on.</summary>
public sealed class SnapshotFixture : IDisposable
{
    /// <summary>A work registered by content: its exact bytes (SHA-256) and its ISCC Text-Code.</summary>
    public static readonly string RegisteredText = BuildText();

    public static readonly string ExactText = "This exact text is reserved by its author.";

    public SnapshotFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "optout-filter-tests-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        SnapshotPath = Path.Combine(Directory, "registry.snapshot");
        var registered = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var reservations = new[]
        {
            Reservation("r-news", "h-news", "Example News", registered, Pb.UsageCategory.TrainAi, new Pb.Selector { Prefix = "https://news.example/articles/" }),
            Reservation("r-blocked", "h-blocked", "Blocked Inc", registered, Pb.UsageCategory.All, new Pb.Selector { Domain = "blocked.example" }),
            Reservation("r-text", "h-author", "An Author", registered, Pb.UsageCategory.TrainAi,
                new Pb.Selector { Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ExactText))) },
                new Pb.Selector { Iscc = IsccGenerator.GenTextCodeV0(RegisteredText).Iscc }),
        };
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using (var file = File.Create(SnapshotPath))
        using (var writer = new SnapshotWriter(file, new SnapshotHeader(SnapshotKind.Full, 42, -1, new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero))))
        {
            foreach (var r in reservations)
            {
                writer.WriteReservation(r);
            }

            writer.Finish(key);
        }

        Checker = SnapshotFilterChecker.Load(SnapshotPath);
    }

    public string Directory { get; }

    public string SnapshotPath { get; }

    public SnapshotFilterChecker Checker { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private static Pb.Reservation Reservation(string id, string holder, string name, Timestamp registered, Pb.UsageCategory category, params Pb.Selector[] selectors)
    {
        var r = new Pb.Reservation { Id = id, HolderId = holder, HolderName = name, RegisteredAt = registered, ValidFrom = registered, State = Pb.ReservationState.Active };
        r.Selectors.AddRange(selectors);
        r.Statements.Add(new Pb.UsageStatement { Category = category, Permission = Pb.Permission.Disallow });
        return r;
    }

    // A few paragraphs of varied prose (deterministic), long enough for a stable Text-Code.
    private static string BuildText()
    {
        var words = "river stone lantern orchard meadow harbour violet copper whisper thunder quiet amber glacier falcon ember willow canyon silver marble tide".Split(' ');
        var sb = new StringBuilder();
        var state = 12345u;
        for (var i = 0; i < 600; i++)
        {
            state = (state * 1103515245) + 12345;
            sb.Append(words[(state >> 16) % (uint)words.Length]);
            sb.Append(i % 17 == 16 ? ".\n" : " ");
        }

        return sb.ToString();
    }
}
