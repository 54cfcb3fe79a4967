namespace OptOutRegistry.Signals.Tests;

/// <summary>Locates the test corpora copied next to the test assembly.</summary>
internal static class Corpus
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "corpora", .. parts]);

    public static string Read(params string[] parts) => File.ReadAllText(Path(parts));
}
