using System.Text;

namespace OptOutRegistry.Benchmarks.Fingerprints;

/// <summary>Deterministic benchmark inputs (no files needed).</summary>
internal static class Inputs
{
    private static readonly string[] EnglishWords =
    [
        "the", "registry", "keeps", "opt-out", "declarations", "from", "rights", "holders,", "and", "checks", "every",
        "crawled", "document", "against", "them", "before", "it", "enters", "a", "training", "set.", "While", "crawler",
        "fetches", "pages", "at", "high", "rates", "filter", "must", "decide", "quickly", "whether", "content", "was",
        "reserved;", "publishers", "archive", "novel", "chapter", "photograph", "licence", "machine-readable", "notice",
    ];

    private static readonly string[] RussianWords =
    [
        "правообладатели", "регистрируют", "отказ", "от", "использования", "своих", "произведений", "для", "обучения",
        "моделей;", "фильтр", "проверяет", "каждый", "документ", "перед", "тем,", "как", "он", "попадёт", "в", "набор",
        "данных.", "Қазақстан", "мемлекет", "ёлка", "йогурт", "әдебиет", "тілі",
    ];

    /// <summary>About <paramref name="bytes"/> UTF-8 bytes of word salad in the given language.</summary>
    public static string Text(int bytes, bool russian)
    {
        var words = russian ? RussianWords : EnglishWords;
        var rng = new Random(42);
        var sb = new StringBuilder(bytes);
        var utf8 = 0;
        var inLine = 0;
        while (utf8 < bytes)
        {
            var w = words[rng.Next(words.Length)];
            sb.Append(w);
            utf8 += Encoding.UTF8.GetByteCount(w) + 1;
            if (++inLine == 14)
            {
                sb.Append('\n');
                inLine = 0;
            }
            else
            {
                sb.Append(' ');
            }
        }

        return sb.ToString();
    }

    /// <summary>Pseudo-random bytes (incompressible, like media files).</summary>
    public static byte[] Bytes(int length)
    {
        var data = new byte[length];
        new Random(1).NextBytes(data);
        return data;
    }
}
