using System.Runtime.InteropServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Per-reservation data the check path needs, 32 bytes. <see cref="End"/> is the end of the interval in which
/// the reservation is in force (min of valid-until and the supersede/revoke instant; <see cref="long.MaxValue"/>
/// when open); it is the only field updated in place, with one atomic 64-bit write.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct ReservationRecord
{
    public long ValidFrom;
    public long End;
    public uint Id;
    public int Holder;
    public int Policy;
    public ushort Statements;
    public byte State;
}

/// <summary>
/// A prefix or pattern selector of an authority, 32 bytes plus its path in the path arena. <see cref="Head"/> holds the
/// first up to 8 characters of the literal part (before any <c>*</c>) as ASCII bytes, little-endian, so most rules of
/// a host are rejected without touching the arena; a prefix of at most 8 characters is decided by it alone, a longer
/// one by <see cref="PrefixHash"/> first (the arena is read only to confirm a hash hit).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
internal struct PathRule
{
    public const byte Prefix = 0;
    public const byte Pattern = 1;

    /// <summary>A pattern whose literal prefix is at most "/": <see cref="Head"/> holds up to 8 characters of its longest literal segment instead.</summary>
    public const byte PatternWithNeedle = 2;

    public ulong Head;
    public uint Value;
    public uint Path;
    public int Next;

    /// <summary>For a prefix: the low 32 bits of <c>KeyHasher.Hash</c> of the whole prefix path; 0 for patterns.</summary>
    public uint PrefixHash;
    public ushort Length;
    public byte IsPattern;
    public byte HeadLength;
}

/// <summary>A host or domain selector, 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct HostRule
{
    public const byte ExactHost = 0;
    public const byte HostAndSubdomains = 1;
    public const byte Domain = 2;

    public uint Value;
    public int Next;
    public byte Kind;
}
