using System.Runtime.InteropServices;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Matching;

/// <summary>
/// The rebuild's decoder (<see cref="ReservationWireDecoder"/> → <see cref="MatcherBuilder"/>) against the generated parser
/// followed by <see cref="ProtoConvert.ToCore(Pb.Reservation)"/> → <see cref="MatcherIndex.Build"/>: the same matcher from
/// the same payloads, the same refusals (with the field named), and damaged bytes refused, never an exception.
/// </summary>
public sealed class ReservationWireDecoderTests
{
    private static readonly DateTimeOffset Registered = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Changed = new(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Iscc = "ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY";
    private const string Sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    private static Pb.Reservation Base(string id, params Pb.Selector[] selectors)
    {
        var r = new Pb.Reservation
        {
            Id = id,
            HolderId = "holder-1",
            HolderName = "Издательство «Пример»",
            RegisteredAt = Timestamp.FromDateTimeOffset(Registered),
            ValidFrom = Timestamp.FromDateTimeOffset(Registered.AddDays(1)),
            State = Pb.ReservationState.Active,
            Work = new Pb.WorkMetadata { Title = "Қазақ тілі", Creators = { "Автор" }, Identifiers = { "isbn:9780306406157" } },
            Statements = { new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
        };
        r.Selectors.AddRange(selectors);
        return r;
    }

    // Every selector kind and option, verified flags, validity, states, statements with sources, policies.
    private static List<Pb.Reservation> Variety()
    {
        var list = new List<Pb.Reservation>
        {
            Base("r-url", new Pb.Selector { Url = "HTTPS://Example.COM:443/a/./b/../c?q=1#frag" }),
            Base("r-url-any-query", new Pb.Selector { Url = "http://example.com/search?x=1", AnyQuery = true }),
            Base("r-url-schemeless", new Pb.Selector { Url = "example.org/no-scheme%7e" }),
            Base("r-url-idn", new Pb.Selector { Url = "https://Bücher.example/страница" }),
            Base("r-url-port", new Pb.Selector { Url = "http://example.net:8080/x" }),
            Base("r-prefix", new Pb.Selector { Prefix = "example.com/photos/" }),
            Base("r-pattern", new Pb.Selector { Pattern = new Pb.PathPattern { Host = "example.com", Path = "/img/*.jpg$" } }),
            Base("r-host", new Pb.Selector { Host = "blog.example.com", IncludeSubdomains = true }),
            Base("r-domain", new Pb.Selector { Domain = "example.co.uk" }),
            Base("r-sha", new Pb.Selector { Sha256 = Sha }),
            Base("r-iscc", new Pb.Selector { Iscc = Iscc }),
            Base("r-identifier", new Pb.Selector { Identifier = "isbn:978-0-306-40615-7" }),
            Base("r-many", new Pb.Selector { Url = "https://many.example/1" }, new Pb.Selector { Url = "https://many.example/2" },
                new Pb.Selector { Host = "many.example" }, new Pb.Selector { Sha256 = Sha.Replace('9', 'a') }),
        };
        list[^1].SelectorVerified.Add([true, false, true, true]); // the content selector's flag is ignored
        list[0].SelectorVerified.Add(true);

        var statements = Base("r-statements", new Pb.Selector { Url = "https://statements.example/x" });
        statements.Statements.Clear();
        statements.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.All, Permission = Pb.Permission.Allow });
        statements.Statements.Add(new Pb.UsageStatement
        {
            Category = Pb.UsageCategory.TrainGenai, Permission = Pb.Permission.Disallow, SourceVocabulary = "tdmrep", SourceVersion = "1", SourceTerm = "tdm-reservation=1",
        });
        statements.PolicyUrl = "https://statements.example/policy";
        list.Add(statements);

        var until = Base("r-until", new Pb.Selector { Url = "https://until.example/x" });
        until.ValidUntil = Timestamp.FromDateTimeOffset(Changed.AddDays(10));
        list.Add(until);

        var revoked = Base("r-revoked", new Pb.Selector { Url = "https://revoked.example/x" });
        revoked.State = Pb.ReservationState.Revoked;
        revoked.StateChangedAt = Timestamp.FromDateTimeOffset(Changed);
        revoked.SupersededBy = "ignored-when-revoked";
        list.Add(revoked);

        var superseded = Base("r-superseded", new Pb.Selector { Url = "https://superseded.example/x" });
        superseded.State = Pb.ReservationState.Superseded;
        superseded.StateChangedAt = Timestamp.FromDateTimeOffset(Changed);
        superseded.SupersededBy = "r-replacement";
        list.Add(superseded);

        var noValidFrom = Base("r-no-valid-from", new Pb.Selector { Url = "https://nvf.example/x" });
        noValidFrom.ValidFrom = null;
        noValidFrom.HolderName = string.Empty;
        noValidFrom.HolderId = "holder-2";
        list.Add(noValidFrom);
        return list;
    }

