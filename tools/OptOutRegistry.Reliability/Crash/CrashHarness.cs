using OptOutRegistry.Storage.Tests.Infrastructure;
using System.Diagnostics;
using OptOutRegistry.Client;
using OptOutRegistry.Client.Receipts;
using OptOutRegistry.Grpc;
using OptOutRegistry.Reliability.Hosting;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Reliability.Crash;

/// <summary>
/// Issue 9, deliverable 1: crash safety end to end. The real server runs as a child process; several clients register
/// and revoke through the SDK (<see cref="RegistryClient"/>) while a watcher collects signed tree heads; the server is
/// killed with SIGKILL after a random delay, restarted on the same data (and database), and <see cref="CrashAuditor"/>
/// checks what survived. Repeated <see cref="CrashOptions.Kills"/> times.
/// </summary>
public static class CrashHarness
{
    /// <summary>Runs the harness and returns the report (it does not throw for audit failures: they are in the report).</summary>
    public static async Task<CrashReport> RunAsync(CrashOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Store is not ("sqlite" or "postgres"))
        {
            throw new ArgumentException($"--store: '{options.Store}' is not sqlite or postgres", nameof(options));
        }

        if (options.Kills < 1 || options.Clients < 1 || options.MaxWriteTime < options.MinWriteTime)
        {
            throw new ArgumentException("--kills and --clients must be at least 1, and the write time range must not be empty", nameof(options));
        }

        var clock = Stopwatch.StartNew();
        var report = new CrashReport(options.Store, options.Seed);
        var work = options.WorkDirectory ?? Directory.CreateTempSubdirectory("optout-crash-").FullName;
        PostgresServerFixture? postgres = null;
        try
        {
            if (options.Store == "postgres")
            {
                postgres = new PostgresServerFixture();
                await postgres.InitializeAsync().ConfigureAwait(false);
            }

            var connectionString = postgres is null ? null : await postgres.CreateDatabaseAsync().ConfigureAwait(false);
            var settings = new ServerSettings(Path.Combine(work, "data"), connectionString);
            Directory.CreateDirectory(settings.DataDirectory);
            await RunRoundsAsync(options, settings, report, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (postgres is not null)
            {
                await postgres.DisposeAsync().ConfigureAwait(false);
            }

            if (options.WorkDirectory is null)
            {
                TryDelete(work);
            }
        }

        report.Elapsed = clock.Elapsed;
        return report;
    }

    private static async Task RunRoundsAsync(CrashOptions options, ServerSettings settings, CrashReport report, CancellationToken cancellationToken)
    {
        var random = new Random(options.Seed);
        var port = ServerProcess.FreePort();
        var state = new CrashState();
        var server = await ServerProcess.StartAsync(settings, port, options.StartTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            await state.InitialiseAsync(server.Address, options.Clients, cancellationToken).ConfigureAwait(false);
            var auditor = new CrashAuditor(state, report);
            for (var round = 0; round < options.Kills && report.Failures.Count < options.MaxFailures; round++)
            {
                var writeTime = options.MinWriteTime + ((options.MaxWriteTime - options.MinWriteTime) * random.NextDouble());
                var load = await WriteUntilKilledAsync(server, state, options, round, writeTime, random.Next(), report, cancellationToken).ConfigureAwait(false);
                report.Kills++;
                if (options.AfterKill is { } afterKill)
                {
                    await afterKill(round, settings.DataDirectory).ConfigureAwait(false);
                }

                var restartClock = Stopwatch.StartNew();
                server.Dispose();
                server = await ServerProcess.StartAsync(settings, port, options.StartTimeout, cancellationToken).ConfigureAwait(false);
                var restartTime = restartClock.Elapsed;

                var audit = await auditor.AuditAsync(server.Address, cancellationToken).ConfigureAwait(false);
                var roundResult = new CrashRound(round, writeTime, load.Acknowledged, load.Revoked, load.InFlight, audit.UnacknowledgedPresent, audit.TreeSize, restartTime);
                report.Add(roundResult);
                report.InFlightAtKill += load.InFlight;
                options.Progress?.WriteLine(
                    $"[{settings.StoreName}] kill {round + 1}/{options.Kills} after {writeTime.TotalMilliseconds:F0} ms: {load.Acknowledged} registrations and {load.Revoked} revocations acked, "
                    + $"{load.InFlight} in flight ({audit.UnacknowledgedPresent} of them present whole); log {audit.TreeSize} events; restart {restartTime.TotalSeconds:F1} s; "
                    + $"{report.Failures.Count} failures so far");
            }
        }
        finally
        {
            server.Dispose();
        }
    }

