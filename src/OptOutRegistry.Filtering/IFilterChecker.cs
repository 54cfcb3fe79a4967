using System.Runtime.CompilerServices;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Snapshots;

namespace OptOutRegistry.Filtering;

/// <summary>What the filter checks records against: a snapshot in process, or a server over the Check stream.</summary>
public interface IFilterChecker
{
    /// <summary>The registry state answers come from (for the audit report).</summary>
    RegistryState State { get; }

    /// <summary>How many batches the pipeline should check at once (cores for in-process, more for a server).</summary>
    int Concurrency { get; }

    /// <summary>
    /// Checks every subject of <paramref name="batch"/>: sets a verdict or an error for each, and the deciding matches
    /// of disallowed subjects. Called concurrently from several pipeline workers, each with its own batch.
    /// </summary>
    ValueTask CheckAsync(FilterCheckBatch batch, CancellationToken cancellationToken);
}

/// <summary>A deciding disallow match of one subject: who removed it and with which kind of selector.</summary>
/// <param name="Subject">Index of the subject in its batch.</param>
/// <param name="HolderId">The holder.</param>
/// <param name="HolderName">Its public display name, if any.</param>
/// <param name="Kind">Kind of the selector that matched.</param>
public readonly record struct FilterMatch(int Subject, string HolderId, string? HolderName, SelectorKind Kind);

/// <summary>
/// The subjects of one pipeline batch (URLs, SHA-256 digests, ISCC codes) with their answers. Subjects are kept as
/// characters in one arena so the in-process path checks URLs without allocating a string per record.
/// </summary>
public sealed class FilterCheckBatch
{
    private SubjectKind[] _kinds = new SubjectKind[1024];
    private int[] _start = new int[1024];
    private int[] _length = new int[1024];
    private Verdict[] _verdicts = new Verdict[1024];
    private string?[] _errors = new string?[1024];
    private char[] _chars = new char[64 * 1024];
    private int _charsUsed;

    /// <summary>The intended use checked.</summary>
    public UsageCategory Purpose { get; internal set; }

    /// <summary>The instant to answer for; null for now.</summary>
    public DateTimeOffset? AsOf { get; internal set; }

    /// <summary>Number of subjects.</summary>
    public int Count { get; private set; }

    /// <summary>Deciding disallow matches, in subject order.</summary>
    public List<FilterMatch> Matches { get; } = [];

    /// <summary>The kind of subject <paramref name="index"/>.</summary>
    public SubjectKind Kind(int index) => _kinds[index];

    /// <summary>The text of subject <paramref name="index"/> (valid until the batch is cleared).</summary>
    public ReadOnlySpan<char> Subject(int index) => _chars.AsSpan(_start[index], _length[index]);

    /// <summary>The verdict of subject <paramref name="index"/>.</summary>
    public Verdict Verdict(int index) => _verdicts[index];

    /// <summary>Why subject <paramref name="index"/> could not be checked, or null.</summary>
    public string? Error(int index) => _errors[index];

    /// <summary>Sets the verdict of subject <paramref name="index"/>.</summary>
    public void SetVerdict(int index, Verdict verdict) => _verdicts[index] = verdict;

    /// <summary>Marks subject <paramref name="index"/> as uncheckable (its verdict stays unknown).</summary>
    public void SetError(int index, string error)
    {
        _errors[index] = error;
        _verdicts[index] = Core.Model.Verdict.Unknown;
    }

    /// <summary>Adds a subject given as text; returns its index.</summary>
    public int Add(SubjectKind kind, ReadOnlySpan<char> subject)
    {
        var span = Reserve(subject.Length);
        subject.CopyTo(span);
        return Commit(kind, subject.Length);
    }

    /// <summary>Room for a subject of up to <paramref name="maxChars"/> characters, to be committed by <see cref="Commit"/>.</summary>
    internal Span<char> Reserve(int maxChars)
    {
        if (_charsUsed + maxChars > _chars.Length)
        {
            Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _charsUsed + maxChars));
        }

        return _chars.AsSpan(_charsUsed, maxChars);
    }

    /// <summary>Commits the last <see cref="Reserve"/>d subject with its actual length.</summary>
    internal int Commit(SubjectKind kind, int length)
    {
        if (Count == _kinds.Length)
        {
            var n = Count * 2;
            Array.Resize(ref _kinds, n);
            Array.Resize(ref _start, n);
            Array.Resize(ref _length, n);
            Array.Resize(ref _verdicts, n);
            Array.Resize(ref _errors, n);
        }

        _kinds[Count] = kind;
        _start[Count] = _charsUsed;
        _length[Count] = length;
        _verdicts[Count] = Core.Model.Verdict.Unknown;
        _errors[Count] = null;
        _charsUsed += length;
        return Count++;
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear()
    {
        Count = 0;
        _charsUsed = 0;
        Matches.Clear();
    }
}