    private static (MatcherIndex Matcher, Dictionary<string, string> Names) ViaWire(IEnumerable<byte[]> payloads)
    {
        var decoder = new ReservationWireDecoder();
        var builder = new MatcherBuilder();
        var names = new Dictionary<string, string>();
        var selectors = new List<PreparedSelector>();
        foreach (var payload in payloads)
        {
            selectors.Clear();
            Assert.True(decoder.TryDecode(payload, selectors, out var reservation, out var name, out var id, out var error), $"{id}: {error}");
            Assert.True(builder.TryAdd(reservation, CollectionsMarshal.AsSpan(selectors), out var field, out var reason), $"{id}: {field}: {reason}");
            if (name is not null)
            {
                names[reservation.HolderId] = name;
            }
        }

        return (builder.Complete(), names);
    }

    private static MatcherIndex ViaMessages(IEnumerable<byte[]> payloads) =>
        MatcherIndex.Build(payloads.Select(p => ProtoConvert.ToCore(Pb.Reservation.Parser.ParseFrom(p))).ToList());

    private static readonly string[] ProbeUrls =
    [
        "https://example.com/a/c?q=1", "http://EXAMPLE.com/a/c?q=2", "https://example.com/search?x=9", "http://example.org/no-scheme~",
        "https://xn--bcher-kva.example/%D1%81%D1%82%D1%80%D0%B0%D0%BD%D0%B8%D1%86%D0%B0", "http://example.net:8080/x", "http://example.net/x",
        "https://example.com/photos/cat.png", "https://example.com/img/a/b.jpg", "https://example.com/img/a.jpg?x", "https://a.blog.example.com/p",
        "https://www.example.co.uk/", "https://many.example/1", "https://many.example/3", "https://statements.example/x",
        "https://until.example/x", "https://revoked.example/x", "https://superseded.example/x", "https://nvf.example/x", "https://nowhere.example/",
    ];

    private static void AssertSameVerdicts(MatcherIndex expected, MatcherIndex actual)
    {
        Assert.Equal(expected.ReservationCount, actual.ReservationCount);
        Assert.Equal(expected.SelectorCount, actual.SelectorCount);
        Assert.Equal(expected.GetStatistics().SelectorsByKind, actual.GetStatistics().SelectorsByKind);
        foreach (var at in new[] { Registered.AddDays(2), Changed.AddDays(-1), Changed.AddDays(1), Changed.AddDays(20) })
        {
            foreach (var purpose in UsageCategories.TopologicalOrder)
            {
                foreach (var url in ProbeUrls)
                {
                    Assert.True(expected.CheckUrl(url, purpose, at) == actual.CheckUrl(url, purpose, at), $"{url} {purpose} {at:O}");
                    var a = expected.Check(CheckQuery.Url(url, purpose, at));
                    var b = actual.Check(CheckQuery.Url(url, purpose, at));
                    Assert.Equal(a.Matches.Select(m => (m.ReservationId, m.HolderId, m.SelectorKind, m.SelectorText, m.HostVerified, m.PolicyUrl, m.DecidingCategory, m.Permission)),
                        b.Matches.Select(m => (m.ReservationId, m.HolderId, m.SelectorKind, m.SelectorText, m.HostVerified, m.PolicyUrl, m.DecidingCategory, m.Permission)));
                }

                Assert.Equal(expected.CheckSha256(Convert.FromHexString(Sha), purpose, at), actual.CheckSha256(Convert.FromHexString(Sha), purpose, at));
                Assert.Equal(expected.CheckIscc(IsccCode.Parse(Iscc), purpose, at), actual.CheckIscc(IsccCode.Parse(Iscc), purpose, at));
            }
        }
    }

    [Fact]
    public void Decode_EveryKindAndState_SameMatcherAsTheMessageParse()
    {
        var payloads = Variety().Select(r => r.ToByteArray()).ToList();

        var (wire, names) = ViaWire(payloads);
        var messages = ViaMessages(payloads);

        AssertSameVerdicts(messages, wire);
        Assert.Equal(Verdict.Disallowed, wire.CheckUrl("https://example.com/a/c?q=1", UsageCategory.TrainAi, Registered.AddDays(2)));
        Assert.Equal(Verdict.Disallowed, wire.CheckUrl("https://revoked.example/x", UsageCategory.TrainAi, Changed.AddDays(-1)));
        Assert.Equal(Verdict.Unknown, wire.CheckUrl("https://revoked.example/x", UsageCategory.TrainAi, Changed.AddDays(1)));
        Assert.Equal("Издательство «Пример»", names["holder-1"]);
        Assert.False(names.ContainsKey("holder-2")); // an empty holder name is no name
    }

