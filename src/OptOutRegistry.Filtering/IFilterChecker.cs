using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Matching;

namespace OptOutRegistry.Filtering;

/// <summary>What the filter checks records against.</summary>
public interface IFilterChecker
{
    /// <summary>The registry state answers come from (for the audit report).</summary>
    RegistryState State { get; }

    /// <summary>Checks one subject. Must be safe to call from several threads.</summary>
    CheckResult Check(in CheckQuery query);
}

/// <summary>Checks against a signed snapshot file loaded into Core's matcher (offline, the default for big jobs).</summary>
public sealed class SnapshotFilterChecker : IFilterChecker
{
    private readonly OfflineChecker _checker;

    /// <summary>Wraps a loaded snapshot.</summary>
    public SnapshotFilterChecker(OfflineChecker checker, string location, string? digestHex)
    {
        ArgumentNullException.ThrowIfNull(checker);
        _checker = checker;
        State = new RegistryState("snapshot", location, checker.AppliedSequence, checker.Header.CreatedAt, checker.KeyFingerprint, digestHex, null);
    }

    /// <summary>Loads and verifies a snapshot file (digest and signature; see docs/snapshot-format.md).</summary>
    /// <exception cref="OptOutRegistry.Snapshots.SnapshotFormatException">Malformed, altered or badly signed.</exception>
    public static SnapshotFilterChecker Load(string path, string? publicKeyPem = null)
    {
        var checker = OfflineChecker.Load(path, publicKeyPem);
        string? digest = null;
        using (var stream = File.OpenRead(path))
        using (var reader = OptOutRegistry.Snapshots.SnapshotReader.Open(stream))
        {
            while (reader.TryReadRecord(out _, out _))
            {
            }

            digest = reader.Footer is { } f ? Convert.ToHexStringLower(f.Digest) : null;
        }

        return new SnapshotFilterChecker(checker, Path.GetFileName(path), digest);
    }

    /// <summary>Holder display name from the snapshot.</summary>
    public string? HolderName(string holderId) => _checker.Mirror.GetHolderName(holderId);

    /// <inheritdoc />
    public RegistryState State { get; }

    /// <inheritdoc />
    public CheckResult Check(in CheckQuery query) => _checker.Check(query);
}
