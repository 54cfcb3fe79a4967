namespace OptOutRegistry.Fuzz.Parsers;

/// <summary>
/// One parser under fuzz: how to feed it bytes, which seeds to start from, and which exceptions are its documented
/// error results. Anything else it throws, any hang and any input slower than the per-input limit is a finding.
/// </summary>
public sealed class ParserTarget
{
    /// <summary>Creates a target.</summary>
    /// <param name="name">Stable name used in reports and on the command line (e.g. <c>robots.txt</c>).</param>
    /// <param name="run">Feeds one input to the parser and exercises what it returned.</param>
    /// <param name="seeds">Valid (and some known-odd) inputs that mutations start from.</param>
    /// <param name="dictionary">Tokens of the format inserted by the mutator.</param>
    /// <param name="documentedErrors">Exception types the parser documents as its error result; empty for "never throws".</param>
    /// <param name="maxInputLength">Longest input generated.</param>
    public ParserTarget(string name, Action<byte[]> run, IReadOnlyList<byte[]> seeds, IReadOnlyList<string> dictionary, IReadOnlyList<Type> documentedErrors, int maxInputLength = 16 * 1024)
    {
        Name = name;
        Run = run;
        Seeds = seeds;
        Dictionary = dictionary;
        DocumentedErrors = documentedErrors;
        MaxInputLength = maxInputLength;
    }

    /// <summary>Stable name.</summary>
    public string Name { get; }

    /// <summary>Feeds one input.</summary>
    public Action<byte[]> Run { get; }

    /// <summary>Seeds.</summary>
    public IReadOnlyList<byte[]> Seeds { get; }

    /// <summary>Format tokens.</summary>
    public IReadOnlyList<string> Dictionary { get; }

    /// <summary>Exception types that are the parser's documented error result (subclasses included).</summary>
    public IReadOnlyList<Type> DocumentedErrors { get; }

    /// <summary>Longest input generated.</summary>
    public int MaxInputLength { get; }

    /// <summary>Whether <paramref name="exception"/> is a documented error result of this parser.</summary>
    public bool IsDocumented(Exception exception)
    {
        foreach (var type in DocumentedErrors)
        {
            if (type.IsInstanceOfType(exception))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
