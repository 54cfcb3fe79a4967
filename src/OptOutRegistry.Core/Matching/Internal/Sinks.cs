using System.Buffers;
using System.Runtime.CompilerServices;
using OptOutRegistry.Core.Model;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>Where a candidate match came from; only the provenance sink reads more than nothing of it.</summary>
internal readonly ref struct MatchSite
{
    public MatchSite(SelectorKind kind, bool verified, ReadOnlySpan<char> text, ByteArena? arena = null, uint arenaText = ByteArena.None,
        int distance = -1, ulong isccHead = 0, ushort isccType = 0)
    {
        Arena = arena;
        Kind = kind;
        Verified = verified;
        Text = text;
        ArenaText = arenaText;
        Distance = distance;
        IsccHead = isccHead;
        IsccType = isccType;
    }

    public SelectorKind Kind { get; }

    public bool Verified { get; }

    /// <summary>The selector text, or its first part when <see cref="ArenaText"/> holds the rest.</summary>
    public ReadOnlySpan<char> Text { get; }

    public ByteArena? Arena { get; }

    public uint ArenaText { get; }

    public int Distance { get; }

    public ulong IsccHead { get; }

    public ushort IsccType { get; }
}

/// <summary>Receives the matches of a check that are in force and speak to the purpose.</summary>
internal interface IMatchSink
{
    void Add(int reservation, int holder, int specificity, Verdict verdict, UsageCategory decidedBy, scoped in MatchSite site);
}

/// <summary>
/// The allocation-free combination of DESIGN.md "The model": per holder keep the most specific match (ties:
/// most restrictive), then across holders the most restrictive. Each holder is one packed <c>long</c>:
/// holder (32 bits) | specificity (24 bits) | verdict (8 bits). Up to 8 holders inline, more in a pooled array.
/// </summary>
internal struct VerdictAccumulator : IMatchSink
{
    private const int InlineCapacity = 8;
    private InlineEntries _inline;
    private long[]? _overflow;
    private int _count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int reservation, int holder, int specificity, Verdict verdict, UsageCategory decidedBy, scoped in MatchSite site)
    {
        var entries = _overflow is null ? (Span<long>)_inline : _overflow.AsSpan();
        for (var i = 0; i < _count; i++)
        {
            var e = entries[i];
            if ((int)(e >> 32) != holder)
            {
                continue;
            }

            var spec = (int)((e >> 8) & 0xFFFFFF);
            if (specificity > spec || (specificity == spec && (byte)verdict > (byte)e))
            {
                entries[i] = Pack(holder, specificity, verdict);
            }

            return;
        }

        if (_count == entries.Length)
        {
            var grown = ArrayPool<long>.Shared.Rent(entries.Length * 4);
            entries.CopyTo(grown);
            if (_overflow is not null)
            {
                ArrayPool<long>.Shared.Return(_overflow);
            }

            _overflow = grown;
            entries = grown;
        }

        entries[_count++] = Pack(holder, specificity, verdict);
    }

    /// <summary>Across holders the most restrictive wins; returns pooled storage.</summary>
    public Verdict Complete()
    {
        var entries = _overflow is null ? (Span<long>)_inline : _overflow.AsSpan();
        var result = Verdict.Unknown;
        for (var i = 0; i < _count; i++)
        {
            var v = (Verdict)(byte)entries[i];
            if (v > result)
            {
                result = v;
            }
        }

        if (_overflow is not null)
        {
            ArrayPool<long>.Shared.Return(_overflow);
            _overflow = null;
        }

        return result;
    }

    private static long Pack(int holder, int specificity, Verdict verdict) =>
        ((long)holder << 32) | ((long)specificity << 8) | (byte)verdict;

    [InlineArray(InlineCapacity)]
    private struct InlineEntries
    {
        private long _element;
    }
}

/// <summary>One candidate collected for provenance.</summary>
internal readonly record struct Candidate(
    int Reservation, int Holder, int Specificity, Verdict Verdict, UsageCategory DecidedBy,
    SelectorKind Kind, bool Verified, string Text, int Distance, ulong IsccHead, ushort IsccType);

/// <summary>Collects every candidate with its selector text (the explain path; allocates).</summary>
internal struct ProvenanceSink() : IMatchSink
{
    public List<Candidate> Candidates { get; } = [];

    public void Add(int reservation, int holder, int specificity, Verdict verdict, UsageCategory decidedBy, scoped in MatchSite site)
    {
        var text = site.Arena is null
            ? site.Text.ToString()
            : string.Concat(site.Text, site.Arena.GetString(site.ArenaText));
        Candidates.Add(new Candidate(reservation, holder, specificity, verdict, decidedBy, site.Kind, site.Verified, text,
            site.Distance, site.IsccHead, site.IsccType));
    }
}
