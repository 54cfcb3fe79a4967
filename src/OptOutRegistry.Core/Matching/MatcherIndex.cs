using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Matching.Internal;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Matching;

/// <summary>
/// The in-memory matcher (DESIGN.md "Serving checks fast"): answers (subject, purpose, as-of) for URLs, hosts,
/// SHA-256 digests, standard identifiers and ISCC codes, with provenance on demand.
/// <para><b>Check path (URLs).</b> The raw URL is canonicalised into a stack buffer
/// (<see cref="UrlCanonicalizer.TryWriteMatchKey"/>). The host's label suffixes (<c>a.b.example.com</c>,
/// <c>b.example.com</c>, <c>example.com</c>, <c>com</c>) are hashed in one backward pass and screened by a Bloom filter
/// (<c>HostFilter</c>, 10 bits per host, on one huge page at 10 M selectors) that rejects most suffixes without touching
/// the host table; most hosts have no rules and the check ends there. No Public Suffix List lookup happens on this path
/// (domain selectors were validated when registered). For a full host that passes, its host slot and its exact-URL
/// bucket are prefetched at once. Then:
/// an exact-URL hit whose reservation disallows the purpose decides the check (nothing outranks it: within a holder the
/// exact URL is the most specific selector, across holders the most restrictive verdict wins), from validity and
/// statements stored inline in the URL slot, without the reservation record; otherwise the host and domain rules of
/// each suffix, the exact-URL hits and the host's prefix/pattern rules (screened by their literal heads, prefetched as
/// soon as the host slot is read) are combined. The host slot also holds a screen of its prefix/pattern rules
/// (<c>PathScreen</c>: one necessary condition per rule — a literal prefix or a whole segment the path must have — in a
/// 96-bit Bloom filter), so a path that no rule of the host can match is decided without reading the rules. So a covered
/// check waits for about one cache miss, and so does an uncovered check on a host with rules (round three: two; round two:
/// two to four). <see cref="CheckUrls"/> runs the same stages over a
/// batch as a software pipeline, so the misses of several URLs overlap.</para>
/// <para><b>Layout</b>: key hashes (64-bit, <c>KeyHasher</c>) in open-addressing tables of 16-byte slots (host slots: 32) probed from
/// cache-line buckets of four (a lookup reads one line unless its bucket is full); the URL table at load ≤ 0.6 (its
/// lookups are mostly unsuccessful), the others ≤ 0.7–0.8. A URL/content slot holds a reservation index (30 bits)
/// with flags (bit 31 host verified, bit 30 any-query) and 32 bits of inline verdict data for URLs; a host slot
/// (<c>HostTable</c>, 32 bytes) holds the host's record itself: the heads of its linked lists of 32-byte prefix/pattern
/// rules and 12-byte host/domain rules, a "has url selectors" bit and the path screen. Reservations are 32-byte structs (validity interval in UTC
/// ticks, packed statements, holder and policy indices, id in a byte arena). No key strings are stored for URL,
/// host, SHA-256 or identifier selectors. The big tables are pinned, line-aligned and advised for transparent huge
/// pages (<c>LargePages</c>): under a hypervisor a TLB miss costs about as much as the cache miss.</para>
/// <para><b>Hash collisions.</b> A 64-bit key hash is compared, not the key. Two different keys collide with
/// probability 2⁻⁶⁴; a query that is not covered is reported covered when its hash equals one of the n indexed
/// hashes: about n / 2⁶⁴ per check, 5 × 10⁻¹² at 100 million selectors, i.e. one false hit in 2 × 10¹¹ checks.
/// The rate is accepted and documented rather than paying for stored keys (60+ bytes per URL). Reservation ids
/// are verified against their stored bytes.</para>
/// <para><b>Concurrency.</b> One writer at a time (<see cref="Apply"/> takes a private lock), any number of
/// readers that take no lock and allocate nothing: writers fully write an entry before publishing it with a
/// release write, grow arrays by copy-and-publish, and change a reservation's end instant with one atomic 64-bit
/// write after setting its bit in the ended set (<c>EndedSet</c>), which is what makes the inline verdict data of its
/// URL slots fall back to the record. A write is visible to every check that starts after <see cref="Apply"/> returns (well inside the
/// 100 ms budget); table growth, the only slow write, runs on the writer without blocking readers.</para>
/// <para><b>History.</b> Nothing is removed: superseded and revoked reservations keep their entries with the
/// instant of the change, so as-of checks before it still see them.</para>
/// </summary>
public sealed class MatcherIndex
{
    private const uint VerifiedBit = 1u << 31;
    private const uint AnyQueryBit = 1u << 30;
    private const uint ReservationMask = AnyQueryBit - 1;
    private const int StackKeyLength = 1024;

    // A percent-encoded non-ASCII character takes up to 9 characters (%XX × 3 bytes of UTF-8), so this bounds the
    // match key of any URL the canonicaliser accepts.
    private const int MaxKeyLength = (UrlCanonicalizer.MaxUrlLength * 9) + 256;

    // Specificity ranks (DESIGN.md: exact url > longest prefix/pattern > host > domain); the low 20 bits hold a
    // length (pattern or host length) so that longer wins within a rank.
    private const int RankDomain = 1;
    private const int RankHost = 2;
    private const int RankPath = 3;
    private const int RankUrlAnyQuery = 4;
    private const int RankUrl = 5;
    private const int RankContent = 6;

    /// <summary>
    /// 2000-01-01T00:00Z in ticks: day 0 of the "in force from" day stored inline in URL slots (see <see cref="InlineData"/>).
    /// </summary>
    private const long InlineEpochTicks = 630_822_816_000_000_000;

    private readonly object _writeLock = new();
    private readonly TimeProvider _time;
    private readonly HostTable _hosts;
    private readonly HostFilter _hostFilter;
    private readonly KeyTable _urls;
    private readonly KeyTable _sha256;
    private readonly KeyTable _identifiers;
    private readonly KeyTable _ids;
    private readonly IsccIndex _iscc;
    private readonly AppendArray<ReservationRecord> _reservations;
    private AppendArray<PathRule> _pathRules;
    private AppendArray<HostRule> _hostRules;
    private readonly AppendArray<string?> _holders = new(64);
    private readonly AppendArray<string?> _policies = new(64);
    private readonly Dictionary<string, int> _holderIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _policyIndex = new(StringComparer.Ordinal);
    private readonly ByteArena _arena = new();
    private ByteArena _paths = new();
    private readonly long[] _selectorCounts = new long[SelectorKinds.Count];
    private readonly EndedSet _ended = new();

    /// <summary>An empty index.</summary>
    public MatcherIndex(MatcherOptions? options = null)
    {
        options ??= new MatcherOptions();
        _time = options.TimeProvider;
        var expected = Math.Max(16, options.ExpectedSelectors);
        // Load 0.6: every uncovered URL on a host with url selectors is an unsuccessful probe here; at 0.6 it reads 1.5 cache
        // lines on average instead of 3.7 at 0.8 (KeyTable), for ~5 B per selector more.
        _urls = new KeyTable(expected * 7 / 10, maxLoadPercent: 60);
        _hosts = new HostTable(expected / 8);
        _hostFilter = new HostFilter(expected / 8);
        _sha256 = new KeyTable(16);
        _identifiers = new KeyTable(16);
        _ids = new KeyTable(expected / 4);
        _iscc = new IsccIndex(options.IsccMaxDistance);
        _reservations = new AppendArray<ReservationRecord>((int)Math.Min(expected / 4, Array.MaxLength));
        _pathRules = new AppendArray<PathRule>((int)Math.Min(expected / 8, Array.MaxLength));
        _hostRules = new AppendArray<HostRule>((int)Math.Min(expected / 8, Array.MaxLength));
        _policies.Add(null);
        IsccMaxDistance = options.IsccMaxDistance;
    }