    private sealed record LoadResult(int Acknowledged, int Revoked, int InFlight);

    /// <summary>Runs the clients and the head watcher for <paramref name="writeTime"/>, then SIGKILLs the server.</summary>
    private static async Task<LoadResult> WriteUntilKilledAsync(ServerProcess server, CrashState state, CrashOptions options, int round, TimeSpan writeTime, int seed,
        CrashReport report, CancellationToken cancellationToken)
    {
        using var anonymous = RegistryClient.Create(server.Address);
        using var feed = OptOutRegistry.Client.Checking.FeedClient.Create(server.Address);
        using var killed = new CancellationTokenSource();
        // Cancels calls that still hang 30 s after the kill (none should: the kill closes the server's sockets).
        using var abandon = new CancellationTokenSource();
        var counters = new RoundCounters();
        var tasks = new List<Task>(options.Clients + 1);
        for (var c = 0; c < options.Clients; c++)
        {
            var client = anonymous.WithKey(state.Holders[c].ApiKey);
            tasks.Add(RunClientAsync(client, state, c, round, options.RevokeShare, seed + c, counters, report, killed.Token, abandon.Token));
        }

        tasks.Add(WatchHeadsAsync(feed, state, report, killed.Token, abandon.Token));
        await Task.Delay(writeTime, cancellationToken).ConfigureAwait(false);

        // The flag goes up before the kill, so a call that fails from here on fails because of the kill.
        await killed.CancelAsync().ConfigureAwait(false);
        server.Kill();
        abandon.CancelAfter(TimeSpan.FromSeconds(30));
        await Task.WhenAll(tasks).ConfigureAwait(false);
        return new LoadResult(counters.Acknowledged, counters.Revoked, counters.InFlight);
    }

    private sealed class RoundCounters
    {
        public int Acknowledged;
        public int Revoked;
        public int InFlight;
    }

    private static async Task RunClientAsync(RegistryClient client, CrashState state, int clientIndex, int round, double revokeShare, int seed,
        RoundCounters counters, CrashReport report, CancellationToken killed, CancellationToken abandon)
    {
        var random = new Random(seed);
        var holder = state.Holders[clientIndex];
        // The loop does not stop when the kill flag goes up: it runs until a call fails, so the SIGKILL lands while writes
        // are in flight (a client that stopped at the flag would let its last call finish first).
        for (var i = 0; ; i++)
        {
            var toRevoke = random.NextDouble() < revokeShare ? state.PickRevocable(clientIndex, random) : null;
            if (toRevoke is not null)
            {
                toRevoke.RevokeInFlight = true;
                try
                {
                    // The kill token is not passed: a call in flight must see the server die, not a client-side cancel.
                    var response = await client.RevokeReservationAsync(toRevoke.ReservationId, "crash harness", abandon).ConfigureAwait(false);
                    toRevoke.RevokeInFlight = false;
                    toRevoke.RevokeReceipt = response.Receipt;
                    toRevoke.Revoked = true;
                    Interlocked.Increment(ref counters.Revoked);
                    lock (report)
                    {
                        report.AcknowledgedRevocations++;
                    }

                    state.CheckReceipt(response.Receipt, toRevoke.ReservationId, report, "revocation");
                }
                catch (Exception ex) when (killed.IsCancellationRequested && ex is RpcException or OperationCanceledException)
                {
                    Interlocked.Increment(ref counters.InFlight);
                    return;
                }
                catch (RpcException ex)
                {
                    toRevoke.RevokeInFlight = false;
                    report.Fail($"client {clientIndex}: RevokeReservation {toRevoke.ReservationId} failed while the server was up: {ex.StatusCode} {ex.Status.Detail}");
                    return;
                }

                continue;
            }

            var url = $"https://crash.example/{holder.HolderId}/r{round}/{i}";
            // Every registration carries an idempotency key, as a careful client would: after a crash the audit retries
            // the ones whose answer was lost with the same key and must get the stored reservation, not a second one.
            var key = $"r{round}-{i}";
            state.AddInFlight(url, clientIndex, key);
            try
            {
                var response = await client.CreateReservationAsync(CrashState.Spec(url), key, abandon).ConfigureAwait(false);
                var registration = new Registration(response.Reservation.Id, url, clientIndex, response.Receipt.Event.Sequence, response.Receipt);
                state.Acknowledge(registration);
                Interlocked.Increment(ref counters.Acknowledged);
                lock (report)
                {
                    report.AcknowledgedRegistrations++;
                }

                state.CheckReceipt(response.Receipt, registration.ReservationId, report, "registration");
            }
            catch (Exception ex) when (killed.IsCancellationRequested && ex is RpcException or OperationCanceledException)
            {
                Interlocked.Increment(ref counters.InFlight);
                return;
            }
            catch (RpcException ex)
            {
                report.Fail($"client {clientIndex}: CreateReservation {url} failed while the server was up: {ex.StatusCode} {ex.Status.Detail}");
                return;
            }
        }
    }

