using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Software prefetch. A covered URL check needs several independent lines of a large index (host slot, URL slot,
/// the host's rules); asking for the later ones early lets their cache misses overlap instead of running one after
/// another. A prefetch is only a hint: it never faults, and a stale address (an array the GC moved meanwhile) costs
/// one useless load at most.
/// </summary>
internal static class CacheHint
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch<T>(ref T target)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref target));
        }
    }
}