    /// <summary>
    /// The clock that "now" (an as-of of null) is read from. A caller answering many subjects at once (a batch) reads
    /// it once and passes the instant, so the whole batch is answered as of one instant and the clock is not read per
    /// subject.
    /// </summary>
    public TimeProvider TimeProvider => _time;

    /// <summary>The ISCC Hamming threshold in use.</summary>
    public int IsccMaxDistance { get; }

    /// <summary>Number of reservations indexed (all states).</summary>
    public int ReservationCount => _reservations.Count;

    /// <summary>Number of selectors indexed (all states).</summary>
    public long SelectorCount
    {
        get
        {
            long sum = 0;
            foreach (var c in _selectorCounts)
            {
                sum += Volatile.Read(ref Unsafe.AsRef(in c));
            }

            return sum;
        }
    }

    /// <summary>Builds an index from a stream of reservations (e.g. the store at start), in any state.</summary>
    /// <exception cref="ModelValidationException">Two reservations share an id.</exception>
    public static MatcherIndex Build(IEnumerable<Reservation> reservations, MatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reservations);
        var index = new MatcherIndex(options);
        lock (index._writeLock)
        {
            foreach (var r in reservations)
            {
                index.AddReservation(r);
            }

            index.CompactRules();
        }

        return index;
    }

    /// <summary>
    /// Applies one write. Writers are serialised; readers are never blocked. Supersede and revoke keep the old
    /// reservation with the instant of the change.
    /// </summary>
    /// <exception cref="ModelValidationException">Unknown or already-ended reservation id, duplicate id, or an instant before registration.</exception>
    public void Apply(ReservationChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_writeLock)
        {
            switch (change.Kind)
            {
                case ReservationChangeKind.Add:
                    AddReservation(change.Reservation!);
                    break;
                case ReservationChangeKind.Supersede:
                    // Validate the replacement before ending the old one, so a bad change alters nothing.
                    EnsureNewId(change.Reservation!.Id);
                    End(change.ReservationId!, change.At!.Value, ReservationState.Superseded);
                    AddReservation(change.Reservation!);
                    break;
                case ReservationChangeKind.Revoke:
                    End(change.ReservationId!, change.At!.Value, ReservationState.Revoked);
                    break;
                default:
                    throw new ModelValidationException("kind", $"unknown change kind {(int)change.Kind}");
            }
        }
    }

    /// <summary>
    /// The zero-allocation fast path: raw URL string → verdict. Throws <see cref="UrlFormatException"/> for a URL
    /// that cannot be canonicalised; use <see cref="TryCheckUrl"/> to get the error as a value.
    /// </summary>
    public Verdict CheckUrl(ReadOnlySpan<char> url, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        if (!TryCheckUrl(url, purpose, asOf, out var verdict, out var error))
        {
            ThrowUrlError(error);
        }

        return verdict;
    }

    /// <summary>
    /// Raw URL string → verdict without allocating or throwing. Returns false with the reason when the URL cannot
    /// be canonicalised (the verdict is then <see cref="Verdict.Unknown"/>).
    /// </summary>
    [SkipLocalsInit]
    public bool TryCheckUrl(ReadOnlySpan<char> url, UsageCategory purpose, DateTimeOffset? asOf, out Verdict verdict, out UrlError error)
    {
        Span<char> buffer = stackalloc char[StackKeyLength];
        char[]? rented = null;
        if (!UrlCanonicalizer.TryWriteMatchKey(url, buffer, out var written, out var parts, out error))
        {
            if (error != UrlError.DestinationTooSmall
                || !TryCanonicalizeLong(url, ref rented, out buffer, out written, out parts, out error))
            {
                verdict = Verdict.Unknown;
                return false;
            }
        }

        // The same three stages as CheckUrls, back to back: prefetch host and URL slots, let an exact-URL hit decide
        // or prefetch the rules and record, match.
        var t = Ticks(asOf);
        var p = default(PendingUrl);
        PrepareKey(buffer, written, parts, ref p);
        verdict = Advance(buffer, ref p, purpose, t) ? Verdict.Disallowed
            : p.State == PendingUrl.Done ? Verdict.Unknown
            : MatchPrepared(buffer, ref p, purpose, t);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return true;
    }

    /// <summary>
    /// Checks many raw URLs at once — the batch form of <see cref="TryCheckUrl"/> for callers with a queue of URLs
    /// (a crawler's frontier, the Check service's 1,000-URL batches): <paramref name="verdicts"/>[i] and
    /// <paramref name="errors"/>[i] answer <paramref name="urls"/>[i]; a null entry is skipped (left Unknown with
    /// <see cref="UrlError.None"/>, for callers that mix URLs with other subjects); a URL that cannot be
    /// canonicalised gets <see cref="Verdict.Unknown"/> and its reason. Same answers as one <see cref="TryCheckUrl"/>
    /// per URL, all as of one instant (<paramref name="asOf"/>, or the clock read once), without allocating.
    /// <para>Why it is faster: a single check waits for its cache misses one after another (host and URL slots, then
    /// the host's rules). Here the URLs go through a short software pipeline: URL i is canonicalised (its string was
    /// prefetched <see cref="PipelineDepth"/> URLs earlier), its host suffixes hashed and filtered, and the host and URL
    /// slots it will need prefetched; <see cref="MidDistance"/> URLs later its URL slot is read — an exact-URL hit that
    /// disallows ends the check there — or its rules and reservation record prefetched; <see cref="FinalDistance"/> URLs
    /// later it is matched from cache. The misses of several URLs overlap.</para>
    /// </summary>
    /// <exception cref="ArgumentException">The output spans are shorter than <paramref name="urls"/>.</exception>
    [SkipLocalsInit]
    public void CheckUrls(ReadOnlySpan<string?> urls, UsageCategory purpose, DateTimeOffset? asOf, Span<Verdict> verdicts, Span<UrlError> errors)
    {
        if (verdicts.Length < urls.Length || errors.Length < urls.Length)
        {
            throw new ArgumentException($"verdicts and errors need room for {urls.Length} answers; got {verdicts.Length} and {errors.Length}.", nameof(verdicts));
        }

        var t = Ticks(asOf);
        Span<char> ring = stackalloc char[PipelineDepth * StackKeyLength];
        Span<PendingUrl> pending = stackalloc PendingUrl[PipelineDepth];
        var n = urls.Length;
        for (var i = 0; i < n + FinalDistance; i++)
        {
            if (i < n)
            {
                var ahead = i + PipelineDepth;
                if (ahead < n && urls[ahead] is { } next)
                {
                    // The URL strings of a batch are scattered over the heap: load the one canonicalised
                    // PipelineDepth steps from now (its first two lines cover a typical URL).
                    ref var first = ref MemoryMarshal.GetReference(next.AsSpan());
                    CacheHint.Prefetch(ref first);
                    if (next.Length > 32)
                    {
                        CacheHint.Prefetch(ref Unsafe.Add(ref first, 32));
                    }
                }

                ref var p = ref pending[i % PipelineDepth];
                var key = ring.Slice((i % PipelineDepth) * StackKeyLength, StackKeyLength);
                PrepareUrl(urls[i], key, t, purpose, ref p, out verdicts[i], out errors[i]);
            }

            var mid = i - MidDistance;
            if ((uint)mid < (uint)n && Advance(ring.Slice((mid % PipelineDepth) * StackKeyLength, StackKeyLength), ref pending[mid % PipelineDepth], purpose, t))
            {
                verdicts[mid] = Verdict.Disallowed;
            }

            var final = i - FinalDistance;
            if ((uint)final < (uint)n)
            {
                ref var p = ref pending[final % PipelineDepth];
                if (p.State != PendingUrl.Done)
                {
                    verdicts[final] = MatchPrepared(ring.Slice((final % PipelineDepth) * StackKeyLength, StackKeyLength), ref p, purpose, t);
                }
            }
        }
    }

    private const int PipelineDepth = 8;

    /// <summary>URLs between a URL's first stage (canonicalise, hash, prefetch slots) and its second (read slots, prefetch rules).</summary>
    private const int MidDistance = 3;

    /// <summary>URLs between a URL's first stage and its match.</summary>
    private const int FinalDistance = PipelineDepth - 1;

    /// <summary>Stage 1 of <see cref="CheckUrls"/>: canonicalise, walk the host suffixes once, prefetch what the match will read.</summary>
    private void PrepareUrl(string? url, Span<char> key, long t, UsageCategory purpose, ref PendingUrl p, out Verdict verdict, out UrlError error)
    {
        verdict = Verdict.Unknown;
        error = UrlError.None;
        p.State = PendingUrl.Done;
        if (url is null)
        {
            return;
        }

        if (!UrlCanonicalizer.TryWriteMatchKey(url, key, out var written, out var parts, out error))
        {
            if (error == UrlError.DestinationTooSmall)
            {
                // Rare (a key over 1,024 characters): checked on its own, outside the pipeline.
                TryCheckUrl(url, purpose, new DateTimeOffset(t, TimeSpan.Zero), out verdict, out error);
            }

            return;
        }

        PrepareKey(key, written, parts, ref p);
    }

    /// <summary>Stage 1 after canonicalisation: walk the host suffixes once, prefetch the slots the match will read.</summary>
    private void PrepareKey(Span<char> key, int written, MatchKeyParts parts, ref PendingUrl p)
    {
        p.Written = written;
        p.Parts = parts;
        if (parts.PortEnd > parts.HostLength)
        {
            // An explicit port: the plain path (rare for crawled URLs).
            p.State = PendingUrl.Plain;
            return;
        }

        // The suffix walk of MatchHostSuffixes, done once here: remember the suffixes the filter lets through.
        var host = key[..parts.HostLength];
        var slots = _hosts.Slots;
        var count = 0;
        var state = KeyHasher.HostStart;
        for (var i = host.Length - 1; i >= 0; i--)
        {
            state = KeyHasher.HostStep(state, host[i]);
            if (i != 0 && host[i - 1] != '.')
            {
                continue;
            }

            var hash = KeyHasher.HostFinish(state, host.Length - i);
            if (!_hostFilter.MayContain(hash))
            {
                continue;
            }

            if (count == PendingUrl.MaxSuffixes)
            {
                // A host with many labels that pass the filter: the plain path walks them again.
                p.State = PendingUrl.Plain;
                return;
            }

            p.Suffixes[count] = new PendingSuffix(hash, i);
            count++;
            HostTable.Prefetch(slots, hash);
        }

        p.SuffixCount = (byte)count;
        p.UrlHash = 0;
        p.UrlHashWithoutQuery = 0;
        p.PathScreen = PendingUrl.ScreenUnknown;
        if (count > 0 && p.Suffixes[count - 1].Start == 0)
        {
            // The full host may have URL rules: prefetch the exact-URL slots as well.
            var k = key[..written];
            p.UrlHash = KeyHasher.Hash(k);
            _urls.Prefetch(p.UrlHash);
            if (parts.QueryStart >= 0)
            {
                p.UrlHashWithoutQuery = KeyHasher.Hash(k[..parts.QueryStart]);
                _urls.Prefetch(p.UrlHashWithoutQuery);
            }
        }

        p.State = count == 0 ? PendingUrl.Done : PendingUrl.Pending;
    }

    /// <summary>
    /// Stage 2 of <see cref="CheckUrls"/>: the host and URL slots are (probably) in cache now. True when an exact-URL
    /// match disallows: that decides the check (see <see cref="DisallowedByExactUrl"/>). Otherwise screens the path
    /// against the host's rules (<see cref="PathScreen"/>, in the host slot) and prefetches the full host's first rule
    /// line only when the screen passes, and the reservation record of its first URL hit, for stage 3. When nothing
    /// can apply — no URL entry, the screen rejects the path, no host rules and no other suffix with rules — the check
    /// ends here (Unknown) without waiting for the rules: the uncovered URL on a registered host.
    /// </summary>
    private bool Advance(ReadOnlySpan<char> buffer, ref PendingUrl p, UsageCategory purpose, long t)
    {
        if (p.State != PendingUrl.Pending || p.UrlHash == 0)
        {
            return false;
        }

        if (DisallowedByExactUrl(p.UrlHash, purpose, t, out var first))
        {
            p.State = PendingUrl.Done;
            return true;
        }

        var slots = _hosts.Slots;
        var found = HostTable.Find(slots, p.Suffixes[p.SuffixCount - 1].Hash);
        if (found < 0)
        {
            return false;
        }

        ref var slot = ref slots[found];
        var paths = Volatile.Read(ref slot.Paths);
        var head = HostTable.PathHead(paths);
        var rules = head >= 0 && slot.MayMatchPath(buffer[p.Parts.PathStart..p.Written]);
        p.PathScreen = rules ? PendingUrl.ScreenPassed : PendingUrl.ScreenRejected;
        if (rules)
        {
            CacheHint.Prefetch(ref _pathRules.Items[head]);
        }

        var urls = first >= 0;
        if (urls)
        {
            CacheHint.Prefetch(ref _reservations.Items[first]);
        }
        else if ((paths & HostTable.HasUrls) != 0 && p.UrlHashWithoutQuery != 0)
        {
            urls = _urls.Find(p.UrlHashWithoutQuery).Next(out _);
        }

        if (!rules && !urls && p.SuffixCount == 1 && HostTable.HostHead(Volatile.Read(ref slot.Hosts)) < 0)
        {
            p.State = PendingUrl.Done;
        }

        return false;
    }

    /// <summary>
    /// Whether a url selector whose key is exactly this URL's (not an any-query one) is in force at
    /// <paramref name="t"/> and disallows <paramref name="purpose"/>. If so the verdict is Disallowed whatever else
    /// matches (DESIGN.md "The model"): within its holder nothing is more specific than the exact URL (ties go to the
    /// most restrictive), and across holders the most restrictive wins. The slot's inline data (<see cref="InlineData"/>)
    /// answers without reading the reservation record in the common case.
    /// </summary>
    private bool DisallowedByExactUrl(ulong urlHash, UsageCategory purpose, long t, out int first)
    {
        // first: the reservation of the first entry under the hash (any kind), -1 when there is none — the caller's
        // "does this URL have url selectors at all", without a second probe.
        first = -1;
        var cursor = _urls.Find(urlHash);
        while (cursor.Next(out var value, out var extra))
        {
            if (first < 0)
            {
                first = (int)(value & ReservationMask);
            }

            if ((value & AnyQueryBit) != 0)
            {
                continue;
            }

            var r = (int)(value & ReservationMask);
            ushort statements;
            if (InForceInline(r, extra, t))
            {
                statements = (ushort)extra;
            }
            else
            {
                ref var record = ref _reservations.Items[r];
                if (t < record.ValidFrom || t >= Volatile.Read(ref record.End))
                {
                    continue;
                }

                statements = record.Statements;
            }

            if (UsageStatements.ResolvePacked(statements, purpose, out _) == Verdict.Disallowed)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when the inline data of a URL slot alone shows reservation <paramref name="r"/> in force at
    /// <paramref name="t"/>: it was open-ended when indexed and has not been ended since (<see cref="EndedSet"/>), and
    /// <paramref name="t"/> is on or after the first whole day from its valid_from (a conservative bound: an instant
    /// within that day goes to the record, which decides exactly). False means "read the record", not "not in force".
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool InForceInline(int r, uint extra, long t) =>
        extra != 0 && t >= InlineEpochTicks + (((long)(extra >> 16) - 1) * TimeSpan.TicksPerDay) && !_ended.MaybeSet(r);

    /// <summary>
    /// The inline data stored with a url selector of reservation <paramref name="r"/> (writer): its packed statements
    /// (low 16 bits) and 1 + the number of whole days from <see cref="InlineEpochTicks"/> to the first midnight on or after its
    /// valid_from (high 16 bits, to 2179); 0 (none) when the reservation has an end instant already or lies outside
    /// that range. Statements and valid_from never change; the end instant is covered by <see cref="EndedSet"/>.
    /// </summary>
    private uint InlineData(int r)
    {
        ref var record = ref _reservations[r];
        if (record.End != long.MaxValue)
        {
            return 0;
        }

        var days = Math.Max(0, (record.ValidFrom - InlineEpochTicks + TimeSpan.TicksPerDay - 1) / TimeSpan.TicksPerDay);
        return days >= 0xFFFF ? 0 : ((uint)(days + 1) << 16) | record.Statements;
    }

    /// <summary>Stage 3 of <see cref="CheckUrls"/>: the match itself, as <see cref="MatchUrl"/> does it.</summary>
    private Verdict MatchPrepared(Span<char> buffer, ref PendingUrl p, UsageCategory purpose, long t)
    {
        var sink = default(VerdictAccumulator);
        var key = buffer[..p.Written];
        if (p.State == PendingUrl.Plain)
        {
            MatchUrl(key, p.Parts, purpose, t, ref sink);
            return sink.Complete();
        }

        var host = key[..p.Parts.HostLength];
        for (var s = 0; s < p.SuffixCount; s++)
        {
            var suffix = p.Suffixes[s];
            var authority = suffix.Start == 0;
            MatchHostSuffix(host, suffix.Start, suffix.Hash, key, authority, p.Parts, p.UrlHash, p.UrlHashWithoutQuery, purpose, t, ref sink, p.PathScreen);
        }

        return sink.Complete();
    }

    /// <summary>A host's verdict from host and domain selectors only (no path rules apply to a bare host).</summary>
    [SkipLocalsInit]
    public Verdict CheckHost(ReadOnlySpan<char> host, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        Span<char> buffer = stackalloc char[1024];
        if (!UrlCanonicalizer.TryNormalizeHost(host, buffer, out var written, out var error))
        {
            ThrowUrlError(error);
        }

        var sink = default(VerdictAccumulator);
        MatchHostSuffixes(buffer[..written], default, withAuthority: false, purpose, Ticks(asOf), ref sink);
        return sink.Complete();
    }

    /// <summary>Full check with provenance. Throws <see cref="ModelValidationException"/> (field <c>subject</c>) for an invalid subject.</summary>
    public CheckResult Check(in CheckQuery query)
    {
        if (query.Subject is null)
        {
            throw new ModelValidationException("subject", "is missing");
        }

        var t = Ticks(query.AsOf);
        var sink = new ProvenanceSink();
        switch (query.Kind)
        {
            case SubjectKind.Url:
            {
                var buffer = ArrayPool<char>.Shared.Rent(MaxKeyLength);
                try
                {
                    if (!UrlCanonicalizer.TryWriteMatchKey(query.Subject, buffer, out var written, out var parts, out var error))
                    {
                        throw new ModelValidationException("subject", $"'{Truncate(query.Subject)}' is not a checkable URL: {UrlErrors.Describe(error)}");
                    }

                    MatchUrl(buffer.AsSpan(0, written), parts, query.Purpose, t, ref sink);
                }
                finally
                {
                    ArrayPool<char>.Shared.Return(buffer);
                }

                break;
            }

            case SubjectKind.Host:
            {
                string host;
                try
                {
                    host = UrlCanonicalizer.NormalizeHost(query.Subject);
                }
                catch (UrlFormatException e)
                {
                    throw new ModelValidationException("subject", $"'{Truncate(query.Subject)}' is not a valid host: {e.Message}");
                }

                MatchHostSuffixes(host, default, withAuthority: false, query.Purpose, t, ref sink);
                break;
            }

            case SubjectKind.Sha256:
            {
                var selector = ParseSubject(SelectorKind.Sha256, query.Subject);
                MatchContentKey(_sha256, KeyHasher.HashDigest(selector.Sha256), SelectorKind.Sha256, selector.Text, query.Purpose, t, ref sink);
                break;
            }

            case SubjectKind.Identifier:
            {
                var selector = ParseSubject(SelectorKind.Identifier, query.Subject);
                MatchContentKey(_identifiers, KeyHasher.Hash(selector.Text), SelectorKind.Identifier, selector.Text, query.Purpose, t, ref sink);
                break;
            }

            case SubjectKind.Iscc:
            {
                var selector = ParseSubject(SelectorKind.Iscc, query.Subject);
                MatchIscc(selector.Iscc!, query.Purpose, t, ref sink);
                break;
            }

            default:
                throw new ModelValidationException("kind", $"unknown subject kind {(int)query.Kind}");
        }

        return BuildResult(sink.Candidates);
    }

    /// <summary>Verdict for content with this SHA-256 digest (32 bytes).</summary>
    public Verdict CheckSha256(ReadOnlySpan<byte> digest, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        if (digest.Length != 32)
        {
            throw new ModelValidationException("sha256", $"a SHA-256 digest is 32 bytes; got {digest.Length}");
        }

        var sink = default(VerdictAccumulator);
        MatchContentKey(_sha256, KeyHasher.HashDigest(digest), SelectorKind.Sha256, default, purpose, Ticks(asOf), ref sink);
        return sink.Complete();
    }

    /// <summary>Verdict for a work with this identifier.</summary>
    public Verdict CheckIdentifier(StandardIdentifier identifier, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        var sink = default(VerdictAccumulator);
        MatchContentKey(_identifiers, KeyHasher.Hash(identifier.ToString()), SelectorKind.Identifier, default, purpose, Ticks(asOf), ref sink);
        return sink.Complete();
    }

    /// <summary>Verdict for content with this ISCC: any comparable unit within the Hamming threshold (instance units: equal).</summary>
    public Verdict CheckIscc(IsccCode code, UsageCategory purpose, DateTimeOffset? asOf = null)
    {
        ArgumentNullException.ThrowIfNull(code);
        var sink = default(VerdictAccumulator);
        MatchIscc(code, purpose, Ticks(asOf), ref sink);
        return sink.Complete();
    }

    /// <summary>Sizes of the index, for the memory budget (bytes per selector).</summary>
    public MatcherStatistics GetStatistics()
    {
        lock (_writeLock)
        {
            long bytes = _ended.Bytes + _hosts.Bytes + _urls.Bytes + _sha256.Bytes + _identifiers.Bytes + _ids.Bytes + _iscc.Bytes + _arena.Bytes + _paths.Bytes + _hostFilter.Bytes;
            bytes += (long)_reservations.Capacity * Unsafe.SizeOf<ReservationRecord>();
            bytes += (long)_pathRules.Capacity * Unsafe.SizeOf<PathRule>();
            bytes += (long)_hostRules.Capacity * Unsafe.SizeOf<HostRule>();
            var counts = new Dictionary<SelectorKind, long>();
            for (var k = 0; k < _selectorCounts.Length; k++)
            {
                counts[(SelectorKind)k] = _selectorCounts[k];
            }

            return new MatcherStatistics(_reservations.Count, SelectorCount, _hosts.Count, counts, bytes);
        }
    }

    // ---------------------------------------------------------------- check internals

    private long Ticks(DateTimeOffset? asOf) => asOf?.UtcTicks ?? _time.GetUtcNow().UtcTicks;

    private static bool TryCanonicalizeLong(ReadOnlySpan<char> url, ref char[]? rented, out Span<char> buffer,
        out int written, out MatchKeyParts parts, out UrlError error)
    {
        // Rare: keys longer than the stack buffer (long or heavily percent-encoded URLs).
        rented = ArrayPool<char>.Shared.Rent(MaxKeyLength);
        buffer = rented;
        if (UrlCanonicalizer.TryWriteMatchKey(url, buffer, out written, out parts, out error))
        {
            return true;
        }

        ArrayPool<char>.Shared.Return(rented);
        rented = null;
        return false;
    }

    private void MatchUrl<TSink>(ReadOnlySpan<char> key, MatchKeyParts parts, UsageCategory purpose, long t, ref TSink sink)
        where TSink : struct, IMatchSink
    {
        var hostLength = parts.HostLength;
        if (parts.PortEnd > hostLength)
        {
            // An explicit (non-default) port: url/prefix/pattern rules live under "host:port".
            var slots = _hosts.Slots;
            var slot = HostTable.Find(slots, KeyHasher.HostHash(key[..parts.PortEnd]));
            if (slot >= 0)
            {
                MatchAuthority(key, parts, ref slots[slot], 0, 0, purpose, t, ref sink, PendingUrl.ScreenUnknown);
            }

            MatchHostSuffixes(key[..hostLength], default, withAuthority: false, purpose, t, ref sink);
        }
        else
        {
            MatchHostSuffixes(key[..hostLength], key, withAuthority: true, purpose, t, ref sink, parts);
        }
    }

    private void MatchHostSuffixes<TSink>(ReadOnlySpan<char> host, ReadOnlySpan<char> key, bool withAuthority,
        UsageCategory purpose, long t, ref TSink sink, MatchKeyParts parts = default)
        where TSink : struct, IMatchSink
    {
        // One backward pass: the hash state at each label boundary is the hash of that suffix.
        var state = KeyHasher.HostStart;
        for (var i = host.Length - 1; i >= 0; i--)
        {
            state = KeyHasher.HostStep(state, host[i]);
            if (i != 0 && host[i - 1] != '.')
            {
                continue;
            }

            var hash = KeyHasher.HostFinish(state, host.Length - i);
            if (!_hostFilter.MayContain(hash))
            {
                continue;
            }

            // The full host of a URL probably has rules (the filter said so): start loading its exact-URL slots
            // now, so that their misses overlap with the host slot's instead of following it.
            ulong urlHash = 0, urlHashWithoutQuery = 0;
            var authority = i == 0 && withAuthority;
            if (authority)
            {
                urlHash = KeyHasher.Hash(key);
                _urls.Prefetch(urlHash);
                if (parts.QueryStart >= 0)
                {
                    urlHashWithoutQuery = KeyHasher.Hash(key[..parts.QueryStart]);
                    _urls.Prefetch(urlHashWithoutQuery);
                }
            }

            MatchHostSuffix(host, i, hash, key, authority, parts, urlHash, urlHashWithoutQuery, purpose, t, ref sink, PendingUrl.ScreenUnknown);
        }
    }

    /// <summary>The rules of one label suffix <c>host[i..]</c> (hash <paramref name="hash"/>), and with
    /// <paramref name="authority"/> (the full host of a URL without a port) the URL and path rules too.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MatchHostSuffix<TSink>(ReadOnlySpan<char> host, int i, ulong hash, ReadOnlySpan<char> key, bool authority, MatchKeyParts parts,
        ulong urlHash, ulong urlHashWithoutQuery, UsageCategory purpose, long t, ref TSink sink, byte pathScreen)
        where TSink : struct, IMatchSink
    {
        var slots = _hosts.Slots;
        var found = HostTable.Find(slots, hash);
        if (found < 0)
        {
            return;
        }

        ref var slot = ref slots[found];
        var hostRules = HostTable.HostHead(Volatile.Read(ref slot.Hosts));
        if (hostRules >= 0)
        {
            MatchHostRules(hostRules, host[i..], exact: i == 0, purpose, t, ref sink);
        }

        if (authority)
        {
            MatchAuthority(key, parts, ref slot, urlHash, urlHashWithoutQuery, purpose, t, ref sink, pathScreen);
        }
    }

    private void MatchHostRules<TSink>(int head, ReadOnlySpan<char> suffix, bool exact, UsageCategory purpose, long t, ref TSink sink)
        where TSink : struct, IMatchSink
    {
        var rules = _hostRules.Items;
        for (var n = head; n >= 0; n = rules[n].Next)
        {
            ref var rule = ref rules[n];
            if (rule.Kind == HostRule.ExactHost && !exact)
            {
                continue;
            }

            var isDomain = rule.Kind == HostRule.Domain;
            var site = new MatchSite(isDomain ? SelectorKind.Domain : SelectorKind.Host, (rule.Value & VerifiedBit) != 0, suffix);
            Consider(rule.Value, Specificity(isDomain ? RankDomain : RankHost, suffix.Length), purpose, t, ref sink, in site);
        }
    }

    /// <summary>
    /// Exact-URL and prefix/pattern rules of one authority, whose host slot is <paramref name="slot"/>;
    /// <paramref name="urlHash"/> and <paramref name="urlHashWithoutQuery"/> are the key hashes when the caller
    /// already computed them (0: compute here), <paramref name="pathScreen"/> the result of the slot's
    /// <see cref="PathScreen"/> for this path when the caller already has it. The rules are walked only when the
    /// screen passes.
    /// </summary>
    [SkipLocalsInit]
    private void MatchAuthority<TSink>(ReadOnlySpan<char> key, MatchKeyParts parts, ref HostTable.Slot slot, ulong urlHash, ulong urlHashWithoutQuery,
        UsageCategory purpose, long t, ref TSink sink, byte pathScreen)
        where TSink : struct, IMatchSink
    {
        var paths = Volatile.Read(ref slot.Paths);
        var head = HostTable.PathHead(paths);
        if (head >= 0 && (pathScreen == PendingUrl.ScreenRejected
            || (pathScreen == PendingUrl.ScreenUnknown && !slot.MayMatchPath(key[parts.PathStart..]))))
        {
            head = -1;
        }

        var rules = _pathRules.Items;
        if (head >= 0)
        {
            // The host's rules are scanned after the URL probe; their line loads meanwhile.
            CacheHint.Prefetch(ref rules[head]);
        }

        if ((paths & HostTable.HasUrls) != 0)
        {
            var cursor = _urls.Find(urlHash != 0 ? urlHash : KeyHasher.Hash(key));
            while (cursor.Next(out var value))
            {
                var anyQuery = (value & AnyQueryBit) != 0;
                var site = new MatchSite(SelectorKind.Url, (value & VerifiedBit) != 0, key);
                Consider(value, Specificity(anyQuery ? RankUrlAnyQuery : RankUrl, key.Length), purpose, t, ref sink, in site);
            }

            if (parts.QueryStart >= 0)
            {
                var withoutQuery = key[..parts.QueryStart];
                cursor = _urls.Find(urlHashWithoutQuery != 0 ? urlHashWithoutQuery : KeyHasher.Hash(withoutQuery));
                while (cursor.Next(out var value))
                {
                    if ((value & AnyQueryBit) != 0)
                    {
                        var site = new MatchSite(SelectorKind.Url, (value & VerifiedBit) != 0, withoutQuery);
                        Consider(value, Specificity(RankUrlAnyQuery, withoutQuery.Length), purpose, t, ref sink, in site);
                    }
                }
            }
        }

        if (head < 0)
        {
            return;
        }

        var path = key[parts.PathStart..];
        var authority = key[..parts.PathStart];
        var pathHead = PackHead(path, out var pathHeadLength);
        Span<char> patternBuffer = stackalloc char[256];
        Span<char> needle = stackalloc char[8];
        var arena = _paths;
        for (var n = head; n >= 0; n = rules[n].Next)
        {
            ref var rule = ref rules[n];
            if (rule.IsPattern == PathRule.PatternWithNeedle)
            {
                // A pattern with no useful literal prefix (/*.pdf$, /*/private/): its longest literal segment
                // must occur somewhere in the path, checked without touching the path arena.
                var length = rule.HeadLength;
                for (var i = 0; i < length; i++)
                {
                    needle[i] = (char)(byte)(rule.Head >> (8 * i));
                }

                if (path.IndexOf(needle[..length], StringComparison.Ordinal) < 0)
                {
                    continue;
                }
            }
            else if (rule.HeadLength > pathHeadLength || ((rule.Head ^ pathHead) & HeadMask(rule.HeadLength)) != 0)
            {
                // Literal head first: most rules of a host differ from the path within 8 characters.
                continue;
            }

            bool matched;
            if (rule.IsPattern == PathRule.Prefix)
            {
                if (rule.Length > path.Length)
                {
                    continue;
                }

                // Longer than the head: the 32-bit hash of the whole prefix rejects almost every other path without
                // touching the arena (a cache miss); only a hash hit is confirmed byte for byte.
                matched = rule.Length == rule.HeadLength
                    || ((uint)KeyHasher.Hash(path[..rule.Length]) == rule.PrefixHash && Ascii.Equals(arena.Get(rule.Path), path[..rule.Length]));
            }
            else
            {
                var bytes = arena.Get(rule.Path);
                var chars = bytes.Length <= patternBuffer.Length ? patternBuffer[..bytes.Length] : new char[bytes.Length];
                Ascii.ToUtf16(bytes, chars, out _);
                matched = PathPattern.IsMatch(path, chars);
            }

            if (matched)
            {
                var site = new MatchSite(rule.IsPattern == PathRule.Prefix ? SelectorKind.Prefix : SelectorKind.Pattern, (rule.Value & VerifiedBit) != 0, authority, arena, rule.Path);
                Consider(rule.Value, Specificity(RankPath, rule.Length), purpose, t, ref sink, in site);
            }
        }
    }

    /// <summary>Packs up to the first 8 characters (as bytes) of a path, little-endian; non-ASCII characters keep their low byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong PackHead(ReadOnlySpan<char> text, out int length)
    {
        length = Math.Min(8, text.Length);
        ulong head = 0;
        for (var i = 0; i < length; i++)
        {
            head |= (ulong)(byte)text[i] << (8 * i);
        }

        return head;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HeadMask(int length) => length >= 8 ? ulong.MaxValue : (1UL << (8 * length)) - 1;

    private void MatchContentKey<TSink>(KeyTable table, ulong hash, SelectorKind kind, ReadOnlySpan<char> text, UsageCategory purpose, long t, ref TSink sink)
        where TSink : struct, IMatchSink
    {
        var cursor = table.Find(hash);
        while (cursor.Next(out var value))
        {
            var site = new MatchSite(kind, false, text);
            Consider(value, Specificity(RankContent, 64), purpose, t, ref sink, in site);
        }
    }

    private void MatchIscc<TSink>(IsccCode code, UsageCategory purpose, long t, ref TSink sink)
        where TSink : struct, IMatchSink
    {
        var adapter = new IsccAdapter<TSink>(this, purpose, t, sink);
        foreach (var unit in code.Units)
        {
            if (unit.MainType == IsccMainType.Meta)
            {
                continue;
            }

            _iscc.Search(unit.Head, (ushort)unit.TypeKey, ref adapter);
        }

        sink = adapter.Sink;
    }

    private struct IsccAdapter<TSink>(MatcherIndex index, UsageCategory purpose, long t, TSink sink) : IIsccSink
        where TSink : struct, IMatchSink
    {
        public TSink Sink = sink;

        public void Add(uint value, ulong head, int distance, uint text)
        {
            var site = new MatchSite(SelectorKind.Iscc, false, default, index._arena, text, distance, head, 0);
            index.Consider(value, Specificity(RankContent, 64 - distance), purpose, t, ref Sink, in site);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Consider<TSink>(uint value, int specificity, UsageCategory purpose, long t, ref TSink sink, scoped in MatchSite site)
        where TSink : struct, IMatchSink
    {
        var r = (int)(value & ReservationMask);
        var records = _reservations.Items;
        ref var record = ref records[r];
        if (t < record.ValidFrom || t >= Volatile.Read(ref record.End))
        {
            return;
        }

        var verdict = UsageStatements.ResolvePacked(record.Statements, purpose, out var decidedBy);
        if (verdict == Verdict.Unknown)
        {
            // A reservation that says nothing about this purpose neither covers nor carves out.
            return;
        }

        sink.Add(r, record.Holder, specificity, verdict, decidedBy, in site);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Specificity(int rank, int length) => (rank << 20) | Math.Min(length, 0xFFFFF);

    private CheckResult BuildResult(List<Candidate> candidates)
    {
        if (candidates.Count == 0)
        {
            return CheckResult.Unknown;
        }

        // Per holder: the most specific match decides (ties: most restrictive); across holders: most restrictive.
        var best = new Dictionary<int, (int Specificity, Verdict Verdict)>();
        foreach (var c in candidates)
        {
            if (!best.TryGetValue(c.Holder, out var b) || c.Specificity > b.Specificity
                || (c.Specificity == b.Specificity && c.Verdict > b.Verdict))
            {
                best[c.Holder] = (c.Specificity, c.Verdict);
            }
        }

        var verdict = Verdict.Unknown;
        foreach (var b in best.Values)
        {
            verdict = verdict.MostRestrictive(b.Verdict);
        }

        var reservations = _reservations.Items;
        var holders = _holders.Items;
        var policies = _policies.Items;
        var matches = new List<Match>(candidates.Count);
        foreach (var c in candidates)
        {
            ref var record = ref reservations[c.Reservation];
            var deciding = best[c.Holder].Specificity == c.Specificity;
            IsccUnit? unit = null;
            var text = c.Text;
            if (c.Kind == SelectorKind.Iscc)
            {
                unit = FindUnit(text, c.IsccHead);
            }

            matches.Add(new Match(
                _arena.GetString(record.Id),
                holders[record.Holder]!,
                c.Kind,
                text,
                c.Verified,
                policies[record.Policy],
                c.DecidedBy,
                (UsagePermission)(byte)c.Verdict,
                deciding,
                unit,
                c.Distance >= 0 ? c.Distance : null));
        }

        matches.Sort(static (a, b) =>
            a.IsDeciding != b.IsDeciding ? (a.IsDeciding ? -1 : 1) : ((int)b.Permission).CompareTo((int)a.Permission));
        return new CheckResult(verdict, matches);
    }

    private static IsccUnit? FindUnit(string code, ulong head)
    {
        if (!IsccCode.TryParse(code, out var parsed, out _))
        {
            return null;
        }

        foreach (var u in parsed!.Units)
        {
            if (u.Head == head)
            {
                return u;
            }
        }

        return null;
    }

    private Selector ParseSubject(SelectorKind kind, string subject)
    {
        if (!Selector.TryCreate(kind, subject, SelectorOptions.None, null, out var selector, out _, out var error))
        {
            throw new ModelValidationException("subject", error!);
        }

        return selector!;
    }

    private static string Truncate(string s) => s.Length <= 200 ? s : string.Concat(s.AsSpan(0, 200), "…");

    [DoesNotReturn]
    private static void ThrowUrlError(UrlError error) =>
        throw new UrlFormatException(error, UrlErrors.Describe(error));

    // ---------------------------------------------------------------- write internals (under _writeLock)

    private void EnsureNewId(string id)
    {
        if (FindReservation(id) >= 0)
        {
            throw new ModelValidationException("id", $"reservation '{id}' is already in the index");
        }
    }

    private int FindReservation(string id)
    {
        var cursor = _ids.Find(KeyHasher.Hash(id));
        Span<byte> utf8 = stackalloc byte[Reservation.MaxIdLength * 3];
        var length = Encoding.UTF8.GetBytes(id, utf8);
        while (cursor.Next(out var r))
        {
            if (_arena.Get(_reservations[(int)r].Id).SequenceEqual(utf8[..length]))
            {
                return (int)r;
            }
        }

        return -1;
    }

    private void End(string id, DateTimeOffset at, ReservationState state)
    {
        var r = FindReservation(id);
        if (r < 0)
        {
            throw new ModelValidationException("reservation_id", $"reservation '{id}' is not in the index");
        }

        ref var record = ref _reservations[r];
        if (record.State != (byte)ReservationState.Active)
        {
            throw new ModelValidationException("reservation_id", $"reservation '{id}' is already {((ReservationState)record.State).ToString().ToLowerInvariant()}");
        }

        // An instant before valid_from is allowed: the reservation then never comes into force.
        var ticks = at.UtcTicks;
        _ended.Set(r);
        record.State = (byte)state;
        if (ticks < record.End)
        {
            Volatile.Write(ref record.End, ticks);
        }
    }

    private void AddReservation(Reservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        EnsureNewId(reservation.Id);
        if (_reservations.Count >= (int)ReservationMask)
        {
            throw new InvalidOperationException($"The index holds at most {ReservationMask} reservations.");
        }

        var record = new ReservationRecord
        {
            ValidFrom = reservation.ValidFrom.UtcTicks,
            End = reservation.EffectiveUntil?.UtcTicks ?? long.MaxValue,
            Id = _arena.Add(reservation.Id),
            Holder = Intern(_holders, _holderIndex, reservation.HolderId),
            Policy = reservation.PolicyUrl is null ? 0 : Intern(_policies, _policyIndex, reservation.PolicyUrl),
            Statements = reservation.Statements.Packed,
            State = (byte)reservation.State,
        };

        // The record is published before any selector refers to it (readers load the array after the index).
        var r = _reservations.Add(record);
        _ended.EnsureCapacity(r + 1);
        _ids.Add(KeyHasher.Hash(reservation.Id), (uint)r);
        foreach (var s in reservation.Selectors)
        {
            AddSelector((uint)r, s);
        }
    }

    /// <summary><see cref="MatcherBuilder.TryAdd"/>: the record and selectors of <see cref="AddReservation"/>, from prepared values.</summary>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool TryAddPrepared(in PreparedReservation reservation, ReadOnlySpan<PreparedSelector> selectors, out string? field, out string? error)
    {
        // The policy URL is checked as the Reservation constructor does, but once per distinct URL (they repeat).
        var policy = 0;
        if (reservation.PolicyUrl is { } policyUrl && !_policyIndex.TryGetValue(policyUrl, out policy))
        {
            if (!Uri.TryCreate(policyUrl, UriKind.Absolute, out var u) || (u.Scheme != Uri.UriSchemeHttps && u.Scheme != Uri.UriSchemeHttp))
            {
                field = "policy_url";
                error = $"'{policyUrl}' is not an absolute http(s) URL";
                return false;
            }

            policy = Intern(_policies, _policyIndex, policyUrl);
        }

        EnsureNewId(reservation.Id);
        if (_reservations.Count >= (int)ReservationMask)
        {
            throw new InvalidOperationException($"The index holds at most {ReservationMask} reservations.");
        }

        var record = new ReservationRecord
        {
            ValidFrom = reservation.ValidFromTicks,
            End = reservation.EffectiveUntilTicks,
            Id = _arena.Add(reservation.Id),
            Holder = Intern(_holders, _holderIndex, reservation.HolderId),
            Policy = policy,
            Statements = reservation.PackedStatements,
            State = (byte)reservation.State,
        };
        var r = (uint)_reservations.Add(record);
        _ended.EnsureCapacity((int)r + 1);
        _ids.Add(KeyHasher.Hash(reservation.Id), r);
        foreach (ref readonly var s in selectors)
        {
            if (s.Kind == SelectorKind.Url)
            {
                // The url case of AddSelector, from the hashes prepared off this thread.
                var value = r | (s.HostVerified ? VerifiedBit : 0) | (s.AnyQuery ? AnyQueryBit : 0);
                _urls.Add(s.KeyHash, value, InlineData((int)r));
                _hosts.SetHasUrls(GetOrAddHost(s.AuthorityHash));
                _selectorCounts[(int)SelectorKind.Url]++;
            }
            else
            {
                AddSelector(r, s.Selector!, s.HostVerified);
            }
        }

        field = null;
        error = null;
        return true;
    }

    /// <summary>The end of a <see cref="MatcherBuilder"/> build: what <see cref="Build"/> does after the last reservation.</summary>
    internal void CompleteBuild()
    {
        lock (_writeLock)
        {
            CompactRules();
        }
    }

    private static int Intern(AppendArray<string?> list, Dictionary<string, int> index, string value)
    {
        if (!index.TryGetValue(value, out var i))
        {
            i = list.Add(value);
            index[value] = i;
        }

        return i;
    }

    private void AddSelector(uint reservation, ReservationSelector entry) => AddSelector(reservation, entry.Selector, entry.HostVerified);

    private void AddSelector(uint reservation, Selector selector, bool hostVerified)
    {
        var value = reservation | (hostVerified ? VerifiedBit : 0);
        switch (selector.Kind)
        {
            case SelectorKind.Url:
            {
                if (selector.AnyQuery)
                {
                    value |= AnyQueryBit;
                }

                _urls.Add(KeyHasher.Hash(selector.Text), value, InlineData((int)reservation));
                _hosts.SetHasUrls(GetOrAddHost(selector.Authority!));
                break;
            }

            case SelectorKind.Prefix:
            case SelectorKind.Pattern:
            {
                var h = GetOrAddHost(selector.Authority!);
                var path = selector.Path!;
                var star = selector.Kind == SelectorKind.Pattern ? path.IndexOf('*') : -1;
                var literal = path.AsSpan(0, star >= 0 ? star : path.Length);
                if (selector.Kind == SelectorKind.Pattern && literal.EndsWith("$"))
                {
                    literal = literal[..^1];
                }

                var kind = selector.Kind == SelectorKind.Pattern ? PathRule.Pattern : PathRule.Prefix;
                if (kind == PathRule.Pattern && literal.Length <= 1)
                {
                    var segment = LongestLiteralSegment(path);
                    if (segment.Length >= 2)
                    {
                        literal = segment[..Math.Min(8, segment.Length)];
                        kind = PathRule.PatternWithNeedle;
                    }
                }

                var rule = new PathRule
                {
                    Head = PackHead(literal, out var headLength),
                    HeadLength = (byte)headLength,
                    Value = value,
                    Path = _paths.Add(path),
                    Length = (ushort)Math.Min(path.Length, ushort.MaxValue),
                    IsPattern = kind,
                    PrefixHash = kind == PathRule.Prefix ? (uint)KeyHasher.Hash(path) : 0,
                    Next = _hosts.GetPathHead(h),
                };
                var n = _pathRules.Add(rule);
                var screen = PathScreen.Describe(path, selector.Kind == SelectorKind.Pattern, out var screenKey);
                _hosts.AddScreen(h, screen, screenKey);
                _hosts.SetPathHead(h, n);
                break;
            }

            case SelectorKind.Host:
            case SelectorKind.Domain:
            {
                var h = GetOrAddHost(selector.Authority!);
                var rule = new HostRule
                {
                    Value = value,
                    Kind = selector.Kind == SelectorKind.Domain ? HostRule.Domain
                        : selector.IncludeSubdomains ? HostRule.HostAndSubdomains : HostRule.ExactHost,
                    Next = _hosts.GetHostHead(h),
                };
                var n = _hostRules.Add(rule);
                _hosts.SetHostHead(h, n);
                break;
            }

            case SelectorKind.Sha256:
                _sha256.Add(KeyHasher.HashDigest(selector.Sha256), value);
                break;
            case SelectorKind.Identifier:
                _identifiers.Add(KeyHasher.Hash(selector.Text), value);
                break;
            case SelectorKind.Iscc:
            {
                var text = _arena.Add(selector.Text);
                foreach (var unit in selector.Iscc!.Units)
                {
                    // Meta-Codes measure metadata similarity, not content identity: not indexed.
                    if (unit.MainType == IsccMainType.Meta)
                    {
                        continue;
                    }

                    _iscc.Add(unit.Head, (ushort)unit.TypeKey, value, exactOnly: unit.MainType == IsccMainType.Instance, text);
                }

                break;
            }

            default:
                throw new ModelValidationException("kind", $"unknown selector kind {(int)selector.Kind}");
        }

        _selectorCounts[(int)selector.Kind]++;
    }

    private static ReadOnlySpan<char> LongestLiteralSegment(string pattern)
    {
        var body = pattern.EndsWith('$') ? pattern.AsSpan(0, pattern.Length - 1) : pattern.AsSpan();
        var best = ReadOnlySpan<char>.Empty;
        while (!body.IsEmpty)
        {
            var star = body.IndexOf('*');
            var segment = star < 0 ? body : body[..star];
            if (segment.Length > best.Length)
            {
                best = segment;
            }

            body = star < 0 ? ReadOnlySpan<char>.Empty : body[(star + 1)..];
        }

        return best;
    }

    /// <summary>
    /// After a bulk build, lays out each host's prefix/pattern rules, their path texts and its host/domain rules
    /// next to each other (in host order), so a check touches one or two cache lines per host instead of one per
    /// rule. Runs before the index is published, so no reader can see the old arrays.
    /// </summary>
    private void CompactRules()
    {
        var count = _hosts.Capacity;
        var oldPaths = _paths;
        var oldPathRules = _pathRules.Items;
        var oldHostRules = _hostRules.Items;
        var paths = new ByteArena();
        var pathRules = new AppendArray<PathRule>(_pathRules.Count);
        var hostRules = new AppendArray<HostRule>(_hostRules.Count);
        var chain = new List<int>();
        for (var h = 0; h < count; h++)
        {
            if (!_hosts.IsOccupied(h))
            {
                continue;
            }

            chain.Clear();
            for (var n = _hosts.GetPathHead(h); n >= 0; n = oldPathRules[n].Next)
            {
                chain.Add(n);
            }

            var next = -1;
            for (var i = chain.Count - 1; i >= 0; i--)
            {
                var rule = oldPathRules[chain[i]];
                rule.Path = paths.Add(Encoding.UTF8.GetString(oldPaths.Get(rule.Path)));
                rule.Next = next;
                next = pathRules.Add(rule);
            }

            // Added in reverse, so the chain runs backwards through memory; the walk order is unchanged.
            if (next >= 0)
            {
                _hosts.SetPathHead(h, next);
            }

            chain.Clear();
            for (var n = _hosts.GetHostHead(h); n >= 0; n = oldHostRules[n].Next)
            {
                chain.Add(n);
            }

            next = -1;
            for (var i = chain.Count - 1; i >= 0; i--)
            {
                var rule = oldHostRules[chain[i]];
                rule.Next = next;
                next = hostRules.Add(rule);
            }

            if (next >= 0)
            {
                _hosts.SetHostHead(h, next);
            }
        }

        _paths = paths;
        _pathRules = pathRules;
        _hostRules = hostRules;
    }

    /// <summary>The host-table slot of an authority, added (and entered in the Bloom filter) when new.</summary>
    private int GetOrAddHost(string authority) => GetOrAddHost(KeyHasher.HostHash(authority));

    /// <summary>The host-table slot of an authority's hash (<c>KeyHasher.HostHash</c>).</summary>
    // Bulk-load hot path, optimised at first call: see ReservationBulkLoad's remarks.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int GetOrAddHost(ulong hash)
    {
        var slot = _hosts.GetOrAdd(hash, out var added);
        if (added)
        {
            if (_hosts.Count > _hostFilter.Capacity)
            {
                _hostFilter.Rebuild(_hosts.Count * 2L, _hosts.Hashes());
            }
            else
            {
                _hostFilter.Add(hash);
            }
        }

        return slot;
    }
}

/// <summary>One URL in <see cref="MatcherIndex.CheckUrls"/>' pipeline between its stages.</summary>
internal struct PendingUrl
{
    public const byte Done = 0;
    public const byte Pending = 1;
    public const byte Plain = 2;
    public const int MaxSuffixes = 4;
    public const byte ScreenUnknown = 0;
    public const byte ScreenPassed = 1;
    public const byte ScreenRejected = 2;

    public int Written;
    public MatchKeyParts Parts;
    public ulong UrlHash;
    public ulong UrlHashWithoutQuery;
    public SuffixList Suffixes;
    public byte SuffixCount;
    public byte State;

    /// <summary>The full host's <see cref="PathScreen"/> for this path, once stage 2 has read it.</summary>
    public byte PathScreen;

    [InlineArray(MaxSuffixes)]
    internal struct SuffixList
    {
        private PendingSuffix _element;
    }
}

/// <summary>A host label suffix that passed the Bloom filter: its hash and where it starts in the host.</summary>
internal readonly record struct PendingSuffix(ulong Hash, int Start);

/// <summary>Sizes of a <see cref="MatcherIndex"/>.</summary>
/// <param name="Reservations">Reservations indexed.</param>
/// <param name="Selectors">Selectors indexed.</param>
/// <param name="Hosts">Hosts and authorities with rules.</param>
/// <param name="SelectorsByKind">Selectors per kind.</param>
/// <param name="Bytes">Bytes allocated by the index's arrays (capacity, not count).</param>
public sealed record MatcherStatistics(int Reservations, long Selectors, int Hosts, IReadOnlyDictionary<SelectorKind, long> SelectorsByKind, long Bytes)
{
    /// <summary>Bytes per selector.</summary>
    public double BytesPerSelector => Selectors == 0 ? 0 : (double)Bytes / Selectors;

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Selectors:N0} selectors in {Reservations:N0} reservations on {Hosts:N0} hosts: {Bytes / 1048576.0:F1} MiB, {BytesPerSelector:F1} B/selector");
}
