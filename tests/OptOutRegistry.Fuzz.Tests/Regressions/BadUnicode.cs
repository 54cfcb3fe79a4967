namespace OptOutRegistry.Fuzz.Tests.Regressions;

/// <summary>
/// Strings the fuzzer found to break JSON readers: JsonDocument.Parse and Utf8JsonReader.Read check structure only,
/// so an unpaired surrogate escape or invalid UTF-8 inside a string passes them and then makes GetString/CopyString
/// throw InvalidOperationException, an exception none of the parsers documented.
/// </summary>
public static class BadUnicode
{
    /// <summary>Escaped strings with unpaired surrogates (as they appear inside JSON quotes).</summary>
    public static TheoryData<string> Escapes() => new()
    {
        "\\ud800",
        "\\udc00",
        "a\\ud83dz",
    };
}
