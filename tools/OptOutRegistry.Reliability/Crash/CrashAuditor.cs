using OptOutRegistry.Client;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Client.Receipts;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Reliability.Crash;

/// <summary>The outcome of one audit.</summary>
internal sealed record AuditResult(long TreeSize, int UnacknowledgedPresent);

/// <summary>
/// After each restart, holds the server to everything it told the clients before the SIGKILL (issue 9, deliverable 1):
/// <list type="number">
/// <item>the signing key is the same, and the new tree head verifies with it;</item>
/// <item>every tree head handed out before the crash is a prefix of the new one (consistency proofs, verified offline);</item>
/// <item>every acknowledged registration and revocation is in the log at the sequence its receipt names: the receipt's
/// exact leaf bytes are proven included in the NEW tree head, and the reservation is stored in the acknowledged state;</item>
/// <item>no half-write: the log and the reservation table agree both ways (every stored reservation has its creation
/// event with the same content, every revoked one its revocation event, and nothing exists that was never sent); a
/// registration whose answer was lost may exist, but then whole, and its fresh receipt verifies;</item>
/// <item>the matcher's verdict for every URL ever sent equals the verdict of a matcher rebuilt from a fresh signed
/// snapshot of the store (and what the clients expect from their acknowledged writes).</item>
/// </list>
/// </summary>
internal sealed class CrashAuditor(CrashState state, CrashReport report)
{
    private const int Concurrency = 8;
    private const int CheckBatchSize = 1000;
    private (long Size, byte[] Root)? _lastVerified;

