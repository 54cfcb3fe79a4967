using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;
using OptOutRegistry.Storage.Tests.Infrastructure;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Tests.Durability;

/// <summary>
/// Issue 4, item 6: a child process (OptOutRegistry.Storage.CrashHarness) appends acknowledged writes in a tight
/// loop and is killed with SIGKILL at a random moment, many times. After every kill: each acknowledged write is
/// present at its acknowledged sequence, the log verifies (root recomputed from the stored leaves equals the stored
/// root, and is consistent with every earlier head), and no partial write is visible. 20 rounds per store in the
/// normal suite; set OPTOUT_CRASH_ROUNDS (e.g. 500) for a longer soak.
/// </summary>
public abstract class CrashDurabilityTests
{
    private static readonly int Rounds =
        int.TryParse(Environment.GetEnvironmentVariable("OPTOUT_CRASH_ROUNDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 20;

    protected abstract string Kind { get; }

    protected abstract Task<string> CreateLocationAsync();

    protected abstract Task<IRegistryStore> OpenAsync(string location);

    /// <summary>Called instead of SIGKILL on some rounds; returns false when the store has no server to crash.</summary>
    protected virtual Task<bool> CrashServerAsync(int round) => Task.FromResult(false);

    [Fact]
    public async Task KillWriterAtRandomMoments_EveryAcknowledgedWriteSurvivesAndTheLogVerifies()
    {
        var location = await CreateLocationAsync();
        var random = new Random(Environment.TickCount);
        var heads = new List<(long Size, byte[] Root)>();
        var acknowledged = new Dictionary<string, long>();
        var totalAcks = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var acks = await RunAndKillAsync(location, $"run{round}", random, round);
            foreach (var (sequence, id) in acks)
            {
                acknowledged.Add(id, sequence);
            }

            totalAcks += acks.Count;
            await using var store = await OpenAsync(location);
            await store.MigrateAsync();
            await VerifyAsync(store, acknowledged, heads, $"round {round}");
        }

        // The harness must actually have been interrupted mid-stream, not only before its first write.
        Assert.True(totalAcks > Rounds, $"only {totalAcks} acknowledged writes in {Rounds} rounds");
    }

    private async Task<List<(long Sequence, string Id)>> RunAndKillAsync(string location, string runId, Random random, int round)
    {
        var harness = Path.Combine(AppContext.BaseDirectory, "OptOutRegistry.Storage.CrashHarness.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(harness);
        info.ArgumentList.Add(Kind);
        info.ArgumentList.Add(location);
        info.ArgumentList.Add(runId);
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        var firstAck = new TaskCompletionSource();
        var reader = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Append(buffer, 0, read);
                }

                if (Array.IndexOf(buffer, '\n', 0, read) >= 0)
                {
                    firstAck.TrySetResult();
                }
            }
        });
        var errors = process.StandardError.ReadToEndAsync();

        // Half the rounds die at a random moment after writing started, half at a random moment after launch
        // (possibly during start-up or migration).
        if (round % 2 == 0)
        {
            await Task.WhenAny(firstAck.Task, Task.Delay(TimeSpan.FromSeconds(30)));
            if (!firstAck.Task.IsCompleted)
            {
                Assert.Fail($"round {round}: harness wrote nothing in 30 s: {await ReadErrorsAfterKill(process, errors)}");
            }

            await Task.Delay(random.Next(0, 400));
        }
        else
        {
            await Task.Delay(random.Next(50, 900));
        }

        if (!await CrashServerAsync(round) && process.HasExited)
        {
            Assert.Fail($"round {round}: harness exited early with {process.ExitCode}: {await ReadErrorsAfterKill(process, errors)}");
        }

        process.Kill(); // SIGKILL on Unix: no finalisers, no flushes, no rollback.
        await process.WaitForExitAsync();
        await reader;

        // Only complete lines are acknowledgements; a line cut by the kill is not.
        var acks = new List<(long, string)>();
        var text = output.ToString();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length - 1; i++)
        {
            var parts = lines[i].Split(' ');
            Assert.True(parts.Length == 3 && parts[0] == "ack", $"unexpected harness output '{lines[i]}'");
            acks.Add((long.Parse(parts[1], CultureInfo.InvariantCulture), parts[2]));
        }

        return acks;
    }

    private static async Task<string> ReadErrorsAfterKill(Process process, Task<string> errors)
    {
        if (!process.HasExited)
        {
            process.Kill();
        }

        return await errors;
    }

    private static async Task VerifyAsync(IRegistryStore store, Dictionary<string, long> acknowledged, List<(long Size, byte[] Root)> heads, string when)
    {
        var (size, root, events) = await LogAudit.VerifyAsync(store);

        // Every acknowledged write is there, at the sequence it was acknowledged with.
        foreach (var (id, sequence) in acknowledged)
        {
            Assert.True(sequence < size, $"{when}: acknowledged {id} at {sequence} but the log has {size} events");
            var e = events[(int)sequence];
            Assert.Equal(("reservation.created", id), (e.Type, Encoding.UTF8.GetString(e.Payload)));
            var reservation = await store.GetReservationAsync(id);
            Assert.True(reservation is not null, $"{when}: acknowledged reservation {id} is missing");
            Assert.Equal(sequence, reservation.CreatedSequence);
        }

        // No partial write: rows and events correspond one to one, and batches are whole.
        var rows = new Dictionary<string, ReservationRecord>();
        await foreach (var r in store.ReadAllReservationsAsync())
        {
            rows.Add(r.Id, r);
        }

        var created = events.Where(e => e.Type == "reservation.created").ToList();
        Assert.Equal(created.Count, rows.Count);
        foreach (var e in created)
        {
            var id = Encoding.UTF8.GetString(e.Payload);
            Assert.True(rows.TryGetValue(id, out var row), $"{when}: event {e.Sequence} has no reservation row {id}");
            Assert.Equal(e.Sequence, row.CreatedSequence);
            Assert.Single(await store.GetReservationHistoryAsync(id));
        }

        foreach (var group in rows.Keys.Where(k => k.Split('-').Length == 3).GroupBy(k => k[..k.LastIndexOf('-')]))
        {
            Assert.True(group.Count() == 5, $"{when}: batch {group.Key} is partly stored ({group.Count()} of 5)");
        }

        // Append-only: the log is consistent with every head seen after earlier crashes.
        foreach (var (oldSize, oldRoot) in heads)
        {
            Assert.True(size >= oldSize, $"{when}: the log shrank from {oldSize} to {size}");
            if (oldSize > 0)
            {
                var proof = await store.GetConsistencyProofAsync(oldSize, size);
                Assert.True(MerkleVerifier.VerifyConsistency(oldSize, size, oldRoot, root, proof), $"{when}: not consistent with head {oldSize}");
            }
        }

        heads.Add((size, root));
    }
}

public sealed class SqliteCrashDurabilityTests : CrashDurabilityTests, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("optout-crash-");

    protected override string Kind => "sqlite";

    protected override Task<string> CreateLocationAsync() => Task.FromResult(_dir.FullName);

    protected override async Task<IRegistryStore> OpenAsync(string location) => await SqliteRegistryStore.OpenAsync(location);

    public void Dispose() => _dir.Delete(recursive: true);
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresCrashDurabilityTests(PostgresServerFixture server) : CrashDurabilityTests
{
    protected override string Kind => "postgres";

    protected override Task<string> CreateLocationAsync() => server.CreateDatabaseAsync();

    protected override Task<IRegistryStore> OpenAsync(string location) => Task.FromResult<IRegistryStore>(PostgresRegistryStore.Create(location));

    /// <summary>Every fifth round crashes the database server itself (immediate stop: WAL recovery on restart).</summary>
    protected override async Task<bool> CrashServerAsync(int round)
    {
        if (round % 5 != 4)
        {
            return false;
        }

        await server.CrashAsync();
        NpgsqlConnection.ClearAllPools();
        await server.StartAsync();
        return true;
    }
}
