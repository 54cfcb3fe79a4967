using System.Globalization;
using System.Runtime.InteropServices;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>
/// UTS #46 ToASCII with the parameters of the WHATWG URL standard's "domain to ASCII" (§3.3):
/// CheckHyphens=false, CheckBidi=true, CheckJoiners=true, UseSTD3ASCIIRules=false,
/// Transitional_Processing=false, VerifyDnsLength=false.
/// </summary>
/// <remarks>
/// .NET's <see cref="IdnMapping"/> cannot express CheckHyphens=false or VerifyDnsLength=false (it fails on
/// <c>-x.com</c>, <c>a..b</c> and long labels, which the URL standard accepts). So, like browsers do, this calls
/// the ICU library that .NET itself uses for globalization on Linux/macOS/Windows (<c>uidna_nameToASCII</c>)
/// and ignores exactly the error bits those two parameters switch off. If ICU cannot be found (invariant
/// globalization, unusual platforms) it falls back to <see cref="IdnMapping"/>, which is stricter than the
/// standard for those cases. This is library loading, not I/O: no file or network is read.
/// </remarks>
internal static unsafe class Idna
{
    // uidna.h option and error bits.
    private const uint UidnaCheckBidi = 0x4;
    private const uint UidnaCheckContextJ = 0x8;
    private const uint UidnaNontransitionalToAscii = 0x10;
    private const uint UidnaNontransitionalToUnicode = 0x20;

    private const uint UidnaErrorEmptyLabel = 0x1;
    private const uint UidnaErrorLabelTooLong = 0x2;
    private const uint UidnaErrorDomainNameTooLong = 0x4;
    private const uint UidnaErrorLeadingHyphen = 0x8;
    private const uint UidnaErrorTrailingHyphen = 0x10;
    private const uint UidnaErrorHyphen34 = 0x20;

    /// <summary>Errors that VerifyDnsLength=false and CheckHyphens=false turn off.</summary>
    private const uint IgnoredErrors = UidnaErrorEmptyLabel | UidnaErrorLabelTooLong | UidnaErrorDomainNameTooLong
        | UidnaErrorLeadingHyphen | UidnaErrorTrailingHyphen | UidnaErrorHyphen34;

    private const int UBufferOverflowError = 15;

    private static readonly delegate* unmanaged<nint, char*, int, char*, int, UidnaInfo*, int*, int> s_nameToAscii;
    private static readonly nint s_idna;
    private static readonly IdnMapping s_fallback = new() { AllowUnassigned = false, UseStd3AsciiRules = false };

    static Idna()
    {
        if (!TryLoadIcu(out var open, out var nameToAscii))
        {
            return;
        }

        var err = 0;
        var idna = open(UidnaCheckBidi | UidnaCheckContextJ | UidnaNontransitionalToAscii | UidnaNontransitionalToUnicode, &err);
        if (err <= 0 && idna != 0)
        {
            s_idna = idna;
            s_nameToAscii = nameToAscii;
        }
    }

    /// <summary>True when the ICU implementation is in use (false: the <see cref="IdnMapping"/> fallback).</summary>
    public static bool UsesIcu => s_idna != 0;

    /// <summary>Converts <paramref name="domain"/> to ASCII and appends it; false when UTS #46 rejects it.</summary>
    public static bool TryToAscii(scoped ReadOnlySpan<char> domain, ref CharBuffer destination)
    {
        if (IdnaUpdates.Affects(domain))
        {
            var updated = new CharBuffer(stackalloc char[256]);
            try
            {
                IdnaUpdates.Apply(domain, ref updated);
                return TryToAsciiCore(updated.Written, ref destination);
            }
            finally
            {
                updated.Dispose();
            }
        }

        return TryToAsciiCore(domain, ref destination);
    }

    private static bool TryToAsciiCore(scoped ReadOnlySpan<char> domain, ref CharBuffer destination)
    {
        if (s_idna == 0)
        {
            return TryFallback(domain, ref destination);
        }

        var start = destination.Length;
        var capacity = (domain.Length * 4) + 64;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var dest = destination.AppendSpan(capacity);
            var info = new UidnaInfo { Size = (short)sizeof(UidnaInfo) };
            var err = 0;
            int length;
            fixed (char* src = domain)
            fixed (char* dst = dest)
            {
                length = s_nameToAscii(s_idna, src, domain.Length, dst, capacity, &info, &err);
            }

            if (err == UBufferOverflowError && attempt == 0)
            {
                destination.Truncate(start);
                capacity = length + 16;
                continue;
            }

            if (err > 0 || (info.Errors & ~IgnoredErrors) != 0 || length > capacity)
            {
                destination.Truncate(start);
                return false;
            }

            destination.Truncate(start + length);
            return true;
        }

        destination.Truncate(start);
        return false;
    }

    private static bool TryFallback(scoped ReadOnlySpan<char> domain, ref CharBuffer destination)
    {
        try
        {
            destination.Append(s_fallback.GetAscii(domain.ToString()));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool TryLoadIcu(
        out delegate* unmanaged<uint, int*, nint> open,
        out delegate* unmanaged<nint, char*, int, char*, int, UidnaInfo*, int*, int> nameToAscii)
    {
        open = null;
        nameToAscii = null;
        // Unversioned names first (Windows icu.dll, macOS libicucore), then the versioned sonames Linux
        // distributions ship; ICU suffixes its exported symbols with the major version.
        string[] unversioned = ["icu.dll", "icuuc.dll", "libicucore.dylib", "libicuuc.so"];
        foreach (var name in unversioned)
        {
            if (NativeLibrary.TryLoad(name, out var handle) && TryGetExports(handle, out open, out nameToAscii))
            {
                return true;
            }
        }

        for (var version = 90; version >= 50; version--)
        {
            if (NativeLibrary.TryLoad("libicuuc.so." + version.ToString(CultureInfo.InvariantCulture), out var handle)
                && TryGetExports(handle, out open, out nameToAscii))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryGetExports(
        nint handle,
        out delegate* unmanaged<uint, int*, nint> open,
        out delegate* unmanaged<nint, char*, int, char*, int, UidnaInfo*, int*, int> nameToAscii)
    {
        open = null;
        nameToAscii = null;
        if (NativeLibrary.TryGetExport(handle, "uidna_openUTS46", out var o)
            && NativeLibrary.TryGetExport(handle, "uidna_nameToASCII", out var n))
        {
            open = (delegate* unmanaged<uint, int*, nint>)o;
            nameToAscii = (delegate* unmanaged<nint, char*, int, char*, int, UidnaInfo*, int*, int>)n;
            return true;
        }

        for (var version = 90; version >= 50; version--)
        {
            var suffix = "_" + version.ToString(CultureInfo.InvariantCulture);
            if (NativeLibrary.TryGetExport(handle, "uidna_openUTS46" + suffix, out o)
                && NativeLibrary.TryGetExport(handle, "uidna_nameToASCII" + suffix, out n))
            {
                open = (delegate* unmanaged<uint, int*, nint>)o;
                nameToAscii = (delegate* unmanaged<nint, char*, int, char*, int, UidnaInfo*, int*, int>)n;
                return true;
            }
        }

        return false;
    }

    /// <summary>ICU's <c>UIDNAInfo</c> (uidna.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct UidnaInfo
    {
        public short Size;
        public byte IsTransitionalDifferent;
        public byte ReservedB3;
        public uint Errors;
        public int ReservedI2;
        public int ReservedI3;
    }
}
