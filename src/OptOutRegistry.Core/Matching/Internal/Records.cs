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

/// <summary>Per host or authority (<c>host[:port]</c>) that has rules: heads of its rule lists, 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct HostRecord
{
    public const byte HasUrls = 1;

    public int HostRules;
    public int PathRules;
    public byte Flags;
}

/// <summary>A prefix or pattern selector of an authority, 16 bytes plus its path in the arena.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct PathRule
{
    public uint Value;
    public uint Path;
    public int Next;
    public ushort Length;
    public byte IsPattern;
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
