using System.Collections.Concurrent;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Snapshots;

/// <summary>
/// A matcher kept current from the event log: the one code path shared by the server's matcher host (tailing its
/// store), a replica (following <c>Feed.WatchEvents</c>) and the SDK's offline checker (a snapshot file plus the
/// feed). Events are applied strictly in sequence: an event at or below <see cref="AppliedSequence"/> is a
/// duplicate and ignored, one beyond the next expected sequence is a gap and refused, so a follower that reconnects
/// from <c>AppliedSequence + 1</c> can never skip or double-apply a change.
/// Reads (<see cref="Matcher"/>) never wait for writers: Core's matcher is read lock-free.
/// </summary>
public sealed class RegistryMirror
{
    // The smallest reservation record Core accepts is ~30 bytes (prefix, id, holder, registration time, one statement, one
    // selector): a file of n bytes holds at most n / 24 of them.
    private const int MinRecordBytes = 24;

    // A stream of unknown length: size for up to ~1 M reservations; the tables grow beyond that as the build goes.
    private const long UnknownLengthBytes = MinRecordBytes << 20;

    private readonly ConcurrentDictionary<string, string> _holderNames = new(StringComparer.Ordinal);
    private readonly Lock _writeLock = new();
    private readonly MatcherOptions _options;
    private MatcherIndex _matcher;
    private long _appliedSequence = -1;
    private TaskCompletionSource _advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>An empty mirror (no events applied).</summary>
    public RegistryMirror(MatcherOptions? options = null)
    {
        _options = options ?? new MatcherOptions();
        _matcher = MatcherIndex.Build([], _options);
    }

    /// <summary>The current matcher. Replaced as a whole only when a snapshot is loaded.</summary>
    public MatcherIndex Matcher => Volatile.Read(ref _matcher);

    /// <summary>The options every matcher of this mirror is built with (also one built elsewhere for <see cref="Load"/>).</summary>
    public MatcherOptions Options => _options;

    /// <summary>The last event sequence applied; -1 before any.</summary>
    public long AppliedSequence => Interlocked.Read(ref _appliedSequence);

    /// <summary>Raised after each applied event (outside the write lock), with its sequence. For logging and tests.</summary>
    public event Action<long>? Applied;

    /// <summary>The public display name of a holder seen in a reservation, if any.</summary>
    public string? GetHolderName(string holderId) => _holderNames.TryGetValue(holderId, out var name) ? name : null;

    /// <summary>
    /// Replaces the whole state with a full snapshot's content. <paramref name="reader"/> must be positioned after the
    /// header; the digest is checked, the signature is the caller's business (<see cref="SnapshotReader.VerifySignature"/>
    /// after this returns, or <see cref="LoadSnapshot(SnapshotReader, ReadOnlySpan{byte})"/>).
    /// </summary>
    /// <exception cref="SnapshotFormatException">Not a full snapshot, a damaged record (named by its index and id) or a digest mismatch.</exception>
    public void LoadSnapshot(SnapshotReader reader)
    {
        var load = Build(reader);
        Load(load.Matcher, reader.Header.AsOfSequence, load.HolderNames);
    }

    /// <summary>
    /// As <see cref="LoadSnapshot(SnapshotReader)"/>, but the state is replaced only if the file's signature also verifies
    /// with <paramref name="publicKeySpki"/> (DER SubjectPublicKeyInfo; empty: the key embedded in the file, which proves
    /// integrity only). One pass over the file: a mirror that is serving (a replica) never sees an unverified snapshot,
    /// and the file is not read a second time to check it first.
    /// </summary>
    /// <exception cref="SnapshotFormatException">As <see cref="LoadSnapshot(SnapshotReader)"/>, or the signature does not verify; the state is then unchanged.</exception>
    public void LoadSnapshot(SnapshotReader reader, ReadOnlySpan<byte> publicKeySpki)
    {
        var load = Build(reader);
        if (!reader.VerifySignature(publicKeySpki))
        {
            throw new SnapshotFormatException($"snapshot: the signature does not verify with {(publicKeySpki.IsEmpty ? "the key in the file" : "the given public key")}");
        }

        Load(load.Matcher, reader.Header.AsOfSequence, load.HolderNames);
    }

