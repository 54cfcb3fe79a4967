using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>Deterministic synthetic reservations: Latin, Russian and Kazakh titles and creators, ~120-byte payloads.</summary>
internal static class DataGenerator
{
    public const int HolderCount = 100;

    // Syllables per script; three of them make one of ~8,000 distinct words per script (24,000 in all), so a title
    // word matches a few dozen works per million, as real titles do.
    private static readonly string[][] Syllables =
    [
        ["ka", "ri", "mo", "zé", "lu", "ta", "ne", "so", "vi", "da", "po", "mi", "rå", "fe", "gu", "lo", "ba", "ti", "ze", "ho"],
        ["ка", "ри", "мо", "зё", "лу", "та", "не", "со", "ви", "да", "по", "ми", "ра", "фе", "гу", "ло", "ба", "ти", "зе", "хо"],
        ["қа", "рі", "мө", "зә", "лұ", "та", "не", "сү", "ві", "да", "по", "ми", "ра", "ғе", "гу", "ло", "ба", "ті", "зе", "ңо"],
    ];

    /// <summary>Word number <paramref name="n"/> of the synthetic vocabulary.</summary>
    public static string Word(long n)
    {
        var script = Syllables[(int)(n % 3)];
        var k = n / 3;
        return script[(int)(k % 20)] + script[(int)(k / 20 % 20)] + script[(int)(k / 400 % 20)];
    }

    /// <summary>The three title words of reservation <paramref name="i"/>.</summary>
    public static (string, string, string) TitleWords(long i) =>
        (Word(Mix(i, 1) % 24_000), Word(Mix(i, 2) % 24_000), Word(Mix(i, 3) % 24_000));

    private static long Mix(long i, long salt)
    {
        var x = unchecked(((ulong)i * 0x9E3779B97F4A7C15UL) + (ulong)salt);
        x ^= x >> 31;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 29;
        return (long)(x & long.MaxValue);
    }

    private static readonly string[] Words =
    [
        "river", "night", "garden", "song", "mountain", "letters", "city", "winter", "café", "light",
        "река", "ночь", "сад", "песня", "гора", "письма", "город", "зима", "ёлка", "свет",
        "өзен", "түн", "бақ", "ән", "тау", "хаттар", "қала", "қыс", "жарық", "дала",
    ];

    private static readonly string[] Names =
    [
        "Anna Weber", "Jean Dupont", "Мария Иванова", "Лев Толстой", "Абай Құнанбайұлы", "Мұхтар Әуезов", "Ólafur Arnalds", "Zoë Martín",
    ];

    /// <summary>One of the 30 common words; every title ends with one, so each matches ~3% of works.</summary>
    public static string CommonWord(int n) => Words[n % Words.Length];

    public static IEnumerable<Mutation> Holders()
    {
        for (var h = 0; h < HolderCount; h++)
        {
            var id = "holder-" + h;
            yield return new Mutation(new EventDraft("admin", "holder.created", Encoding.UTF8.GetBytes(id)),
                new CreateHolder(id, "Publisher " + h, null));
        }
    }

    /// <summary>
    /// <c>--payload proto</c>: payloads as the server writes them — the row's payload a serialized <c>optout.v1.Reservation</c>
    /// (one URL selector, one statement, the work metadata), the event's an <c>optout.v1.Event</c> carrying it — so the
    /// store can be rebuilt into a matcher (<c>rebuild</c>). Default: 120 opaque bytes for both, as in rounds one to three.
    /// </summary>
    public static bool ProtoPayloads { get; set; }

    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Mutation Reservation(long i, string prefix = "r")
    {
        var id = prefix + i;
        var holder = "holder-" + (i % HolderCount);
        var (w1, w2, w3) = TitleWords(i);
        var title = $"{w1} {w2} {w3} {Words[i % Words.Length]}";
        var creator = Names[i % Names.Length];
        var isbn = "isbn:978" + (i % 1_000_000_000).ToString("D10", System.Globalization.CultureInfo.InvariantCulture);
        var holderName = "Publisher " + (i % HolderCount);
        byte[] payload;
        byte[] eventPayload;
        if (ProtoPayloads)
        {
            var reservation = ProtoReservation(id, holder, holderName, i, title, creator, isbn);
            payload = reservation.ToByteArray();
            eventPayload = new Pb.Event { Actor = "holder:" + holder, ReservationCreated = reservation }.ToByteArray();
        }
        else
        {
            payload = new byte[120];
            BitConverter.TryWriteBytes(payload, i);
            Encoding.UTF8.GetBytes(id, payload.AsSpan(8));
            eventPayload = payload;
        }

        return new Mutation(new EventDraft("holder:" + holder, "reservation.created", eventPayload),
            new PutReservation(id, holder, ReservationState.Active, null, null,
                new WorkMetadata(title, [creator], [isbn]), holderName, payload));
    }

    /// <summary>The URL reservation <paramref name="i"/> protects (50,000 hosts, one path each).</summary>
    public static string Url(long i) => $"https://www.site{i % 50_000}.example/works/{i}";

    private static Pb.Reservation ProtoReservation(string id, string holder, string holderName, long i, string title, string creator, string isbn)
    {
        var registered = Timestamp.FromDateTimeOffset(Epoch.AddMilliseconds(i));
        var reservation = new Pb.Reservation
        {
            Id = id,
            HolderId = holder,
            HolderName = holderName,
            RegisteredAt = registered,
            ValidFrom = registered,
            State = Pb.ReservationState.Active,
            Work = new Pb.WorkMetadata { Title = title, Creators = { creator }, Identifiers = { isbn } },
        };
        reservation.Selectors.Add(new Pb.Selector { Url = Url(i) });
        reservation.SelectorVerified.Add(false);
        reservation.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
        return reservation;
    }
}
