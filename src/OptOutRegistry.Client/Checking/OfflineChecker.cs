using System.Security.Cryptography;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>
/// Checks without the network: loads a signed snapshot file (docs/snapshot-format.md) into Core's matcher, and can
/// keep itself current by following the registry's feed (<see cref="FollowAsync"/>) or applying delta files
/// (<see cref="ApplyDelta"/>). Thread-safe: checks run concurrently with updates.
/// </summary>
public sealed class OfflineChecker : IUrlChecker
{
    private OfflineChecker(RegistryMirror mirror, SnapshotHeader header, SnapshotFooter footer)
    {
        Mirror = mirror;
        Header = header;
        KeyFingerprint = footer.KeyFingerprint;
        SnapshotDigest = Convert.ToHexStringLower(footer.Digest);
    }

    /// <summary>The matcher and its applied sequence.</summary>
    public RegistryMirror Mirror { get; }

    /// <summary>The header of the snapshot loaded.</summary>
    public SnapshotHeader Header { get; }

    /// <summary>Fingerprint of the key that signed the snapshot.</summary>
    public string KeyFingerprint { get; }

    /// <summary>The snapshot file's SHA-256 digest as its footer records it (verified), lower-case hex.</summary>
    public string SnapshotDigest { get; }

    /// <summary>The last event sequence the checker reflects.</summary>
    public long AppliedSequence => Mirror.AppliedSequence;

    /// <summary>
    /// Loads a snapshot. With <paramref name="publicKeyPem"/> (the registry's key, from <c>Feed.GetPublicKey</c> or its
    /// published PEM) the signature must verify with it; without, the key embedded in the file is used and the caller
    /// should compare <see cref="KeyFingerprint"/> with the registry's published fingerprint.
    /// </summary>
    /// <exception cref="SnapshotFormatException">Malformed, truncated, altered, or not signed by the given key.</exception>
    public static OfflineChecker Load(string path, string? publicKeyPem = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var spki = PublicKeySpki(publicKeyPem);

        // One pass over the file: the mirror decodes the records while the reader hashes them, and the signature is
        // checked over that digest afterwards. Nothing escapes before it verifies: the mirror is this call's own and is
        // dropped with the exception (a bad file costs a decode instead of a second read of a good one).
        var mirror = new RegistryMirror();
        using var reader = SnapshotReader.Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20));
        mirror.LoadSnapshot(reader);
        if (!reader.VerifySignature(spki))
        {
            throw new SnapshotFormatException($"snapshot: {path}: the signature does not verify{(publicKeyPem is null ? string.Empty : " with the given public key")}");
        }

        return new OfflineChecker(mirror, reader.Header, reader.Footer!);
    }

    /// <summary>The DER SubjectPublicKeyInfo of a PEM public key; empty (use the key embedded in the file) for null.</summary>
    private static byte[] PublicKeySpki(string? publicKeyPem)
    {
        if (publicKeyPem is null)
        {
            return [];
        }

        using var key = ECDsa.Create();
        key.ImportFromPem(publicKeyPem);
        return key.ExportSubjectPublicKeyInfo();
    }

    /// <summary>Checks a URL: the verdict only, allocation-free.</summary>
    public Verdict CheckUrl(string url, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        Mirror.Matcher.TryCheckUrl(url, purpose, asOf, out var verdict, out _);
        return verdict;
    }

    /// <summary>A full check with provenance.</summary>
    public CheckResult Check(in CheckQuery query) => Mirror.Matcher.Check(query);

    /// <inheritdoc />
    public ValueTask<Pb.CheckResult> CheckUrlAsync(string url, Pb.UsageCategory purpose, CancellationToken cancellationToken = default)
    {
        var result = new Pb.CheckResult();
        try
        {
            var core = Mirror.Matcher.Check(CheckQuery.Url(url, ProtoConvert.ToCore(purpose)));
            result.Verdict = ProtoConvert.ToProto(core.Verdict);
            foreach (var match in core.Matches)
            {
                if (match.IsDeciding && match.Permission.ToVerdict() == core.Verdict)
                {
                    result.Matches.Add(ProtoConvert.ToProto(match, Mirror.GetHolderName(match.HolderId)));
                }
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            result.Verdict = Pb.Verdict.Unknown;
            result.Error = "url: " + ex.Message;
        }

        return ValueTask.FromResult(result);
    }

    /// <summary>Applies a delta file (its <c>since_sequence</c> must not be beyond what is applied).</summary>
    public void ApplyDelta(string path, string? publicKeyPem = null)
    {
        using var reader = SnapshotReader.Open(File.OpenRead(path));
        if (reader.Header.Kind != SnapshotKind.Delta)
        {
            throw new SnapshotFormatException("snapshot: not a delta");
        }

        if (reader.Header.SinceSequence > AppliedSequence)
        {
            throw new SnapshotFormatException($"snapshot: the delta starts after {reader.Header.SinceSequence}, this checker is at {AppliedSequence}");
        }

        var events = new List<Pb.Event>();
        while (reader.TryReadRecord(out _, out var payload))
        {
            events.Add(Pb.Event.Parser.ParseFrom(payload.Span));
        }

        if (!reader.VerifySignature(PublicKeySpki(publicKeyPem)))
        {
            throw new SnapshotFormatException($"snapshot: {path}: the signature does not verify");
        }

        foreach (var e in events)
        {
            Mirror.Apply(e);
        }
    }

    /// <summary>
    /// Follows the feed from the applied sequence + 1 until cancelled, reconnecting after failures (from the last applied
    /// sequence + 1, so nothing is skipped or applied twice).
    /// </summary>
    public async Task FollowAsync(FeedClient feed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(feed);
        var delay = 100;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var e in feed.WatchEventsAsync(AppliedSequence + 1, cancellationToken: cancellationToken).ConfigureAwait(false))
                {
                    Mirror.Apply(e);
                    delay = 100;
                }
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 5000);
            }
            catch (Grpc.RpcException) when (cancellationToken.IsCancellationRequested)
            {
                // The call ended because the caller cancelled: report it as cancellation, not as a failure.
                break;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }
}
