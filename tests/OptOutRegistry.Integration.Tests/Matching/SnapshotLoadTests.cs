using System.Globalization;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Matching;

/// <summary>
/// A snapshot load (<see cref="RegistryMirror.LoadSnapshot(SnapshotReader)"/>: the bulk path, wire decoding straight into
/// prepared rows) against the path it replaced — every record parsed into a message, converted to Core's model
/// (<see cref="ProtoConvert.ToCore(Pb.Reservation)"/>) and built with <see cref="MatcherIndex.Build"/>: the same verdicts
/// with the same provenance for the same random registries; and a damaged file always fails with
/// <see cref="SnapshotFormatException"/>, never another exception.
/// </summary>
public sealed class SnapshotLoadTests : IDisposable
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] Isccs =
    [
        "ISCC:KACYPXW445FTYNJ3CYSXHAFJMA2HUWULUNRFE3BLHRSCXYH2M5AEGQY",
        "ISCC:EAASKDNZNYGUUF5A",
    ];

    private static readonly string[] Tlds = ["example", "co.uk", "example.org"];
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose() => _key.Dispose();

    // A registry as the store holds it: reservations in creation order, each in its state as of the snapshot — some
    // revoked, some superseded by a later amendment (which names what it supersedes).
    private static List<Pb.Reservation> RandomRegistry(int seed, int count)
    {
        var random = new Random(seed);
        var list = new List<Pb.Reservation>(count);
        for (var i = 0; i < count; i++)
        {
            var registered = Epoch.AddHours(random.Next(0, 24 * 60));
            var r = new Pb.Reservation
            {
                Id = $"rsv_{seed}_{i}",
                HolderId = $"hld_{random.Next(0, 6)}",
                HolderName = random.Next(0, 3) == 0 ? string.Empty : $"Holder {random.Next(0, 4)} «Ω»",
                RegisteredAt = Timestamp.FromDateTimeOffset(registered),
                ValidFrom = random.Next(0, 3) == 0 ? null : Timestamp.FromDateTimeOffset(registered.AddDays(random.Next(0, 30))),
                State = Pb.ReservationState.Active,
                Work = new Pb.WorkMetadata { Title = "Work " + i, Creators = { "Автор " + i }, Identifiers = { $"isbn:97803064{i:D5}" } },
                PolicyUrl = random.Next(0, 4) == 0 ? $"https://policy{random.Next(0, 3)}.example/terms" : string.Empty,
            };
            if (random.Next(0, 4) == 0)
            {
                r.ValidUntil = Timestamp.FromDateTimeOffset((r.ValidFrom?.ToDateTimeOffset() ?? registered).AddDays(random.Next(1, 90)));
            }

            // Statements: distinct categories, each allowed or disallowed.
            var categories = new[] { Pb.UsageCategory.All, Pb.UsageCategory.TrainAi, Pb.UsageCategory.TrainGenai, Pb.UsageCategory.AiUse, Pb.UsageCategory.Search };
            var statements = 1 + random.Next(0, 3);
            foreach (var category in categories.OrderBy(_ => random.Next()).Take(statements))
            {
                r.Statements.Add(new Pb.UsageStatement
                {
                    Category = category,
                    Permission = random.Next(0, 4) == 0 ? Pb.Permission.Allow : Pb.Permission.Disallow,
                });
            }

            var selectors = 1 + (random.Next(0, 5) == 0 ? random.Next(1, 4) : 0);
            for (var s = 0; s < selectors; s++)
            {
                r.Selectors.Add(RandomSelector(random, i, s));
                r.SelectorVerified.Add(random.Next(0, 3) == 0);
            }

            list.Add(r);
        }

        // Revocations and amendments: the ended reservation in its state as of the snapshot; an amendment is a later
        // reservation of the same holder that supersedes it.
        for (var i = 0; i < count; i++)
        {
            var roll = random.Next(0, 6);
            var r = list[i];
            var changed = r.RegisteredAt.ToDateTimeOffset().AddDays(random.Next(0, 40));
            if (roll == 0)
            {
                r.State = Pb.ReservationState.Revoked;
                r.StateChangedAt = Timestamp.FromDateTimeOffset(changed);
            }
            else if (roll == 1)
            {
                var amendment = r.Clone();
                amendment.Id = r.Id + "_v2";
                amendment.Supersedes = r.Id;
                amendment.RegisteredAt = Timestamp.FromDateTimeOffset(changed);
                amendment.ValidFrom = Timestamp.FromDateTimeOffset(changed);
                amendment.ValidUntil = null;
                amendment.Statements.Clear();
                amendment.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainGenai, Permission = Pb.Permission.Disallow });
                r.State = Pb.ReservationState.Superseded;
                r.StateChangedAt = Timestamp.FromDateTimeOffset(changed);
                r.SupersededBy = amendment.Id;
                list.Add(amendment);
            }
        }

        return list;
    }

    private static Pb.Selector RandomSelector(Random random, int i, int s)
    {
        var host = $"site{random.Next(0, 12)}.{Tlds[random.Next(0, Tlds.Length)]}";
        return random.Next(0, 10) switch
        {
            0 or 1 or 2 => new Pb.Selector { Url = $"https://{host}/works/{i}/{s}?v={random.Next(0, 3)}" },
            3 => new Pb.Selector { Url = $"http://{host.ToUpperInvariant()}/a/./b/../works/{i}", AnyQuery = random.Next(0, 2) == 0 },
            4 => new Pb.Selector { Prefix = $"https://{host}/series/{i % 7}/" },
            5 => new Pb.Selector { Pattern = new Pb.PathPattern { Host = host, Path = random.Next(0, 2) == 0 ? "/img/*.jpg$" : $"/*/p{i % 5}/" } },
            6 => new Pb.Selector { Host = host, IncludeSubdomains = random.Next(0, 2) == 0 },
            7 => new Pb.Selector { Domain = host.EndsWith(".example.org", StringComparison.Ordinal) ? "example.org" : host }, // registrable
            8 => random.Next(0, 2) == 0
                ? new Pb.Selector { Sha256 = Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(i % 50))) }
                : new Pb.Selector { Iscc = Isccs[random.Next(0, Isccs.Length)] },
            _ => new Pb.Selector { Identifier = random.Next(0, 2) == 0 ? "isbn:978-0-306-40615-7" : $"doi:10.1000/Work{i % 13}" },
        };
    }

    private byte[] Write(IEnumerable<Pb.Reservation> reservations, long asOf = 1000)
    {
        using var memory = new MemoryStream();
        using (var writer = new SnapshotWriter(memory, new SnapshotHeader(SnapshotKind.Full, asOf, -1, Epoch)))
        {
            foreach (var r in reservations)
            {
                writer.WriteReservation(r);
            }

            writer.Finish(_key);
        }

        return memory.ToArray();
    }

    private static RegistryMirror Load(byte[] file)
    {
        using var reader = SnapshotReader.Open(new MemoryStream(file, writable: false));
        var mirror = new RegistryMirror();
        mirror.LoadSnapshot(reader);
        return mirror;
    }

    // The replaced path, as it was: parse, convert to the model, build from the objects; holder names in file order.
    private static (MatcherIndex Matcher, Dictionary<string, string> Names) LoadThroughTheModel(byte[] file)
    {
        using var reader = SnapshotReader.Open(new MemoryStream(file, writable: false));
        var reservations = new List<Reservation>();
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.TryReadRecord(out _, out var payload))
        {
            var message = Pb.Reservation.Parser.ParseFrom(payload.Span);
            reservations.Add(ProtoConvert.ToCore(message));
            if (message.HolderName.Length > 0)
            {
                names[message.HolderId] = message.HolderName;
            }
        }

        Assert.True(reader.DigestMatches);
        return (MatcherIndex.Build(reservations), names);
    }

    private static IEnumerable<CheckQuery> Probes(List<Pb.Reservation> registry, int seed)
    {
        var random = new Random(seed);
        var subjects = new List<(SubjectKind Kind, string Subject)>();
        foreach (var r in registry)
        {
            foreach (var s in r.Selectors)
            {
                switch (s.ValueCase)
                {
                    case Pb.Selector.ValueOneofCase.Url:
                        subjects.Add((SubjectKind.Url, s.Url));
                        subjects.Add((SubjectKind.Url, s.Url + "&extra=1"));
                        break;
                    case Pb.Selector.ValueOneofCase.Prefix:
                        subjects.Add((SubjectKind.Url, s.Prefix + "part-" + random.Next(0, 9)));
                        break;
                    case Pb.Selector.ValueOneofCase.Pattern:
                        subjects.Add((SubjectKind.Url, $"https://{s.Pattern.Host}/img/x/{random.Next(0, 9)}.jpg"));
                        subjects.Add((SubjectKind.Url, $"https://{s.Pattern.Host}/a/p{random.Next(0, 5)}/b"));
                        break;
                    case Pb.Selector.ValueOneofCase.Host:
                        subjects.Add((SubjectKind.Url, $"https://{s.Host}/any/{random.Next(0, 99)}"));
                        subjects.Add((SubjectKind.Url, $"https://sub.{s.Host}/x"));
                        subjects.Add((SubjectKind.Host, s.Host));
                        break;
                    case Pb.Selector.ValueOneofCase.Domain:
                        subjects.Add((SubjectKind.Url, $"https://www.{s.Domain}/page"));
                        break;
                    case Pb.Selector.ValueOneofCase.Sha256:
                        subjects.Add((SubjectKind.Sha256, s.Sha256));
                        break;
                    case Pb.Selector.ValueOneofCase.Iscc:
                        subjects.Add((SubjectKind.Iscc, s.Iscc));
                        break;
                    case Pb.Selector.ValueOneofCase.Identifier:
                        subjects.Add((SubjectKind.Identifier, s.Identifier));
                        break;
                }
            }
        }

        subjects.Add((SubjectKind.Url, "https://nowhere.example/"));
        subjects.Add((SubjectKind.Sha256, new string('0', 64)));
        DateTimeOffset?[] times = [null, Epoch, Epoch.AddDays(20), Epoch.AddDays(45), Epoch.AddDays(80), Epoch.AddDays(200)];
        foreach (var (kind, subject) in subjects.Distinct())
        {
            foreach (var purpose in System.Enum.GetValues<UsageCategory>())
            {
                yield return new CheckQuery(kind, subject, purpose, times[random.Next(0, times.Length)]);
            }
        }
    }

    private static string Describe(CheckResult result) =>
        result.Verdict + " [" + string.Join("; ", result.Matches.Select(m => m.ToString())) + "]";

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(3, 40)]
    [InlineData(4, 300)]
    [InlineData(5, 1200)]
    public void Load_GivesTheVerdictsAndProvenanceOfTheModelPath(int seed, int count)
    {
        var registry = RandomRegistry(seed, count);
        var file = Write(registry);

        var (expected, names) = LoadThroughTheModel(file);
        var mirror = Load(file);

        Assert.Equal(1000, mirror.AppliedSequence);
        Assert.Equal(expected.ReservationCount, mirror.Matcher.ReservationCount);
        Assert.Equal(expected.SelectorCount, mirror.Matcher.SelectorCount);
        var checks = 0;
        var disallowed = 0;
        foreach (var query in Probes(registry, seed))
        {
            var want = Describe(expected.Check(query));
            var got = Describe(mirror.Matcher.Check(query));
            Assert.True(want == got, $"{query}: the model path says {want}, the load says {got}");
            checks++;
            disallowed += want.StartsWith(nameof(Verdict.Disallowed), StringComparison.Ordinal) ? 1 : 0;
        }

        // The probes hit the registry: some verdicts are DISALLOWED.
        Assert.True(count < 40 || disallowed > 0);
        Assert.True(checks > count);
        foreach (var (holder, name) in names)
        {
            Assert.Equal(name, mirror.GetHolderName(holder));
        }
    }

    [Fact]
    public void Load_OfARecordCoreRefuses_NamesTheRecordItsIdAndTheField()
    {
        var registry = RandomRegistry(7, 20);
        registry[13].Selectors[0] = new Pb.Selector { Url = "not a url" };
        var ex = Assert.Throws<SnapshotFormatException>(() => Load(Write(registry)));
        Assert.StartsWith($"snapshot: record 13 ({registry[13].Id}): selectors[0]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfTwoRecordsWithOneId_IsRefusedNamingTheSecond()
    {
        var registry = RandomRegistry(8, 10);
        registry[6].Id = registry[2].Id;
        var ex = Assert.Throws<SnapshotFormatException>(() => Load(Write(registry)));
        Assert.StartsWith($"snapshot: record 6 ({registry[2].Id}): id:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfABadPolicyUrl_IsRefusedNamingTheField()
    {
        var registry = RandomRegistry(9, 10);
        registry[4].PolicyUrl = "ftp://policy.example/terms";
        var ex = Assert.Throws<SnapshotFormatException>(() => Load(Write(registry)));
        Assert.Contains("record 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("policy_url", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ManyChunks_InFileOrder_WithTheLastHolderNameWinning()
    {
        // More records than one chunk of the pipeline holds (8,192), so order across chunks matters.
        var registry = new List<Pb.Reservation>();
        for (var i = 0; i < 20_000; i++)
        {
            var r = new Pb.Reservation
            {
                Id = "rsv_" + i.ToString(CultureInfo.InvariantCulture),
                HolderId = "hld_" + (i % 3).ToString(CultureInfo.InvariantCulture),
                HolderName = "Name " + i.ToString(CultureInfo.InvariantCulture),
                RegisteredAt = Timestamp.FromDateTimeOffset(Epoch),
                Statements = { new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
                Selectors = { new Pb.Selector { Url = $"https://bulk.example/{i}" } },
            };
            registry.Add(r);
        }

        registry[19_000].Selectors[0] = new Pb.Selector { Sha256 = "zz" };
        var ex = Assert.Throws<SnapshotFormatException>(() => Load(Write(registry)));
        Assert.StartsWith("snapshot: record 19000 (rsv_19000): selectors[0]", ex.Message, StringComparison.Ordinal);

        registry[19_000].Selectors[0] = new Pb.Selector { Url = "https://bulk.example/19000" };
        var mirror = Load(Write(registry, asOf: 20_000));
        Assert.Equal(20_000, mirror.Matcher.ReservationCount);
        Assert.Equal(Verdict.Disallowed, mirror.Matcher.CheckUrl("https://bulk.example/19999", UsageCategory.TrainAi));
        Assert.Equal("Name 19998", mirror.GetHolderName("hld_0"));
        Assert.Equal("Name 19999", mirror.GetHolderName("hld_1"));
    }

    [Fact]
    public void LoadWithKey_ReplacesTheStateOnlyWhenTheSignatureVerifies()
    {
        var first = Write(RandomRegistry(10, 30), asOf: 50);
        var mirror = Load(first);
        var before = mirror.Matcher;

        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var second = Write(RandomRegistry(11, 30), asOf: 60);
        using (var reader = SnapshotReader.Open(new MemoryStream(second, writable: false)))
        {
            var ex = Assert.Throws<SnapshotFormatException>(() => mirror.LoadSnapshot(reader, other.ExportSubjectPublicKeyInfo()));
            Assert.Contains("signature does not verify", ex.Message, StringComparison.Ordinal);
        }

        Assert.Same(before, mirror.Matcher);
        Assert.Equal(50, mirror.AppliedSequence);

        using (var reader = SnapshotReader.Open(new MemoryStream(second, writable: false)))
        {
            mirror.LoadSnapshot(reader, _key.ExportSubjectPublicKeyInfo());
        }

        Assert.NotSame(before, mirror.Matcher);
        Assert.Equal(60, mirror.AppliedSequence);
    }

    // Every truncation of a small file: the load fails with SnapshotFormatException and nothing else.
    [Fact]
    public void Load_OfEveryTruncation_ThrowsSnapshotFormatException()
    {
        var file = Write(RandomRegistry(12, 6));
        for (var length = 0; length < file.Length; length++)
        {
            var damaged = file[..length];
            var ex = Record.Exception(() =>
            {
                using var reader = SnapshotReader.Open(new MemoryStream(damaged, writable: false));
                new RegistryMirror().LoadSnapshot(reader);
            });
            Assert.True(ex is SnapshotFormatException, $"truncated to {length} of {file.Length} bytes: {ex?.GetType().Name ?? "no exception"}: {ex?.Message}");
        }
    }

    // Random byte changes anywhere: a load either fails with SnapshotFormatException or (a change in the footer's
    // signature or key, which the load does not check) succeeds; a load that also verifies the signature with the pinned
    // key fails unless only the footer's copy of the key was changed (informative only: docs/snapshot-format.md).
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Load_OfRandomMutations_ThrowsOnlySnapshotFormatException_AndNeverVerifies(int seed)
    {
        var file = Write(RandomRegistry(20 + seed, 8));
        var spki = _key.ExportSubjectPublicKeyInfo();
        SnapshotFooter footer;
        using (var reader = SnapshotReader.Open(new MemoryStream(file, writable: false)))
        {
            while (reader.TryReadRecord(out _, out _))
            {
            }

            footer = reader.Footer!;
        }

        // Footer: ... key length (2) | key | sig length (2) | sig | end magic (8).
        var keyEnd = file.Length - 8 - footer.Signature.Length - 2;
        var keyStart = keyEnd - footer.PublicKeySpki.Length;
        var random = new Random(seed);
        for (var n = 0; n < 400; n++)
        {
            var damaged = (byte[])file.Clone();
            var changes = 1 + random.Next(0, 3);
            var onlyTheFootersKey = true;
            for (var c = 0; c < changes; c++)
            {
                var at = random.Next(0, damaged.Length);
                onlyTheFootersKey &= at >= keyStart && at < keyEnd;
                var was = damaged[at];
                damaged[at] = random.Next(0, 2) == 0 ? (byte)(was ^ (1 << random.Next(0, 8))) : (byte)random.Next(0, 256);
            }

            if (damaged.AsSpan().SequenceEqual(file))
            {
                continue;
            }

            var plain = Record.Exception(() =>
            {
                using var reader = SnapshotReader.Open(new MemoryStream(damaged, writable: false));
                new RegistryMirror().LoadSnapshot(reader);
            });
            Assert.True(plain is null or SnapshotFormatException, $"mutation {n}: {plain?.GetType().Name}: {plain?.Message}");

            var verified = Record.Exception(() =>
            {
                using var reader = SnapshotReader.Open(new MemoryStream(damaged, writable: false));
                new RegistryMirror().LoadSnapshot(reader, spki);
            });
            Assert.True(verified is SnapshotFormatException || (verified is null && onlyTheFootersKey),
                $"mutation {n}: {verified?.GetType().Name ?? "loaded and verified"}: {verified?.Message}");
        }
    }

    [Fact]
    public void OfflineChecker_LoadsWhatTheMirrorLoads_AndRefusesADamagedFile()
    {
        var registry = RandomRegistry(30, 200);
        var file = Write(registry);
        var path = Path.Combine(Path.GetTempPath(), $"optout-snapshot-load-{Environment.ProcessId}-{Guid.NewGuid():N}.snap");
        try
        {
            File.WriteAllBytes(path, file);
            var offline = OfflineChecker.Load(path, _key.ExportSubjectPublicKeyInfoPem());
            var (expected, _) = LoadThroughTheModel(file);
            foreach (var query in Probes(registry, 30))
            {
                Assert.Equal(Describe(expected.Check(query)), Describe(offline.Check(query)));
            }

            file[file.Length / 2] ^= 0x10;
            File.WriteAllBytes(path, file);
            Assert.Throws<SnapshotFormatException>(() => OfflineChecker.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
