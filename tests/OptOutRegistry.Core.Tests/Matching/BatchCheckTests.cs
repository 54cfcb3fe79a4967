using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using static OptOutRegistry.Core.Tests.Matching.TestReservations;

namespace OptOutRegistry.Core.Tests.Matching;

/// <summary>
/// <see cref="MatcherIndex.CheckUrls"/> (the pipelined batch form the Check service uses) gives exactly the answers of
/// one <see cref="MatcherIndex.TryCheckUrl"/> per URL, whatever the mix, order and length of the batch.
/// </summary>
public class BatchCheckTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(30);

    private static MatcherIndex Registry() => MatcherIndex.Build(
    [
        Disallow("photographer", Url("https://example.kz/books/abai.pdf"), Url("https://example.com/a?x=1"), Url("https://example.com/any", anyQuery: true)),
        Disallow("publisher", Domain("example.org"), Prefix("example.net/private/"), Pattern("example.net/*.pdf$")),
        Allow("publisher", Url("https://example.org/press/kit.jpg"), Host("blog.example.org")),
        Disallow("port", Url("https://example.com:8443/a.jpg"), Prefix("example.com:8443/p/")),
        // More labels with rules than the pipeline keeps per URL (4): the batch falls back to the plain walk.
        Disallow("deep", Host("a.b.c.d.e.example.io", subdomains: true), Domain("example.io"), Host("c.d.e.example.io"), Host("e.example.io", subdomains: true),
            Host("b.c.d.e.example.io", subdomains: true)),
        Make("genai", UsageStatements.Of((UsageCategory.TrainGenAi, UsagePermission.Disallow)), [Url("https://genai.example/x")]),
        Make("later", UsageStatements.DisallowAll, [Url("https://later.example/x")], validFrom: Now.AddDays(1)),
        Disallow("idn", Url("https://мысал.қаз/кітап"), Host("пример.рф")),
    ]);

    private static readonly string?[] Urls =
    [
        "https://example.kz/books/abai.pdf",
        "HTTP://EXAMPLE.KZ:80/books/abai.pdf#page=2",
        "https://example.kz/books/other.pdf",
        "https://example.com/a?x=1",
        "https://example.com/a?x=2",
        "https://example.com/any?utm=1",
        "https://example.com/any",
        "https://www.example.org/",
        "https://example.org/press/kit.jpg",
        "https://blog.example.org/post",
        "https://example.net/private/x",
        "https://example.net/public/x.pdf",
        "https://example.net/public/x.html",
        "https://example.com:8443/a.jpg",
        "https://example.com:8443/p/q",
        "https://example.com:8444/a.jpg",
        "https://z.a.b.c.d.e.example.io/",
        "https://a.b.c.d.e.example.io/x",
        "https://c.d.e.example.io/",
        "https://x.c.d.e.example.io/",
        "https://genai.example/x",
        "https://later.example/x",
        "https://мысал.қаз/кітап",
        "https://xn--80aalwfd.xn--80ao21a/%D0%BA%D1%96%D1%82%D0%B0%D0%BF",
        "https://sub.пример.рф/",
        null,
        "not a url",
        "ftp://example.kz/books/abai.pdf",
        "https://nothing.example/",
        "https://example.kz/" + new string('a', 3000),
        "https://example.kz/" + string.Concat(Enumerable.Repeat("%E4%B8%AD", 400)),
        "https://1.2.3.4/x",
        "https://[::1]/x",
    ];

    public static TheoryData<UsageCategory> Purposes => [UsageCategory.All, UsageCategory.TrainAi, UsageCategory.TrainGenAi, UsageCategory.Search];

    [Theory]
    [MemberData(nameof(Purposes))]
    public void CheckUrls_AnswersEveryUrlAsTryCheckUrlDoes(UsageCategory purpose)
    {
        var index = Registry();
        // Every batch length around the pipeline depth, and the whole list repeated and shuffled (long batches).
        var random = new Random(3);
        var inputs = new List<string?[]> { Urls, Urls.Concat(Urls).Concat(Urls).ToArray() };
        for (var length = 0; length <= 20; length++)
        {
            inputs.Add(Enumerable.Range(0, length).Select(_ => Urls[random.Next(Urls.Length)]).ToArray());
        }

        var shuffled = Enumerable.Repeat(Urls, 40).SelectMany(u => u).ToArray();
        random.Shuffle(shuffled);
        inputs.Add(shuffled);

        foreach (var batch in inputs)
        {
            var verdicts = new Verdict[batch.Length];
            var errors = new UrlError[batch.Length];
            index.CheckUrls(batch, purpose, Now, verdicts, errors);
            for (var i = 0; i < batch.Length; i++)
            {
                var expected = Verdict.Unknown;
                var expectedError = UrlError.None;
                if (batch[i] is { } url)
                {
                    index.TryCheckUrl(url, purpose, Now, out expected, out expectedError);
                }

                Assert.True(expected == verdicts[i] && expectedError == errors[i],
                    $"{batch[i]} at {i} of {batch.Length}: batch {verdicts[i]}/{errors[i]}, single {expected}/{expectedError}");
            }
        }
    }

    [Fact]
    public void CheckUrls_GivesTheVerdictsARightsHolderExpects()
    {
        var index = Registry();
        string?[] batch = ["https://example.kz/books/abai.pdf", null, "not a url", "https://example.org/press/kit.jpg", "https://genai.example/x", "https://later.example/x"];
        var verdicts = new Verdict[batch.Length];
        var errors = new UrlError[batch.Length];
        index.CheckUrls(batch, UsageCategory.TrainAi, Now, verdicts, errors);
        Assert.Equal([Verdict.Disallowed, Verdict.Unknown, Verdict.Unknown, Verdict.Allowed, Verdict.Disallowed, Verdict.Unknown], verdicts);
        Assert.Equal(UrlError.None, errors[1]);
        Assert.NotEqual(UrlError.None, errors[2]);
    }

    [Fact]
    public void CheckUrls_SeesAWriteMadeBetweenBatches()
    {
        var index = Registry();
        string?[] batch = ["https://new.example/a", "https://example.kz/books/abai.pdf"];
        var verdicts = new Verdict[2];
        var errors = new UrlError[2];
        index.CheckUrls(batch, UsageCategory.TrainAi, Now, verdicts, errors);
        Assert.Equal(Verdict.Unknown, verdicts[0]);
        index.Apply(ReservationChange.Add(Disallow("new", Url("https://new.example/a"))));
        index.CheckUrls(batch, UsageCategory.TrainAi, Now, verdicts, errors);
        Assert.Equal([Verdict.Disallowed, Verdict.Disallowed], verdicts);
    }

    [Fact]
    public void CheckUrls_AllocatesNothing()
    {
        var index = Registry();
        var batch = Enumerable.Repeat(Urls.Where(u => u is null || u.Length < 1000), 30).SelectMany(u => u).ToArray();
        var verdicts = new Verdict[batch.Length];
        var errors = new UrlError[batch.Length];
        index.CheckUrls(batch, UsageCategory.TrainAi, Now, verdicts, errors); // warm up (JIT, tiering, ICU)
        // The least of three rounds: a per-call allocation shows in every round, while the runtime's own one-off work on
        // this thread (tiered compilation starting its background worker, seen once in a clean-clone run) does not repeat.
        var least = long.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 20; i++)
            {
                index.CheckUrls(batch, UsageCategory.TrainAi, Now, verdicts, errors);
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, least);
    }

    [Fact]
    public void CheckUrls_RefusesOutputSpansShorterThanTheInput()
    {
        var index = Registry();
        var e = Assert.Throws<ArgumentException>(() => index.CheckUrls(new string?[3], UsageCategory.TrainAi, Now, new Verdict[2], new UrlError[3]));
        Assert.Contains("3 answers", e.Message);
    }
}
