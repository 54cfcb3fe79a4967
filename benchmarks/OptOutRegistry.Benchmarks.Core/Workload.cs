using System.Security.Cryptography;
using System.Text;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Benchmarks.Core;

/// <summary>
/// A deterministic registry of a realistic mix (issue 3 item 8): 70 % url, 15 % prefix/pattern (10 + 5),
/// 10 % host/domain (5 + 5), 5 % content (sha256 3 %, identifier 1 %, iscc 1 %), 4 selectors per reservation
/// on average, 20 selectors per host on average, 1 holder per 25 reservations; and query sets of raw URLs.
/// </summary>
public sealed class Workload
{
    private static readonly string[] Tlds = ["com", "org", "net", "de", "co.uk", "kz", "xn--p1ai", "xn--80ao21a", "fr", "io"];
    private static readonly string[] Words = ["gallery", "photos", "news", "blog", "media", "img", "articles", "music", "video", "docs"];
    private static readonly DateTimeOffset T0 = new(2026, 1, 18, 0, 0, 0, TimeSpan.Zero);

    private Workload(int selectorCount)
    {
        SelectorCount = selectorCount;
    }

    public int SelectorCount { get; }

    public List<Reservation> Reservations { get; } = [];

    /// <summary>Raw URLs registered as url selectors (as the holder wrote them).</summary>
    public List<string> RegisteredUrls { get; } = [];

    /// <summary>Canonical keys of the url selectors (what Lucene indexes).</summary>
    public List<string> RegisteredKeys { get; } = [];

    public int HostCount { get; private set; }

    public static DateTimeOffset CheckTime => T0.AddDays(100);

    public static string Host(int h) => $"s{h}.{Words[h % Words.Length]}{h % 97}.{Tlds[h % Tlds.Length]}";

    private static string Apex(int h) => $"{Words[h % Words.Length]}{h % 97}x{h}.{Tlds[h % Tlds.Length]}";

    public static Workload Create(int selectorCount, int seed = 1)
    {
        var w = new Workload(selectorCount);
        var random = new Random(seed);
        var hosts = Math.Max(1, selectorCount / 20);
        w.HostCount = hosts;
        var made = 0;
        var id = 0;
        var selectors = new List<ReservationSelector>(8);
        var digest = new byte[32];
        while (made < selectorCount)
        {
            var k = Math.Min(1 + random.Next(7), selectorCount - made);
            selectors.Clear();
            var h = random.Next(hosts);
            for (var i = 0; i < k; i++)
            {
                var roll = random.Next(100);
                if (roll < 70)
                {
                    var url = $"https://{Host(h)}/{Words[random.Next(Words.Length)]}/{random.Next(1_000_000)}/item-{made}.jpg";
                    var s = Selector.Create(SelectorKind.Url, url);
                    w.RegisteredUrls.Add(url);
                    w.RegisteredKeys.Add(s.Text);
                    selectors.Add(new ReservationSelector(s));
                }
                else if (roll < 80)
                {
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Prefix, $"{Host(h)}/{Words[random.Next(Words.Length)]}/p{made}/"), true));
                }
                else if (roll < 85)
                {
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Pattern, $"{Host(h)}/*/q{made}/*.png$"), true));
                }
                else if (roll < 90)
                {
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Host, $"h{made}.{Host(h)}",
                        made % 2 == 0 ? SelectorOptions.IncludeSubdomains : SelectorOptions.None), true));
                }
                else if (roll < 95)
                {
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Domain, $"d{made}{Apex(h)}"), true));
                }
                else if (roll < 98)
                {
                    random.NextBytes(digest);
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Sha256, Convert.ToHexString(digest))));
                }
                else if (roll < 99)
                {
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Identifier, $"doi:10.{1000 + (made % 9000)}/work.{made}")));
                }
                else
                {
                    random.NextBytes(digest);
                    var unit = new byte[10];
                    unit[0] = 0x20; // CONTENT / TEXT
                    unit[1] = 0x01; // version 0, 64 bits
                    digest.AsSpan(0, 8).CopyTo(unit.AsSpan(2));
                    selectors.Add(new ReservationSelector(Selector.Create(SelectorKind.Iscc, "ISCC:" + Base32(unit))));
                }

                made++;
            }

            var registered = T0.AddMinutes(id % 100_000);
            var statements = id % 10 == 0
                ? UsageStatements.Of((UsageCategory.All, UsagePermission.Disallow), (UsageCategory.Search, UsagePermission.Allow))
                : UsageStatements.DisallowAll;
            w.Reservations.Add(new Reservation($"res-{id:x8}", $"holder-{id / 25}", registered, registered, null, selectors.ToArray(), statements));
            id++;
        }

        return w;
    }

    /// <summary>Raw URLs covered by a url selector, written differently (scheme, case, default port, fragment).</summary>
    public string[] CoveredUrls(int count, int seed = 2)
    {
        var random = new Random(seed);
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            var url = RegisteredUrls[random.Next(RegisteredUrls.Count)];
            result[i] = (i % 4) switch
            {
                0 => url,
                1 => "http" + url[5..],
                2 => url.Replace("https://s", "https://S", StringComparison.Ordinal),
                _ => url + "#frag",
            };
        }

        return result;
    }

    /// <summary>Raw URLs on hosts that have no rules at all (the common case for a crawler).</summary>
    public string[] UncoveredUnknownHostUrls(int count, int seed = 3)
    {
        var random = new Random(seed);
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = $"https://www.site{random.Next(10_000_000)}.example.{Tlds[i % Tlds.Length]}/{Words[random.Next(Words.Length)]}/{random.Next(1_000_000)}/item-{i}.jpg";
        }

        return result;
    }

    /// <summary>Raw URLs on hosts that have rules, at paths no rule covers.</summary>
    public string[] UncoveredKnownHostUrls(int count, int seed = 4)
    {
        var random = new Random(seed);
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = $"https://{Host(random.Next(HostCount))}/{Words[random.Next(Words.Length)]}/{random.Next(1_000_000)}/other-{i}.jpg";
        }

        return result;
    }

    /// <summary>Half covered, half not (half of those on known hosts), interleaved.</summary>
    public string[] MixedUrls(int count)
    {
        var covered = CoveredUrls(count / 2, 5);
        var unknown = UncoveredUnknownHostUrls(count / 4, 6);
        var known = UncoveredKnownHostUrls(count - (count / 2) - (count / 4), 7);
        var all = covered.Concat(unknown).Concat(known).ToArray();
        new Random(8).Shuffle(all);
        return all;
    }

    private static string Base32(byte[] data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            sb.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return sb.ToString();
    }
}