    public async Task<AuditResult> AuditAsync(string address, CancellationToken cancellationToken)
    {
        using var anonymous = RegistryClient.Create(address);
        using var feed = FeedClient.Create(address);

        // 1. Same key, a valid new head.
        var key = await feed.GetPublicKeyAsync(cancellationToken).ConfigureAwait(false);
        if (!string.Equals(key.Fingerprint, state.KeyFingerprint, StringComparison.Ordinal))
        {
            report.Fail($"the signing key changed across the restart: {state.KeyFingerprint} became {key.Fingerprint}");
        }

        var head = await feed.GetTreeHeadAsync(cancellationToken).ConfigureAwait(false);
        if (!TransparencyChecks.VerifyHeadSignature(head, state.PublicKeyPem))
        {
            report.Fail($"the restarted server's tree head (size {head.TreeSize}) does not verify with the registry's key");
        }

        var size = head.TreeSize;
        var root = head.RootHash.ToByteArray();

        // 2. Every head handed out before the crash (and the last audited one) is consistent with the new head.
        await CheckConsistencyAsync(feed, size, root, cancellationToken).ConfigureAwait(false);

        // 3 and 4. The log, read back whole, against the acknowledged writes and the reservation table.
        var events = await ReadLogAsync(feed, cancellationToken).ConfigureAwait(false);
        if (events.Count != size)
        {
            report.Fail($"the log has {events.Count} events but the tree head says {size}");
        }

        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Sequence != i)
            {
                report.Fail($"the log's event {i} has sequence {events[i].Sequence} (gap or duplicate)");
                break;
            }
        }

        var unacknowledgedPresent = await CheckReservationsAsync(anonymous, events, cancellationToken).ConfigureAwait(false);
        await CheckInclusionAsync(feed, size, root, cancellationToken).ConfigureAwait(false);

        // 5. Matcher verdicts against a rebuild from the store.
        await CheckVerdictsAsync(address, feed, size, cancellationToken).ConfigureAwait(false);

        // 6. The clients whose answers were lost retry with the same idempotency key (after the checks above, because the
        // retries append to the log; the next audit holds the server to their receipts).
        await RetryLostRegistrationsAsync(anonymous, cancellationToken).ConfigureAwait(false);
        state.ClearInFlight();
        return new AuditResult(size, unacknowledgedPresent);
    }

    /// <summary>
    /// A retry with the registration's idempotency key must answer with the reservation that survived the crash, or —
    /// when none did — create it once; never a second reservation for one request.
    /// </summary>
    private async Task RetryLostRegistrationsAsync(RegistryClient anonymous, CancellationToken cancellationToken)
    {
        foreach (var (url, clientIndex, key) in state.InFlight())
        {
            var client = anonymous.WithKey(state.Holders[clientIndex].ApiKey);
            var response = await client.CreateReservationAsync(CrashState.Spec(url), key, cancellationToken).ConfigureAwait(false);
            var id = response.Reservation.Id;
            state.CheckReceipt(response.Receipt, id, report, "retried registration");
            if (state.TryGetByUrl(url, out var survivor))
            {
                if (!string.Equals(survivor.ReservationId, id, StringComparison.Ordinal))
                {
                    report.Fail($"a retry of {url} with idempotency key {key} created {id}, but {survivor.ReservationId} survived the crash (duplicate registration)");
                }
                else if (response.Receipt.Event.Sequence != survivor.Sequence)
                {
                    report.Fail($"a retry of {url} with idempotency key {key} answered with event {response.Receipt.Event.Sequence}, the registration is event {survivor.Sequence}");
                }
            }
            else
            {
                state.Acknowledge(new Registration(id, url, clientIndex, response.Receipt.Event.Sequence, response.Receipt));
            }

            lock (report)
            {
                report.Retries++;
            }
        }
    }

    private async Task CheckConsistencyAsync(FeedClient feed, long size, byte[] root, CancellationToken cancellationToken)
    {
        var heads = state.TakePendingHeads();
        if (_lastVerified is { } last)
        {
            heads.Add(last);
        }

        // Heads of equal size must carry the same root: two roots for one size is a forked (split-view) log.
        var bySize = new Dictionary<long, byte[]>();
        foreach (var (headSize, headRoot) in heads)
        {
            if (bySize.TryGetValue(headSize, out var seen))
            {
                if (!seen.AsSpan().SequenceEqual(headRoot))
                {
                    report.Fail($"two tree heads of size {headSize} with different roots were handed out");
                }

                continue;
            }

            bySize.Add(headSize, headRoot);
        }

        await ForEachAsync(bySize, async (entry, ct) =>
        {
            var (headSize, headRoot) = (entry.Key, entry.Value);
            if (headSize > size)
            {
                report.Fail($"a tree head of size {headSize} was handed out before the crash, but the restarted log has only {size} events (acknowledged events lost)");
                return;
            }

            if (headSize == size)
            {
                if (!headRoot.AsSpan().SequenceEqual(root))
                {
                    report.Fail($"the head of size {headSize} handed out before the crash has another root than the restarted log's");
                }
            }
            else if (headSize > 0)
            {
                var proof = await feed.GetConsistencyProofAsync(headSize, size, ct).ConfigureAwait(false);
                if (!TransparencyChecks.VerifyConsistency(headSize, headRoot, size, root, proof))
                {
                    report.Fail($"the log after the restart (size {size}) is not consistent with the head of size {headSize} handed out before the crash");
                }
            }

            lock (report)
            {
                report.ConsistencyChecks++;
            }
        }, cancellationToken).ConfigureAwait(false);
        _lastVerified = (size, root);
    }

    private static async Task<List<Pb.Event>> ReadLogAsync(FeedClient feed, CancellationToken cancellationToken)
    {
        var events = new List<Pb.Event>();
        await foreach (var e in feed.WatchEventsAsync(0, stopAtEnd: true, cancellationToken).ConfigureAwait(false))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>Returns how many registrations exist whole although their answer was lost.</summary>
    private async Task<int> CheckReservationsAsync(RegistryClient anonymous, List<Pb.Event> events, CancellationToken cancellationToken)
    {
        var created = new Dictionary<string, Pb.Event>(StringComparer.Ordinal);
        var revoked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            switch (e.ChangeCase)
            {
                case Pb.Event.ChangeOneofCase.ReservationCreated:
                    if (!created.TryAdd(e.ReservationCreated.Id, e))
                    {
                        report.Fail($"reservation {e.ReservationCreated.Id} has two creation events ({created[e.ReservationCreated.Id].Sequence} and {e.Sequence})");
                    }

                    break;
                case Pb.Event.ChangeOneofCase.ReservationRevoked:
                    if (!revoked.Add(e.ReservationRevoked.ReservationId))
                    {
                        report.Fail($"reservation {e.ReservationRevoked.ReservationId} has two revocation events");
                    }

                    break;
            }
        }

        // The reservation table as the Registry serves it, holder by holder.
        var stored = new Dictionary<string, Pb.Reservation>(StringComparer.Ordinal);
        for (var c = 0; c < state.Holders.Count; c++)
        {
            var client = anonymous.WithKey(state.Holders[c].ApiKey);
            string? token = null;
            do
            {
                var page = await client.ListReservationsAsync(1000, token, cancellationToken: cancellationToken).ConfigureAwait(false);
                foreach (var reservation in page.Reservations)
                {
                    stored[reservation.Id] = reservation;
                }

                token = page.NextPageToken.Length == 0 ? null : page.NextPageToken;
            }
            while (token is not null);
        }

        // Table -> log: every stored reservation is whole (its creation event says the same; its state has its event).
        var unacknowledged = 0;
        var urls = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, reservation) in stored)
        {
            var selectorUrl = reservation.Selectors.Count == 1 ? reservation.Selectors[0].Url : string.Empty;
            if (!urls.TryAdd(selectorUrl, id))
            {
                report.Fail($"{selectorUrl} is registered twice ({urls[selectorUrl]} and {id}): one request became two reservations");
            }


            if (!created.TryGetValue(id, out var creation))
            {
                report.Fail($"reservation {id} is stored but the log has no creation event for it (half-write)");
                continue;
            }

            if (!SameContent(reservation, creation.ReservationCreated))
            {
                report.Fail($"reservation {id} as stored differs from its creation event {creation.Sequence} (half-write)");
            }

            var isRevoked = reservation.State == Pb.ReservationState.Revoked;
            if (isRevoked != revoked.Contains(id))
            {
                report.Fail($"reservation {id} is stored as {reservation.State} but the log {(isRevoked ? "has no" : "has a")} revocation event (half-write)");
            }

            if (state.TryGet(id, out var known))
            {
                if (known.Revoked && !isRevoked)
                {
                    report.Fail($"the acknowledged revocation of {id} was lost: the reservation is {reservation.State} after the restart");
                }

                if (known.RevokeInFlight)
                {
                    // The answer was lost; either outcome is allowed, and from now on it is what the store says.
                    known.RevokeInFlight = false;
                    known.Revoked = isRevoked;
                }

                continue;
            }

            var url = reservation.Selectors.Count == 1 ? reservation.Selectors[0].Url : string.Empty;
            if (!state.IsInFlight(url, out var clientIndex))
            {
                report.Fail($"reservation {id} ({url}) exists but no client sent it, or it was answered before and has a new id");
                continue;
            }

            // Committed before the kill, answer lost: allowed, if whole. A fresh receipt for it must verify.
            var receipt = await anonymous.GetReceiptAsync(creation.Sequence, cancellationToken).ConfigureAwait(false);
            var verification = ReceiptVerifier.Verify(receipt, state.PublicKeyPem);
            if (!verification.IsValid || receipt.ReservationId != id)
            {
                report.Fail($"the receipt of unacknowledged but present reservation {id} does not verify: {string.Join("; ", verification.Errors)}");
            }

            state.Adopt(new Registration(id, url, clientIndex, creation.Sequence, receipt) { Revoked = isRevoked });
            unacknowledged++;
        }

        // Log -> table, and the acknowledged writes: everything the log or a receipt says exists is stored.
        foreach (var (id, creation) in created)
        {
            if (!stored.ContainsKey(id))
            {
                report.Fail($"the log has creation event {creation.Sequence} for {id}, but the reservation is not stored (half-write)");
            }
        }

        foreach (var registration in state.Registrations())
        {
            if (!stored.ContainsKey(registration.ReservationId))
            {
                report.Fail($"acknowledged registration {registration.ReservationId} (sequence {registration.Sequence}) is missing after the restart");
            }
        }

        lock (report)
        {
            report.UnacknowledgedPresent += unacknowledged;
        }

        return unacknowledged;
    }

    /// <summary>Every acknowledged event's receipt leaf is proven included in the new head (the receipt "verifies against the new head").</summary>
    private async Task CheckInclusionAsync(FeedClient feed, long size, byte[] root, CancellationToken cancellationToken)
    {
        var receipts = new List<(string Id, Pb.Receipt Receipt)>();
        foreach (var registration in state.Registrations())
        {
            if (registration.Receipt is { } receipt)
            {
                receipts.Add((registration.ReservationId, receipt));
            }

            if (registration.RevokeReceipt is { } revokeReceipt)
            {
                receipts.Add((registration.ReservationId, revokeReceipt));
            }
        }

        await ForEachAsync(receipts, async (item, ct) =>
        {
            var sequence = item.Receipt.Event.Sequence;
            if (sequence >= size)
            {
                report.Fail($"the acknowledged event {sequence} of {item.Id} is beyond the restarted log's size {size}");
                return;
            }

            var proof = await feed.GetInclusionProofAsync(sequence, size, ct).ConfigureAwait(false);
            if (!TransparencyChecks.VerifyInclusion(item.Receipt.LeafData.Span, sequence, size, root, proof))
            {
                report.Fail($"the receipt of {item.Id} (event {sequence}) does not verify against the restarted log's head of size {size}");
            }

            lock (report)
            {
                report.InclusionChecks++;
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The live matcher's verdicts equal those of a matcher rebuilt from a fresh snapshot (built by the server from the
    /// store's log, verified with the registry's key) and what the clients' acknowledged writes imply.
    /// </summary>
    private async Task CheckVerdictsAsync(string address, FeedClient feed, long size, CancellationToken cancellationToken)
    {
        var registrations = state.Registrations();
        var urls = new List<string>(registrations.Count + 64);
        var expected = new Dictionary<string, Pb.Verdict>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            urls.Add(registration.Url);
            expected[registration.Url] = registration.Revoked ? Pb.Verdict.Unknown : Pb.Verdict.Disallowed;
        }

        foreach (var (url, _, _) in state.InFlight())
        {
            if (!expected.ContainsKey(url))
            {
                // Sent, answer lost, and not stored (CheckReservations adopted the stored ones): nothing may match it.
                urls.Add(url);
                expected[url] = Pb.Verdict.Unknown;
            }
        }

        for (var i = 0; i < 16; i++)
        {
            var never = $"https://crash.example/never-registered/{Guid.NewGuid():N}";
            urls.Add(never);
            expected[never] = Pb.Verdict.Unknown;
        }

        var snapshotPath = Path.Combine(Path.GetTempPath(), $"optout-crash-{Guid.NewGuid():N}.snap");
        try
        {
            await using (var file = File.Create(snapshotPath))
            {
                await feed.DownloadSnapshotAsync(file, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var rebuilt = OfflineChecker.Load(snapshotPath, state.PublicKeyPem);
            if (rebuilt.AppliedSequence != size - 1)
            {
                report.Fail($"the fresh snapshot is as of sequence {rebuilt.AppliedSequence}, the log's last event is {size - 1}");
            }

            await using var check = CheckClient.Create(address);
            await WaitForMatcherAsync(check, size - 1, cancellationToken).ConfigureAwait(false);
            for (var start = 0; start < urls.Count; start += CheckBatchSize)
            {
                var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
                var end = Math.Min(urls.Count, start + CheckBatchSize);
                for (var i = start; i < end; i++)
                {
                    request.Subjects.Add(new Pb.Subject { Url = urls[i] });
                }

                var response = await check.CheckBatchAsync(request, cancellationToken).ConfigureAwait(false);
                for (var i = start; i < end; i++)
                {
                    var url = urls[i];
                    var live = response.Results[i - start].Verdict;
                    var offline = ProtoConvert.ToProto(rebuilt.CheckUrl(url, UsageCategory.TrainAi));
                    if (live != offline)
                    {
                        report.Fail($"verdict for {url}: the live matcher says {live}, a matcher rebuilt from the store says {offline}");
                    }
                    else if (live != expected[url])
                    {
                        report.Fail($"verdict for {url}: {live}, but the acknowledged writes imply {expected[url]}");
                    }
                }

                lock (report)
                {
                    report.VerdictsCompared += end - start;
                }
            }
        }
        finally
        {
            File.Delete(snapshotPath);
        }
    }

    /// <summary>The matcher replays the log after a restart; wait until it has caught up with <paramref name="sequence"/>.</summary>
    private async Task WaitForMatcherAsync(CheckClient check, long sequence, CancellationToken cancellationToken)
    {
        var probe = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
        probe.Subjects.Add(new Pb.Subject { Url = "https://crash.example/probe" });
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            var response = await check.CheckBatchAsync(probe, cancellationToken).ConfigureAwait(false);
            if (response.AsOfSequence >= sequence)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                report.Fail($"the restarted server's matcher stayed at sequence {response.AsOfSequence}, the log ends at {sequence}");
                return;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Same reservation, ignoring the fields a state change rewrites (state, state_changed_at).</summary>
    private static bool SameContent(Pb.Reservation stored, Pb.Reservation created)
    {
        var a = stored.Clone();
        var b = created.Clone();
        a.State = b.State = Pb.ReservationState.Active;
        a.StateChangedAt = b.StateChangedAt = null;
        return a.Equals(b);
    }

    private static Task ForEachAsync<T>(IEnumerable<T> items, Func<T, CancellationToken, Task> body, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken },
            async (item, ct) => await body(item, ct).ConfigureAwait(false));
}
