using System.Globalization;
using System.Text;

namespace OptOutRegistry.Storage;

/// <summary>
/// The one text normalisation both stores index and query with, so that SQLite and PostgreSQL find the same
/// works: lower-case (invariant), canonical decomposition with combining marks removed (é→e, ё→е, й→и), and every
/// run of characters that are not letters or digits turned into one space. Kazakh letters without a decomposition
/// (ә ғ қ ң ө ұ ү һ і) are kept as they are. Done here, not by the databases, because SQLite's unicode61 does not
/// fold Cyrillic diacritics (ё stays distinct from е) and PostgreSQL's unaccent may be absent.
/// </summary>
public static class SearchText
{
    /// <summary>Normalises text for indexing or querying; returns words separated by single spaces.</summary>
    public static string Normalize(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        // ASCII has nothing to decompose; skip the normaliser's allocation on the common case.
        var decomposed = System.Text.Ascii.IsValid(text) ? text : text.Normalize(NormalizationForm.FormKD);
        var builder = new StringBuilder(decomposed.Length);
        var pendingSpace = false;
        Span<char> chars = stackalloc char[2];
        foreach (var rune in decomposed.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
            {
                continue;
            }

            if (Rune.IsLetterOrDigit(rune))
            {
                if (pendingSpace && builder.Length > 0)
                {
                    builder.Append(' ');
                }

                pendingSpace = false;
                var lower = Rune.ToLowerInvariant(rune);
                builder.Append(chars[..lower.EncodeToUtf16(chars)]);
            }
            else
            {
                pendingSpace = true;
            }
        }

        return builder.ToString();
    }

    /// <summary>The normalised words of a query (empty when it has none).</summary>
    public static string[] Words(string? query) =>
        Normalize(query).Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