    /// <summary>Collects every signed tree head the server hands out until the kill (each must stay provable afterwards).</summary>
    private static async Task WatchHeadsAsync(OptOutRegistry.Client.Checking.FeedClient feed, CrashState state, CrashReport report, CancellationToken killed,
        CancellationToken abandon)
    {
        while (true)
        {
            try
            {
                var head = await feed.GetTreeHeadAsync(abandon).ConfigureAwait(false);
                state.RecordHead(head, report, "Feed.GetTreeHead");
            }
            catch (Exception ex) when (killed.IsCancellationRequested && ex is RpcException or OperationCanceledException)
            {
                return;
            }
            catch (RpcException ex)
            {
                report.Fail($"Feed.GetTreeHead failed while the server was up: {ex.StatusCode} {ex.Status.Detail}");
                return;
            }

            await Task.Delay(25, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS temp cleaner.
        }
    }
}

/// <summary>One registration the server acknowledged (or, after an audit, found whole without having acknowledged it).</summary>
internal sealed class Registration(string reservationId, string url, int clientIndex, long sequence, Pb.Receipt? receipt)
{
    public string ReservationId { get; } = reservationId;

    public string Url { get; } = url;

    public int ClientIndex { get; } = clientIndex;

    public long Sequence { get; } = sequence;

    /// <summary>The receipt the client was given; null for a registration whose answer was lost in a crash.</summary>
    public Pb.Receipt? Receipt { get; } = receipt;

    public volatile bool Revoked;

    public volatile bool RevokeInFlight;

    public Pb.Receipt? RevokeReceipt { get; set; }
}

/// <summary>One registering client's holder account.</summary>
internal sealed record HolderAccount(string HolderId, string ApiKey);

/// <summary>Everything the clients were told, kept across kills so the audits can hold the server to it.</summary>
internal sealed class CrashState
{
    private readonly object _lock = new();
    private readonly Dictionary<string, Registration> _byId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Registration> _byUrl = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (int ClientIndex, string Key)> _inFlightUrls = new(StringComparer.Ordinal);
    private readonly List<(long Size, byte[] Root)> _pendingHeads = [];

    public List<HolderAccount> Holders { get; } = [];

    public string PublicKeyPem { get; private set; } = string.Empty;

    public string KeyFingerprint { get; private set; } = string.Empty;

    /// <summary>The disallow-training reservation of one URL that every client registers.</summary>
    public static Pb.ReservationSpec Spec(string url)
    {
        var spec = new Pb.ReservationSpec();
        spec.Selectors.Add(new Pb.Selector { Url = url });
        spec.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
        return spec;
    }

    public async Task InitialiseAsync(string address, int clients, CancellationToken cancellationToken)
    {
        using var anonymous = RegistryClient.Create(address);
        var key = await anonymous.GetPublicKeyAsync(cancellationToken).ConfigureAwait(false);
        PublicKeyPem = key.SpkiPem;
        KeyFingerprint = key.Fingerprint;
        for (var c = 0; c < clients; c++)
        {
            var created = await anonymous.CreateHolderAsync(
                new Pb.CreateHolderRequest { DisplayName = $"Crash Client {c}", ContactEmail = $"crash{c}@example.org" }, cancellationToken).ConfigureAwait(false);
            Holders.Add(new HolderAccount(created.Holder.Id, created.ApiKey));
        }
    }

