using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Core.Matching.Internal;

/// <summary>
/// Memory for the matcher's big hash tables. At 10 million selectors the URL table alone is ~190 MB and every check
/// reads a random line of it; with 4 KiB pages each such read is also a TLB miss, and under a hypervisor (nested
/// paging) the page walk costs about as much as the cache miss itself (measured on the build VM: a dependent random
/// read in 160 MB took ~230 ns on 4 KiB pages, ~170 ns on 2 MiB pages). So:
/// <list type="bullet">
/// <item>table storage is a <b>pinned</b> <c>ulong[]</c> whose usable part starts on a cache-line boundary (on a 2 MiB
/// boundary when the table spans at least one huge page), so a 4-slot bucket of 16-byte slots is exactly one cache
/// line and a table never straddles more huge pages than it must; pinned (the pinned object heap) because the
/// alignment is computed from the address once;</item>
/// <item>on Linux, ranges of 2 MiB and more are advised <c>MADV_HUGEPAGE</c> right after allocation, before their pages
/// are first touched, so the kernel backs them with transparent huge pages even when THP is set to "madvise" (the
/// common distribution default). It is a hint: where it is refused or unsupported nothing changes but speed.</item>
/// </list>
/// </summary>
internal static unsafe partial class LargePages
{
    /// <summary>Bytes in a cache line.</summary>
    public const int CacheLine = 64;

    private const int HugePage = 2 << 20;
    private const int MadvHugePage = 14;
    private static bool s_adviseFailed;

    /// <summary>
    /// A zeroed, pinned array holding at least <paramref name="words"/> words from index <paramref name="start"/> on
    /// (plus one spare cache line after them, so a prefetch of "the next line" never points outside the array).
    /// <paramref name="start"/> is cache-line aligned, and 2 MiB aligned (the range advised for huge pages) when the
    /// words span at least 2 MiB.
    /// </summary>
    public static ulong[] AllocateWords(long words, out int start)
    {
        var bytes = words * sizeof(ulong);
        var align = bytes >= HugePage ? HugePage : CacheLine;
        var total = words + ((align + CacheLine) / sizeof(ulong));
        if (total > Array.MaxLength)
        {
            throw new InvalidOperationException($"A table of {bytes:N0} bytes exceeds the largest array; shard the index.");
        }

        var array = GC.AllocateArray<ulong>((int)total, pinned: true);
        var address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        var pad = (int)(((nuint)align - (address % (nuint)align)) % (nuint)align);
        start = pad / sizeof(ulong);
        if (align == HugePage)
        {
            Advise(address + (nuint)pad, bytes);
        }

        return array;
    }

    /// <summary>
    /// Advises the whole 2 MiB pages inside a freshly allocated large array for huge pages (arrays that are indexed
    /// directly and need no alignment: reservation records, rule lists). A hint only; the array may be moved by a
    /// compacting GC of the large object heap, which then costs only the hint.
    /// </summary>
    public static void Advise<T>(T[] array)
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            return;
        }

        var bytes = (long)array.Length * Unsafe.SizeOf<T>();
        if (bytes < 2L * HugePage)
        {
            return;
        }

        var address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        Advise(address, bytes);
    }

    private static void Advise(nuint address, long bytes)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref s_adviseFailed))
        {
            return;
        }

        var from = (address + HugePage - 1) & ~(nuint)(HugePage - 1);
        var to = (address + (nuint)bytes) & ~(nuint)(HugePage - 1);
        if (to <= from)
        {
            return;
        }

        try
        {
            // The return value is ignored on purpose: EINVAL (THP compiled out) or EPERM leave the pages as they are.
            _ = Madvise((void*)from, to - from, MadvHugePage);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref s_adviseFailed, true);
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