    private ReservationBulkLoadResult Build(SnapshotReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (reader.Header.Kind != SnapshotKind.Full)
        {
            throw new SnapshotFormatException("snapshot: a delta cannot be loaded on its own; load a full snapshot first");
        }

        // The server's rebuild path (ReservationBulkLoad): one thread reads the records (the reader hashes them: the
        // format has one SHA-256 over the file, so reading stays sequential), the pool decodes chunks of them straight
        // from the bytes into prepared rows, and this thread inserts them into the tables in file order. Unlike the store
        // rebuild, which leaves a refused row out, a refused record fails the load: the file is signed as a whole.
        // Every reservation in the file was created by one event up to as_of_sequence, and most carry one selector: the
        // rebuild's estimate. (The file size alone was the estimate before; with work metadata a record is ~200 bytes,
        // not the ~50 of a bare URL reservation, and the tables were sized 4x too large.) The header is not trusted
        // before the digest: the estimate is capped by what the bytes can hold, so a forged as_of_sequence cannot make
        // the load allocate tables for billions of selectors up front (found by the mutation test).
        var expected = Math.Min(Math.Max(0, reader.Header.AsOfSequence + 1), (reader.RemainingBytes ?? UnknownLengthBytes) / MinRecordBytes);
        var load = ReservationBulkLoad.Run(
            (sink, cancellationToken) =>
            {
                while (reader.TryReadRecord(out _, out var payload))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    sink.Add(payload.Span);
                }
            },
            _options with { ExpectedSelectors = expected },
            static (index, id, reason) => throw new SnapshotFormatException(
                $"snapshot: record {index}{(id.Length > 0 ? $" ({id})" : string.Empty)}: {reason}"));

        if (!reader.DigestMatches)
        {
            throw new SnapshotFormatException("snapshot: digest mismatch: the file was altered or damaged");
        }

        return load;
    }

    /// <summary>
    /// Replaces the whole state with a matcher built elsewhere from the registry as of <paramref name="asOfSequence"/>
    /// (a snapshot's content, or the server's compact rebuild from its store's reservation rows), then continues from
    /// <c>asOfSequence + 1</c>.
    /// </summary>
    public void Load(MatcherIndex matcher, long asOfSequence, IEnumerable<KeyValuePair<string, string>> holderNames)
    {
        ArgumentNullException.ThrowIfNull(matcher);
        ArgumentNullException.ThrowIfNull(holderNames);
        lock (_writeLock)
        {
            foreach (var (holder, name) in holderNames)
            {
                _holderNames[holder] = name;
            }

            Volatile.Write(ref _matcher, matcher);
            Interlocked.Exchange(ref _appliedSequence, asOfSequence);
        }

        Signal();
    }

    /// <summary>
    /// Applies one event. Returns false (and changes nothing) for a duplicate, i.e. a sequence already applied.
    /// </summary>
    /// <exception cref="InvalidOperationException">The event's sequence leaves a gap after <see cref="AppliedSequence"/>.</exception>
    /// <exception cref="ModelValidationException">The event carries an invalid reservation.</exception>
    public bool Apply(Pb.Event @event, DateTimeOffset fallbackTime = default)
    {
        ArgumentNullException.ThrowIfNull(@event);
        lock (_writeLock)
        {
            var applied = _appliedSequence;
            if (@event.Sequence <= applied)
            {
                return false;
            }

            if (@event.Sequence != applied + 1)
            {
                throw new InvalidOperationException($"event {@event.Sequence} arrived after {applied}: events {applied + 1}..{@event.Sequence - 1} are missing");
            }

            var change = ProtoConvert.ToChange(@event, fallbackTime);
            if (change is not null)
            {
                if (change.Reservation is { } added && @event.ReservationCreated is { HolderName.Length: > 0 } created)
                {
                    _holderNames[added.HolderId] = created.HolderName;
                }

                ApplyChange(change);
            }

            Interlocked.Exchange(ref _appliedSequence, @event.Sequence);
        }

        Applied?.Invoke(@event.Sequence);
        Signal();
        return true;
    }

    /// <summary>Marks a sequence as applied without a change (an event that could not be decoded is skipped, and logged by the caller).</summary>
    public void Skip(long sequence)
    {
        lock (_writeLock)
        {
            if (sequence != _appliedSequence + 1)
            {
                throw new InvalidOperationException($"cannot skip {sequence} after {_appliedSequence}");
            }

            Interlocked.Exchange(ref _appliedSequence, sequence);
        }

        Signal();
    }

    /// <summary>Completes when <see cref="AppliedSequence"/> reaches <paramref name="sequence"/>.</summary>
    public async Task WaitForSequenceAsync(long sequence, CancellationToken cancellationToken)
    {
        while (AppliedSequence < sequence)
        {
            var advanced = Volatile.Read(ref _advanced).Task;
            if (AppliedSequence >= sequence)
            {
                return;
            }

            await advanced.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void ApplyChange(ReservationChange change)
    {
        try
        {
            _matcher.Apply(change);
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or ModelValidationException &&
                                   change.Kind != ReservationChangeKind.Add)
        {
            // A revocation of a reservation the matcher no longer holds as active (e.g. replayed history) changes nothing.
        }
    }

    private void Signal()
    {
        var previous = Interlocked.Exchange(ref _advanced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }
}
