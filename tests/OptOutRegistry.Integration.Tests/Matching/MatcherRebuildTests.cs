using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Server.Feed;
using OptOutRegistry.Server.Hosting;
using OptOutRegistry.Server.Matching;
using OptOutRegistry.Snapshots;
using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Sqlite;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Matching;

/// <summary>
/// The matcher rebuild at start from the store's reservation rows (<see cref="MatcherRebuild"/>) against the event replay it
/// replaced: the same matcher, whatever states the reservations are in; and the server's start-up path with it.
/// </summary>
public sealed class MatcherRebuildTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Registered = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Changed = new(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("optout-rebuild-").FullName;
    private SqliteRegistryStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = await SqliteRegistryStore.OpenAsync(_dir);
        await _store.MigrateAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    // Reservation i: selectors of several kinds, on 1 of 7 hosts.
    private static Pb.Reservation Reservation(int i, string holder = "h1")
    {
        var reservation = new Pb.Reservation
        {
            Id = "rsv_" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture),
            HolderId = holder,
            HolderName = "Name of " + holder,
            RegisteredAt = Timestamp.FromDateTimeOffset(Registered),
            ValidFrom = Timestamp.FromDateTimeOffset(Registered),
            State = Pb.ReservationState.Active,
            Work = new Pb.WorkMetadata { Title = "Заголовок " + i, Creators = { "Автор" }, Identifiers = { "isbn:978" + i } },
            Statements = { new Pb.UsageStatement { Category = i % 3 == 0 ? Pb.UsageCategory.All : Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow } },
        };
        reservation.Selectors.Add(new Pb.Selector { Url = $"https://site{i % 7}.example/works/{i}" });
        reservation.SelectorVerified.Add(false);
        if (i % 5 == 0)
        {
            reservation.Selectors.Add(new Pb.Selector { Prefix = $"https://site{i % 7}.example/series/{i}/" });
            reservation.SelectorVerified.Add(false);
        }

        return reservation;
    }

    private static Mutation Created(Pb.Reservation reservation) =>
        new(new EventDraft("holder:" + reservation.HolderId, "reservation.created",
                new Pb.Event { Actor = "holder:" + reservation.HolderId, ReservationCreated = reservation }.ToByteArray()),
            new PutReservation(reservation.Id, reservation.HolderId, Storage.ReservationState.Active, Registered, null,
                new Storage.WorkMetadata(reservation.Work.Title, [.. reservation.Work.Creators], [.. reservation.Work.Identifiers]),
                reservation.HolderName, reservation.ToByteArray()));

    // As RegistryService writes a revocation / supersession: the event, and the row's payload in its new state.
    private static Mutation Ended(Pb.Reservation old, string? supersededBy)
    {
        var ended = old.Clone();
        ended.State = supersededBy is null ? Pb.ReservationState.Revoked : Pb.ReservationState.Superseded;
        ended.StateChangedAt = Timestamp.FromDateTimeOffset(Changed);
        ended.SupersededBy = supersededBy ?? string.Empty;
        var @event = new Pb.Event { Actor = "holder:" + old.HolderId, Time = Timestamp.FromDateTimeOffset(Changed) };
        if (supersededBy is null)
        {
            @event.ReservationRevoked = new Pb.ReservationRevoked { ReservationId = old.Id, Reason = "test" };
        }
        else
        {
            @event.ReservationSuperseded = new Pb.ReservationSuperseded { ReservationId = old.Id, SupersededBy = supersededBy };
        }

        return new Mutation(new EventDraft(@event.Actor, "reservation.ended", @event.ToByteArray()),
            new ChangeReservationState(old.Id, supersededBy is null ? Storage.ReservationState.Revoked : Storage.ReservationState.Superseded, ended.ToByteArray()));
    }

    // 0..count-1 registered (two holders, in batches and singly); every 4th revoked, every 6th superseded by a replacement.
    private async Task<Dictionary<string, Pb.Reservation>> FillAsync(int count)
    {
        await _store.AppendBatchAsync(
        [
            new Mutation(new EventDraft("admin", "holder.created", [1]), new CreateHolder("h1", "Name of h1", null)),
            new Mutation(new EventDraft("admin", "holder.created", [2]), new CreateHolder("h2", "Name of h2", null)),
        ]);
        var all = new Dictionary<string, Pb.Reservation>();
        var batch = new List<Mutation>();
        for (var i = 0; i < count; i++)
        {
            var reservation = Reservation(i, i % 2 == 0 ? "h1" : "h2");
            all[reservation.Id] = reservation;
            batch.Add(Created(reservation));
            if (batch.Count == 50)
            {
                await _store.AppendBatchAsync(batch);
                batch.Clear();
            }
        }

        await _store.AppendBatchAsync(batch);
        for (var i = 0; i < count; i += 4)
        {
            await _store.AppendAsync(Ended(all[Reservation(i).Id], null));
        }

        for (var i = 2; i < count; i += 6)
        {
            var replacement = Reservation(count + i, i % 2 == 0 ? "h1" : "h2");
            replacement.Supersedes = Reservation(i).Id;
            all[replacement.Id] = replacement;
            await _store.AppendBatchAsync([Created(replacement), Ended(all[Reservation(i).Id], replacement.Id)]);
        }

        return all;
    }

    // MatcherHost's previous start-up: every event from 0, applied one by one (refused ones skipped, as the host does).
    private async Task<RegistryMirror> ReplayAsync()
    {
        var mirror = new RegistryMirror();
        await MatcherReplay.ReplayAsync(_store, mirror, await _store.GetLatestSequenceAsync());
        return mirror;
    }

    private static IEnumerable<(string Url, UsageCategory Purpose, DateTimeOffset At)> Probes(int count)
    {
        for (var i = 0; i < 2 * count; i++)
        {
            foreach (var purpose in new[] { UsageCategory.TrainAi, UsageCategory.Search })
            {
                // Before and after the revocations and supersessions.
                foreach (var at in new[] { Changed.AddDays(-1), Changed.AddDays(1) })
                {
                    yield return ($"https://site{i % 7}.example/works/{i}", purpose, at);
                    yield return ($"https://site{i % 7}.example/series/{i}/part-2", purpose, at);
                }
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(240)]
    public async Task Rebuild_GivesTheMatcherTheReplayGives(int count)
    {
        if (count > 0)
        {
            await FillAsync(count);
        }

        var replayed = await ReplayAsync();
        var rebuilt = new RegistryMirror();
        var result = await MatcherRebuild.RunAsync(_store, rebuilt);

        var latest = await _store.GetLatestSequenceAsync();
        Assert.Equal(latest, result.AsOfSequence);
        Assert.Equal(latest, rebuilt.AppliedSequence);
        Assert.Equal(0, result.Skipped);
        Assert.Equal(replayed.Matcher.ReservationCount, rebuilt.Matcher.ReservationCount);
        Assert.Equal(replayed.Matcher.SelectorCount, rebuilt.Matcher.SelectorCount);
        var blocked = 0;
        foreach (var (url, purpose, at) in Probes(count))
        {
            var expected = replayed.Matcher.CheckUrl(url, purpose, at);
            Assert.True(expected == rebuilt.Matcher.CheckUrl(url, purpose, at), $"{url} for {purpose} at {at:O}: replay says {expected}");
            blocked += expected == Verdict.Disallowed ? 1 : 0;
        }

        Assert.Equal(count == 0, blocked == 0);
        Assert.Equal(count == 0 ? null : "Name of h1", rebuilt.GetHolderName("h1"));
    }

    [Fact]
    public async Task Rebuild_RowCoreRefuses_SkippedAndReportedTheRestLoaded()
    {
        await FillAsync(10);
        var bad = Reservation(99);
        bad.Selectors[0].Url = "not a url";
        await _store.AppendAsync(Created(bad));
        var reported = new List<(string Id, string Reason)>();

        var rebuilt = new RegistryMirror();
        var result = await MatcherRebuild.RunAsync(_store, rebuilt, (id, reason) => reported.Add((id, reason)));

        Assert.Equal(1, result.Skipped);
        var (id, reason) = Assert.Single(reported);
        Assert.Equal(bad.Id, id);
        Assert.Contains("selectors[0]", reason, StringComparison.Ordinal);
        Assert.Equal((await ReplayAsync()).Matcher.ReservationCount, rebuilt.Matcher.ReservationCount);
        Assert.Equal(await _store.GetLatestSequenceAsync(), rebuilt.AppliedSequence);
    }

    [Fact]
    public async Task ServerStart_MatcherRebuiltFromTheStore_ThenFollowsNewAppends()
    {
        var all = await FillAsync(60);
        var latest = await _store.GetLatestSequenceAsync();
        await _store.DisposeAsync();

        await using var server = await TemporaryServer.StartAsync(
            ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning"], _dir);
        var mirror = server.App.Services.GetRequiredService<RegistryMirror>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await mirror.WaitForSequenceAsync(latest, timeout.Token);
        Assert.Equal(Verdict.Disallowed, mirror.Matcher.CheckUrl("https://site1.example/works/1", UsageCategory.TrainAi));
        Assert.Equal(Verdict.Unknown, mirror.Matcher.CheckUrl("https://site4.example/works/4", UsageCategory.TrainAi, Changed.AddDays(1))); // revoked
        Assert.Equal(all.Count, mirror.Matcher.ReservationCount);

        // A write after the rebuild (another connection to the same file) arrives through the tail.
        _store = await SqliteRegistryStore.OpenAsync(_dir);
        var late = Reservation(500);
        var committed = await _store.AppendAsync(Created(late));
        await mirror.WaitForSequenceAsync(committed.Sequence, timeout.Token);
        Assert.Equal(Verdict.Disallowed, mirror.Matcher.CheckUrl("https://site3.example/works/500", UsageCategory.TrainAi));
    }
}
