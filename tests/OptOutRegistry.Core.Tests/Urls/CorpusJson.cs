using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OptOutRegistry.Core.Tests.Urls;

/// <summary>
/// Reads the wpt JSON corpora. Their strings may hold lone surrogates (<c>"\uD800"</c>), which
/// System.Text.Json refuses to unescape, so string values are unescaped here from the raw JSON text.
/// </summary>
internal static class CorpusJson
{
    public static List<JsonElement> LoadObjects(string folder, string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "corpora", folder, file)));
        var list = new List<JsonElement>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                list.Add(e.Clone());
            }
        }

        return list;
    }

    /// <summary>The string value of <paramref name="name"/>, or null when absent or JSON null.</summary>
    public static string? GetString(this JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        var raw = value.GetRawText();
        var sb = new StringBuilder(raw.Length);
        for (var i = 1; i < raw.Length - 1; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            var e = raw[++i];
            switch (e)
            {
                case 'u':
                    sb.Append((char)int.Parse(raw.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                default: sb.Append(e); break;
            }
        }

        return sb.ToString();
    }

    /// <summary>Display text for a test case name: JSON-escaped so control characters and lone surrogates survive discovery.</summary>
    public static string Display(string? s)
    {
        if (s is null)
        {
            return "null";
        }

        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c < 0x20 || c > 0x7E)
            {
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append('"').ToString();
    }
}
