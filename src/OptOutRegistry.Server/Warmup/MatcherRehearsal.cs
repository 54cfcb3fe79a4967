using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Warmup;

/// <summary>
/// The part of the warm-up the server's own requests cannot reach: their subjects are <c>.invalid</c> URLs, which no
/// reservation matches, so the matcher's paths for a match (the lookups past the host table, the reservation's
/// validity and usage statements, a DISALLOWED answer with its provenance) would still be compiled for the first
/// caller whose URL is reserved (measured: ~25 methods, a few ms). So the same check code runs here, in process, on a
/// throwaway matcher of two reservations made for it: an exact URL and a prefix, both disallowing train-ai. It is never
/// served and never touches the registry's matcher.
/// </summary>
internal static class MatcherRehearsal
{
    private const string ExactUrl = "https://warm-up.invalid/optout-registry/reserved.jpg";
    private const string UnderPrefix = "https://warm-up.invalid/optout-registry/gallery/1.jpg";
    private const string Miss = "https://warm-up.invalid/optout-registry/free.jpg";

    /// <summary>Runs the check paths on a throwaway matcher; throws if it does not answer as it must.</summary>
    public static void Run()
    {
        var registered = DateTimeOffset.UtcNow.AddDays(-1);
        var mirror = new RegistryMirror();
        mirror.Load(MatcherIndex.Build([Reservation("warm-up-exact", new Pb.Selector { Url = ExactUrl }, registered),
            Reservation("warm-up-prefix", new Pb.Selector { Prefix = "warm-up.invalid/optout-registry/gallery/" }, registered)]), 1, []);
        var engine = new CheckEngine(mirror);

        // The fast path's call (CheckBatchFastPath.Answer): verdicts only, straight from the URLs.
        string?[] urls = [ExactUrl, UnderPrefix, Miss];
        var verdicts = new Verdict[urls.Length];
        var errors = new UrlError[urls.Length];
        mirror.Matcher.CheckUrls(urls, UsageCategory.TrainAi, DateTimeOffset.UtcNow, verdicts, errors);
        Expect(verdicts[0] == Verdict.Disallowed && verdicts[1] == Verdict.Disallowed && verdicts[2] != Verdict.Disallowed, "CheckUrls");

        // The generated path, verdicts only and with provenance, and Explain.
        foreach (var matches in (ReadOnlySpan<bool>)[false, true])
        {
            var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, IncludeMatches = matches };
            foreach (var url in urls)
            {
                request.Subjects.Add(new Pb.Subject { Url = url });
            }

            var response = engine.CheckBatch(request);
            Expect(response.Results[0].Verdict == Pb.Verdict.Disallowed && response.Results[1].Verdict == Pb.Verdict.Disallowed, "CheckBatch");
        }

        var explained = engine.Explain(new Pb.ExplainRequest { Subject = new Pb.Subject { Url = ExactUrl }, Purpose = Pb.UsageCategory.TrainAi });
        Expect(explained.Verdict == Pb.Verdict.Disallowed, "Explain");
    }

    private static Reservation Reservation(string id, Pb.Selector selector, DateTimeOffset registered) => ProtoConvert.ToCore(new Pb.Reservation
    {
        Id = id,
        HolderId = "warm-up",
        RegisteredAt = Timestamp.FromDateTimeOffset(registered),
        ValidFrom = Timestamp.FromDateTimeOffset(registered),
        State = Pb.ReservationState.Active,
        Work = new Pb.WorkMetadata { Title = "warm-up" },
        Statements = { new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
        Selectors = { selector },
    });

    private static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"the warm-up's rehearsal matcher answered {what} wrongly");
        }
    }
}
