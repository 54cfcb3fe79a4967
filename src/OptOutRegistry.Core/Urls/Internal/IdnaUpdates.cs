using System.Buffers;
using System.Text;

namespace OptOutRegistry.Core.Urls.Internal;

/// <summary>
/// UTS #46 mapping-table changes from Unicode 15.0 (what ICU 72, the oldest ICU this runs on, implements) to
/// Unicode 17.0 (what the URL standard and its wpt suite use), for code points whose status became
/// <em>mapped</em> or <em>ignored</em>: e.g. U+1E9E ẞ now maps to ß (not "ss"), U+04C0 Ӏ to ӏ, U+2183 Ↄ to ↄ,
/// U+180E and U+206A–206F are ignored (toascii.json pins several). They are applied before ICU, which then sees
/// only characters whose treatment did not change. Derived from Unicode's IdnaMappingTable.txt 15.0.0 and 17.0.0
/// (Unicode License v3) by listing every code point whose status differs and is M or I in 17.0.
/// Not covered: characters first assigned after Unicode 15.0 that are simply valid (ICU 72 rejects them as
/// unassigned) and U+1806, which became valid in 15.1.
/// </summary>
internal static class IdnaUpdates
{
    private static readonly (int CodePoint, string Replacement)[] s_table =
    [
        (0x4C0, "\u04CF"),
        (0x10A0, "\u2D00"),
        (0x10A1, "\u2D01"),
        (0x10A2, "\u2D02"),
        (0x10A3, "\u2D03"),
        (0x10A4, "\u2D04"),
        (0x10A5, "\u2D05"),
        (0x10A6, "\u2D06"),
        (0x10A7, "\u2D07"),
        (0x10A8, "\u2D08"),
        (0x10A9, "\u2D09"),
        (0x10AA, "\u2D0A"),
        (0x10AB, "\u2D0B"),
        (0x10AC, "\u2D0C"),
        (0x10AD, "\u2D0D"),
        (0x10AE, "\u2D0E"),
        (0x10AF, "\u2D0F"),
        (0x10B0, "\u2D10"),
        (0x10B1, "\u2D11"),
        (0x10B2, "\u2D12"),
        (0x10B3, "\u2D13"),
        (0x10B4, "\u2D14"),
        (0x10B5, "\u2D15"),
        (0x10B6, "\u2D16"),
        (0x10B7, "\u2D17"),
        (0x10B8, "\u2D18"),
        (0x10B9, "\u2D19"),
        (0x10BA, "\u2D1A"),
        (0x10BB, "\u2D1B"),
        (0x10BC, "\u2D1C"),
        (0x10BD, "\u2D1D"),
        (0x10BE, "\u2D1E"),
        (0x10BF, "\u2D1F"),
        (0x10C0, "\u2D20"),
        (0x10C1, "\u2D21"),
        (0x10C2, "\u2D22"),
        (0x10C3, "\u2D23"),
        (0x10C4, "\u2D24"),
        (0x10C5, "\u2D25"),
        (0x115F, ""),
        (0x1160, ""),
        (0x17B4, ""),
        (0x17B5, ""),
        (0x180E, ""),
        (0x1C89, "\u1C8A"),
        (0x1E9E, "\u00DF"),
        (0x2061, ""),
        (0x2062, ""),
        (0x2063, ""),
        (0x206A, ""),
        (0x206B, ""),
        (0x206C, ""),
        (0x206D, ""),
        (0x206E, ""),
        (0x206F, ""),
        (0x2132, "\u214E"),
        (0x2183, "\u2184"),
        (0x3164, ""),
        (0xA7CB, "\u0264"),
        (0xA7CC, "\uA7CD"),
        (0xA7CE, "\uA7CF"),
        (0xA7D2, "\uA7D3"),
        (0xA7D4, "\uA7D5"),
        (0xA7DA, "\uA7DB"),
        (0xA7DC, "\u019B"),
        (0xA7F1, "\u0073"),
        (0xFFA0, ""),
        (0x10D50, "\U00010D70"),
        (0x10D51, "\U00010D71"),
        (0x10D52, "\U00010D72"),
        (0x10D53, "\U00010D73"),
        (0x10D54, "\U00010D74"),
        (0x10D55, "\U00010D75"),
        (0x10D56, "\U00010D76"),
        (0x10D57, "\U00010D77"),
        (0x10D58, "\U00010D78"),
        (0x10D59, "\U00010D79"),
        (0x10D5A, "\U00010D7A"),
        (0x10D5B, "\U00010D7B"),
        (0x10D5C, "\U00010D7C"),
        (0x10D5D, "\U00010D7D"),
        (0x10D5E, "\U00010D7E"),
        (0x10D5F, "\U00010D7F"),
        (0x10D60, "\U00010D80"),
        (0x10D61, "\U00010D81"),
        (0x10D62, "\U00010D82"),
        (0x10D63, "\U00010D83"),
        (0x10D64, "\U00010D84"),
        (0x10D65, "\U00010D85"),
        (0x16EA0, "\U00016EBB"),
        (0x16EA1, "\U00016EBC"),
        (0x16EA2, "\U00016EBD"),
        (0x16EA3, "\U00016EBE"),
        (0x16EA4, "\U00016EBF"),
        (0x16EA5, "\U00016EC0"),
        (0x16EA6, "\U00016EC1"),
        (0x16EA7, "\U00016EC2"),
        (0x16EA8, "\U00016EC3"),
        (0x16EA9, "\U00016EC4"),
        (0x16EAA, "\U00016EC5"),
        (0x16EAB, "\U00016EC6"),
        (0x16EAC, "\U00016EC7"),
        (0x16EAD, "\U00016EC8"),
        (0x16EAE, "\U00016EC9"),
        (0x16EAF, "\U00016ECA"),
        (0x16EB0, "\U00016ECB"),
        (0x16EB1, "\U00016ECC"),
        (0x16EB2, "\U00016ECD"),
        (0x16EB3, "\U00016ECE"),
        (0x16EB4, "\U00016ECF"),
        (0x16EB5, "\U00016ED0"),
        (0x16EB6, "\U00016ED1"),
        (0x16EB7, "\U00016ED2"),
        (0x16EB8, "\U00016ED3"),
        (0x1CCD6, "\u0061"),
        (0x1CCD7, "\u0062"),
        (0x1CCD8, "\u0063"),
        (0x1CCD9, "\u0064"),
        (0x1CCDA, "\u0065"),
        (0x1CCDB, "\u0066"),
        (0x1CCDC, "\u0067"),
        (0x1CCDD, "\u0068"),
        (0x1CCDE, "\u0069"),
        (0x1CCDF, "\u006A"),
        (0x1CCE0, "\u006B"),
        (0x1CCE1, "\u006C"),
        (0x1CCE2, "\u006D"),
        (0x1CCE3, "\u006E"),
        (0x1CCE4, "\u006F"),
        (0x1CCE5, "\u0070"),
        (0x1CCE6, "\u0071"),
        (0x1CCE7, "\u0072"),
        (0x1CCE8, "\u0073"),
        (0x1CCE9, "\u0074"),
        (0x1CCEA, "\u0075"),
        (0x1CCEB, "\u0076"),
        (0x1CCEC, "\u0077"),
        (0x1CCED, "\u0078"),
        (0x1CCEE, "\u0079"),
        (0x1CCEF, "\u007A"),
        (0x1CCF0, "\u0030"),
        (0x1CCF1, "\u0031"),
        (0x1CCF2, "\u0032"),
        (0x1CCF3, "\u0033"),
        (0x1CCF4, "\u0034"),
        (0x1CCF5, "\u0035"),
        (0x1CCF6, "\u0036"),
        (0x1CCF7, "\u0037"),
        (0x1CCF8, "\u0038"),
        (0x1CCF9, "\u0039"),
        (0x1D173, ""),
        (0x1D174, ""),
        (0x1D175, ""),
        (0x1D176, ""),
        (0x1D177, ""),
        (0x1D178, ""),
        (0x1D179, ""),
        (0x1D17A, ""),
        (0x2F868, "\u36FC"),
        (0x2F874, "\u5F53"),
        (0x2F91F, "\U000243AB"),
        (0x2F95F, "\u7AEE"),
        (0x2F9BF, "\u45D7"),
    ];

    private static readonly int s_min = s_table[0].CodePoint;

    /// <summary>True when <paramref name="domain"/> contains a code point of the table.</summary>
    public static bool Affects(ReadOnlySpan<char> domain)
    {
        foreach (var c in domain)
        {
            if (c >= s_min && (char.IsSurrogate(c) || Find(c) >= 0))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Applies the table to <paramref name="domain"/>, appending the result to <paramref name="destination"/>.</summary>
    public static void Apply(ReadOnlySpan<char> domain, ref CharBuffer destination)
    {
        while (!domain.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(domain, out var rune, out var consumed) != OperationStatus.Done)
            {
                destination.Append(domain[0]);
                domain = domain[1..];
                continue;
            }

            var index = rune.Value >= s_min ? Find(rune.Value) : -1;
            if (index >= 0)
            {
                destination.Append(s_table[index].Replacement);
            }
            else
            {
                destination.Append(domain[..consumed]);
            }

            domain = domain[consumed..];
        }
    }

    private static int Find(int codePoint)
    {
        int lo = 0, hi = s_table.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var value = s_table[mid].CodePoint;
            if (value == codePoint)
            {
                return mid;
            }

            if (value < codePoint)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return -1;
    }
}
