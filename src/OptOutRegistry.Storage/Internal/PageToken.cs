using System.Globalization;

namespace OptOutRegistry.Storage.Internal;

/// <summary>Keyset page tokens: "r" + the created_seq of the last row returned. Opaque to callers.</summary>
internal static class PageToken
{
    public static string Encode(long lastCreatedSequence) => "r" + lastCreatedSequence.ToString(CultureInfo.InvariantCulture);

    public static long Decode(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return -1;
        }

        if (token.Length < 2 || token[0] != 'r'
            || !long.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new ArgumentException("page_token: not a token issued by this registry", nameof(token));
        }

        return value;
    }
}