    [Fact]
    public void Decode_OtherFieldOrderUnpackedFlagsAndRepeatedFields_SameAsTheMessageParse()
    {
        // Another writer's encoding: work first, selector_verified unpacked, a timestamp split over two occurrences
        // (protobuf merges them), an unknown field of each wire type.
        var full = Variety()[^6]; // r-many, with flags
        var work = new Pb.Reservation { Work = full.Work }.ToByteArray();
        var rest = full.Clone();
        rest.Work = null;
        rest.SelectorVerified.Clear();
        var bytes = new List<byte>(work);
        bytes.AddRange(rest.ToByteArray());
        foreach (var flag in full.SelectorVerified)
        {
            bytes.AddRange(new byte[] { (16 << 3) | 0, flag ? (byte)1 : (byte)0 });
        }

        bytes.AddRange(new byte[] { (5 << 3) | 2, 2, (2 << 3) | 0, 7 }); // valid_from again: nanos only, seconds kept
        // Fields 99 (varint), 98 (fixed64), 97 (fixed32), 96 (length-delimited); their tags are two-byte varints.
        bytes.AddRange(new byte[] { 0x98, 0x06, 0x96, 0x01, 0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x8D, 0x06, 1, 2, 3, 4, 0x82, 0x06, 1, 0xFF });
        var payload = bytes.ToArray();
        var parsed = Pb.Reservation.Parser.ParseFrom(payload);
        Assert.Equal(7, parsed.ValidFrom.Nanos);
        Assert.Equal(full.ValidFrom.Seconds, parsed.ValidFrom.Seconds);

        AssertSameVerdicts(ViaMessages([payload]), ViaWire([payload]).Matcher);
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "url-invalid", "selectors[0].value" },
        { "url-empty", "selectors[0].value" },
        { "no-value", "selectors[0].value" },
        { "option-wrong-kind", "selectors[0].options" },
        { "pattern-path", "selectors[0].value" },
        { "domain-subdomain", "selectors[0].value" },
        { "no-statements", "statements" },
        { "statement-unspecified", "statements[0].category" },
        { "statement-twice", "statements[1].category" },
        { "permission-unknown", "statements[0].permission" },
        { "state-unknown", "state" },
        { "revoked-no-time", "state_changed_at" },
        { "superseded-no-replacement", "superseded_by" },
        { "changed-before-registered", "state_changed_at" },
        { "active-with-change", "state_changed_at" },
        { "no-registered-at", "registered_at" },
        { "valid-from-early", "valid_from" },
        { "valid-until-early", "valid_until" },
        { "timestamp-range", "valid_until" },
        { "nanos-range", "valid_from" },
        { "id-space", "id" },
        { "id-empty", "id" },
        { "holder-empty", "holder_id" },
    };

    private static Pb.Reservation Refused(string variant)
    {
        var r = Base("r-bad", new Pb.Selector { Url = "https://bad.example/x" });
        switch (variant)
        {
            case "url-invalid": r.Selectors[0].Url = "http://exa mple.com/x"; break;
            case "url-empty": r.Selectors[0].Url = "   "; break;
            case "no-value": r.Selectors[0] = new Pb.Selector { AnyQuery = true }; break;
            case "option-wrong-kind": r.Selectors[0] = new Pb.Selector { Prefix = "example.com/x", AnyQuery = true }; break;
            case "pattern-path": r.Selectors[0] = new Pb.Selector { Pattern = new Pb.PathPattern { Host = "example.com", Path = "img" } }; break;
            case "domain-subdomain": r.Selectors[0] = new Pb.Selector { Domain = "www.example.com" }; break;
            case "no-statements": r.Statements.Clear(); break;
            case "statement-unspecified": r.Statements[0].Category = Pb.UsageCategory.Unspecified; break;
            case "statement-twice": r.Statements.Add(r.Statements[0].Clone()); break;
            case "permission-unknown": r.Statements[0].Permission = (Pb.Permission)7; break;
            case "state-unknown": r.State = (Pb.ReservationState)9; break;
            case "revoked-no-time": r.State = Pb.ReservationState.Revoked; break;
            case "superseded-no-replacement":
                r.State = Pb.ReservationState.Superseded;
                r.StateChangedAt = Timestamp.FromDateTimeOffset(Changed);
                break;
            case "changed-before-registered":
                r.State = Pb.ReservationState.Revoked;
                r.StateChangedAt = Timestamp.FromDateTimeOffset(Registered.AddDays(-1));
                break;
            case "active-with-change":
                // ToCore drops state_changed_at of an active reservation, so this one is accepted by both: see the assertion.
                r.StateChangedAt = Timestamp.FromDateTimeOffset(Changed);
                break;
            case "no-registered-at": r.RegisteredAt = null; break;
            case "valid-from-early": r.ValidFrom = Timestamp.FromDateTimeOffset(Registered.AddDays(-1)); break;
            case "valid-until-early": r.ValidUntil = Timestamp.FromDateTimeOffset(Registered); break;
            case "timestamp-range": r.ValidUntil = new Timestamp { Seconds = 253_402_300_800L }; break;
            case "nanos-range": r.ValidFrom = new Timestamp { Seconds = r.ValidFrom.Seconds, Nanos = 1_000_000_000 }; break;
            case "id-space": r.Id = "r bad"; break;
            case "id-empty": r.Id = string.Empty; break;
            case "holder-empty": r.HolderId = string.Empty; break;
            default: throw new ArgumentOutOfRangeException(nameof(variant));
        }

        return r;
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Decode_InvalidReservation_RefusedAsTheMessageParseRefusesIt(string variant, string field)
    {
        var reservation = Refused(variant);
        var payload = reservation.ToByteArray();
        var expected = Outcome(payload);
        var actual = WireOutcome(payload);

        Assert.Equal(expected.Accepted, actual.Accepted);
        if (variant == "active-with-change")
        {
            Assert.True(actual.Accepted);
            return;
        }

        Assert.False(actual.Accepted);
        Assert.StartsWith(field + ":", actual.Error, StringComparison.Ordinal);
        Assert.Equal(reservation.Id, actual.Id); // for the report of the skipped row
    }

    [Theory]
    [InlineData("policy", "ftp://files.example/policy", "policy_url")]
    [InlineData("selectors", null, "selectors")]
    public void Build_RowTheBuilderRefuses_NothingAddedAndTheFieldNamed(string variant, string? policy, string field)
    {
        var r = Base("r-bad", new Pb.Selector { Url = "https://bad.example/x" });
        if (policy is not null)
        {
            r.PolicyUrl = policy;
        }
        else
        {
            r.Selectors.Clear();
        }

        var decoder = new ReservationWireDecoder();
        var selectors = new List<PreparedSelector>();
        Assert.True(decoder.TryDecode(r.ToByteArray(), selectors, out var prepared, out _, out _, out var error), error);
        var builder = new MatcherBuilder();

        Assert.False(builder.TryAdd(prepared, CollectionsMarshal.AsSpan(selectors), out var f, out _), variant);
        Assert.Equal(field, f);
        Assert.Equal(0, builder.Complete().ReservationCount);
        Assert.ThrowsAny<ModelValidationException>(() => ProtoConvert.ToCore(r));
    }

    [Fact]
    public void Build_DuplicateId_ThrowsAsBuildDoes()
    {
        var payload = Base("r-dup", new Pb.Selector { Url = "https://dup.example/x" }).ToByteArray();
        Assert.Throws<ModelValidationException>(() => ViaWire([payload, payload]));
        Assert.Throws<ModelValidationException>(() => ViaMessages([payload, payload]));
    }

    public static TheoryData<string, byte[]> Damaged() => new()
    {
        { "length past the end", [0x0A, 0x05, (byte)'a'] },
        { "length that never ends", [0x0A, 0x80] },
        { "huge length", [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00] },
        { "ten-byte varint overflow", [0x38, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
        { "group", [0x0B, 0x0C] },
        { "wire type 7", [0x0F] },
        { "field number 0", [0x02, 0x00] },
        { "truncated fixed64", [0x91, 0x06, 1, 2, 3] }, // field 98
        { "truncated fixed32", [0x8D, 0x06, 1] }, // field 97
        { "truncated selector", [0x5A, 0x03, 0x0A, 0x05, (byte)'h'] },
        { "truncated timestamp", [0x22, 0x02, 0x08, 0x80] },
        { "truncated statement", [0x62, 0x02, 0x08, 0x80] },
        { "truncated verified", [0x82, 0x01, 0x01, 0x80] },
        { "id as varint (wrong wire type), so no id", [0x08, 0x05] },
        { "empty payload", [] },
    };

    [Theory]
    [MemberData(nameof(Damaged))]
    public void Decode_DamagedBytes_RefusedWithAReason(string name, byte[] payload)
    {
        var actual = WireOutcome(payload);

        Assert.False(actual.Accepted, name);
        Assert.False(string.IsNullOrEmpty(actual.Error), name);
    }

    [Fact]
    public void Decode_InvalidUtf8_Refused()
    {
        var good = Base("r-utf8", new Pb.Selector { Url = "https://utf8.example/x" }).ToByteArray();
        foreach (var needle in new[] { "r-utf8"u8.ToArray(), "https://utf8.example/x"u8.ToArray(), "holder-1"u8.ToArray() })
        {
            var payload = (byte[])good.Clone();
            var at = payload.AsSpan().IndexOf(needle);
            payload[at + 1] = 0xC3; // a lead byte followed by ASCII: not UTF-8
            var actual = WireOutcome(payload);
            Assert.False(actual.Accepted);
            Assert.Contains("UTF-8", actual.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Decode_EveryTruncation_RefusedOrTheSameAsTheMessageParse()
    {
        foreach (var reservation in Variety())
        {
            var payload = reservation.ToByteArray();
            for (var length = 0; length < payload.Length; length++)
            {
                AssertConsistent(payload.AsSpan(0, length).ToArray(), $"{reservation.Id} cut at {length}");
            }
        }
    }

    [Fact]
    public void Decode_RandomMutations_NeverThrow_AndAgreeWhenBothAccept()
    {
        var random = new Random(20261122);
        var seeds = Variety().Select(r => r.ToByteArray()).ToArray();
        var accepted = 0;
        for (var n = 0; n < 20_000; n++)
        {
            var payload = seeds[n % seeds.Length].ToList();
            for (var edits = 1 + random.Next(3); edits > 0 && payload.Count > 0; edits--)
            {
                var at = random.Next(payload.Count);
                switch (random.Next(4))
                {
                    case 0: payload[at] = (byte)random.Next(256); break;
                    case 1: payload.RemoveAt(at); break;
                    case 2: payload.Insert(at, (byte)random.Next(256)); break;
                    default: payload[at] ^= (byte)(1 << random.Next(8)); break;
                }
            }

            accepted += AssertConsistent([.. payload], $"mutation {n}") ? 1 : 0;
        }

        // The mutations must exercise both outcomes, or the test proves little.
        Assert.InRange(accepted, 500, 19_500);
    }

    // The decoder never throws; when it and the message parse both accept, they give the same reservation.
    private static bool AssertConsistent(byte[] payload, string what)
    {
        var actual = WireOutcome(payload);
        var expected = Outcome(payload);
        if (actual.Accepted && expected.Accepted)
        {
            var wire = ViaWire([payload]).Matcher;
            var messages = MatcherIndex.Build([expected.Reservation!]);
            Assert.Equal(messages.ReservationCount, wire.ReservationCount);
            Assert.Equal(messages.GetStatistics().SelectorsByKind, wire.GetStatistics().SelectorsByKind);
            foreach (var s in expected.Reservation!.Selectors)
            {
                if (s.Selector.Kind.IsLocationKind())
                {
                    var url = "http://" + s.Selector.Text.Replace("*", "x", StringComparison.Ordinal).TrimEnd('$');
                    foreach (var at in new[] { expected.Reservation.ValidFrom, expected.Reservation.ValidFrom.AddTicks(-1) })
                    {
                        Assert.True(messages.CheckUrl(url, UsageCategory.All, at) == wire.CheckUrl(url, UsageCategory.All, at), $"{what}: {url}");
                    }
                }
            }
        }

        return actual.Accepted;
    }

    private static (bool Accepted, Reservation? Reservation) Outcome(byte[] payload)
    {
        try
        {
            var reservation = ProtoConvert.ToCore(Pb.Reservation.Parser.ParseFrom(payload));
            return (true, reservation);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ModelValidationException or System.Text.DecoderFallbackException)
        {
            return (false, null);
        }
    }

    private static (bool Accepted, string Id, string? Error) WireOutcome(byte[] payload)
    {
        var decoder = new ReservationWireDecoder();
        var selectors = new List<PreparedSelector>();
        if (!decoder.TryDecode(payload, selectors, out var prepared, out _, out var id, out var error))
        {
            Assert.Empty(selectors);
            return (false, id, error);
        }

        var builder = new MatcherBuilder();
        if (!builder.TryAdd(prepared, CollectionsMarshal.AsSpan(selectors), out var field, out var reason))
        {
            return (false, id, $"{field}: {reason}");
        }

        return (true, id, null);
    }
}