/// <summary>Checks against a signed snapshot file loaded into Core's matcher (offline, the default for big jobs).</summary>
public sealed class SnapshotFilterChecker : IFilterChecker
{
    private readonly RegistryMirror _mirror;

    /// <summary>Wraps a loaded snapshot.</summary>
    public SnapshotFilterChecker(OfflineChecker checker, string location, string? digestHex)
    {
        ArgumentNullException.ThrowIfNull(checker);
        _mirror = checker.Mirror;
        State = new RegistryState("snapshot", location, checker.AppliedSequence, checker.Header.CreatedAt, checker.KeyFingerprint, digestHex, null);
    }

    /// <summary>Loads and verifies a snapshot file (digest and signature; see docs/snapshot-format.md).</summary>
    /// <exception cref="SnapshotFormatException">Malformed, altered or badly signed.</exception>
    public static SnapshotFilterChecker Load(string path, string? publicKeyPem = null)
    {
        // OfflineChecker.Load reads the file once: the matcher is built while the digest is computed, and the
        // signature is checked before anything is returned.
        var checker = OfflineChecker.Load(path, publicKeyPem);
        return new SnapshotFilterChecker(checker, Path.GetFileName(path), checker.SnapshotDigest);
    }

    /// <summary>The matcher checks run on (current snapshot state).</summary>
    public MatcherIndex Matcher => _mirror.Matcher;

    /// <summary>Holder display name from the snapshot.</summary>
    public string? HolderName(string holderId) => _mirror.GetHolderName(holderId);

    /// <inheritdoc />
    public RegistryState State { get; }

    /// <inheritdoc />
    public int Concurrency => Environment.ProcessorCount;

    /// <summary>Checks one subject with provenance (no batch).</summary>
    public CheckResult Check(in CheckQuery query) => _mirror.Matcher.Check(query);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // per-subject loop: optimised from the first batch
    public ValueTask CheckAsync(FilterCheckBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var matcher = _mirror.Matcher;
        for (var i = 0; i < batch.Count; i++)
        {
            var kind = batch.Kind(i);
            if (kind == SubjectKind.Url)
            {
                // The allocation-free path: canonicalise and match in one go; provenance only for removals (rare).
                if (!matcher.TryCheckUrl(batch.Subject(i), batch.Purpose, batch.AsOf, out var verdict, out var error))
                {
                    batch.SetError(i, "url: " + UrlErrors.Describe(error));
                    continue;
                }

                batch.SetVerdict(i, verdict);
                if (verdict == Verdict.Disallowed)
                {
                    AddMatches(batch, i, matcher.Check(CheckQuery.Url(batch.Subject(i).ToString(), batch.Purpose, batch.AsOf)));
                }

                continue;
            }

            CheckResult result;
            try
            {
                result = matcher.Check(new CheckQuery(kind, batch.Subject(i).ToString(), batch.Purpose, batch.AsOf));
            }
            catch (ModelValidationException ex)
            {
                batch.SetError(i, $"{kind.ToString().ToLowerInvariant()}: {ex.Reason}");
                continue;
            }

            batch.SetVerdict(i, result.Verdict);
            if (result.Verdict == Verdict.Disallowed)
            {
                AddMatches(batch, i, result);
            }
        }

        return ValueTask.CompletedTask;
    }

    private void AddMatches(FilterCheckBatch batch, int subject, CheckResult result)
    {
        foreach (var match in result.Matches)
        {
            // The deciding disallows are the provenance of a removal (the Check service reports the same set).
            if (match.IsDeciding && match.Permission == UsagePermission.Disallow)
            {
                batch.Matches.Add(new FilterMatch(subject, match.HolderId, _mirror.GetHolderName(match.HolderId), match.SelectorKind));
            }
        }
    }
}