    public void AddInFlight(string url, int clientIndex, string idempotencyKey)
    {
        lock (_lock)
        {
            _inFlightUrls[url] = (clientIndex, idempotencyKey);
        }
    }

    public void Acknowledge(Registration registration)
    {
        lock (_lock)
        {
            _inFlightUrls.Remove(registration.Url);
            _byId.Add(registration.ReservationId, registration);
            _byUrl.Add(registration.Url, registration);
        }
    }

    /// <summary>
    /// Adopts a registration found whole after a crash although its answer was lost: later audits expect it too. It stays
    /// in flight until the audit's retry with the same idempotency key has been answered.
    /// </summary>
    public void Adopt(Registration registration)
    {
        lock (_lock)
        {
            _byId.Add(registration.ReservationId, registration);
            _byUrl.Add(registration.Url, registration);
        }
    }

    public bool TryGetByUrl(string url, out Registration registration)
    {
        lock (_lock)
        {
            return _byUrl.TryGetValue(url, out registration!);
        }
    }

    /// <summary>Forgets the in-flight URLs of the last round (after an audit has decided each one).</summary>
    public void ClearInFlight()
    {
        lock (_lock)
        {
            _inFlightUrls.Clear();
        }
    }

    public bool IsInFlight(string url, out int clientIndex)
    {
        lock (_lock)
        {
            var found = _inFlightUrls.TryGetValue(url, out var entry);
            clientIndex = entry.ClientIndex;
            return found;
        }
    }

    public List<(string Url, int ClientIndex, string Key)> InFlight()
    {
        lock (_lock)
        {
            var result = new List<(string, int, string)>(_inFlightUrls.Count);
            foreach (var (url, (client, key)) in _inFlightUrls)
            {
                result.Add((url, client, key));
            }

            return result;
        }
    }

    public List<Registration> Registrations()
    {
        lock (_lock)
        {
            return [.. _byId.Values];
        }
    }

    public bool TryGet(string reservationId, out Registration registration)
    {
        lock (_lock)
        {
            return _byId.TryGetValue(reservationId, out registration!);
        }
    }

    public Registration? PickRevocable(int clientIndex, Random random)
    {
        lock (_lock)
        {
            // A random starting point spreads the revocations over the set; the scan after it is bounded (64 entries).
            if (_byId.Count == 0)
            {
                return null;
            }

            var all = _byId.Values;
            var skip = random.Next(_byId.Count);
            var scanned = 0;
            foreach (var registration in all)
            {
                if (scanned++ < skip)
                {
                    continue;
                }

                if (registration.ClientIndex == clientIndex && !registration.Revoked && !registration.RevokeInFlight)
                {
                    return registration;
                }

                if (scanned - skip > 64)
                {
                    break;
                }
            }

            return null;
        }
    }

    /// <summary>Takes the heads handed out since the last audit.</summary>
    public List<(long Size, byte[] Root)> TakePendingHeads()
    {
        lock (_lock)
        {
            var heads = new List<(long, byte[])>(_pendingHeads);
            _pendingHeads.Clear();
            return heads;
        }
    }

    /// <summary>Verifies a head's signature now and keeps it for the next audit's consistency check.</summary>
    public void RecordHead(Pb.SignedTreeHead head, CrashReport report, string source)
    {
        if (!TransparencyChecks.VerifyHeadSignature(head, PublicKeyPem))
        {
            report.Fail($"{source}: the tree head of size {head.TreeSize} does not verify with the registry's key");
            return;
        }

        lock (_lock)
        {
            _pendingHeads.Add((head.TreeSize, head.RootHash.ToByteArray()));
        }
    }

    /// <summary>Verifies a receipt offline as a holder would (ReceiptVerifier) and keeps its tree head.</summary>
    public void CheckReceipt(Pb.Receipt receipt, string reservationId, CrashReport report, string what)
    {
        var verification = ReceiptVerifier.Verify(receipt, PublicKeyPem);
        if (!verification.IsValid)
        {
            report.Fail($"the {what} receipt of {reservationId} does not verify: {string.Join("; ", verification.Errors)}");
        }

        if (!string.Equals(receipt.ReservationId, reservationId, StringComparison.Ordinal))
        {
            report.Fail($"the {what} receipt names reservation '{receipt.ReservationId}', the answer '{reservationId}'");
        }

        RecordHead(receipt.TreeHead, report, $"the {what} receipt of {reservationId}");
    }
}
