namespace OptOutRegistry.Fuzz;

/// <summary>What went wrong with one input.</summary>
public enum FindingKind
{
    /// <summary>An exception other than the documented error result.</summary>
    UndocumentedException,

    /// <summary>One input took longer than the per-input limit.</summary>
    Slow,

    /// <summary>The parser did not return at all within the grace period (the run was abandoned).</summary>
    Hang,

    /// <summary>An RPC got no gRPC status and no clean HTTP error or reset.</summary>
    NoStatus,

    /// <summary>An RPC was answered UNKNOWN, i.e. a handler threw an exception nobody turned into a status.</summary>
    UnknownStatus,

    /// <summary>The server logged an error with an exception.</summary>
    ErrorLogged,

    /// <summary>The server stopped answering its health check.</summary>
    ServerDown,
}

/// <summary>One finding, with enough to reproduce it.</summary>
/// <param name="Target">Parser or RPC case.</param>
/// <param name="Kind">What went wrong.</param>
/// <param name="Detail">Exception type and message, status, or timing.</param>
/// <param name="Input">The input as base64 (truncated to 4 KiB of input).</param>
public sealed record FuzzFinding(string Target, FindingKind Kind, string Detail, string Input)
{
    /// <summary>Encodes an input for the report.</summary>
    public static string Encode(ReadOnlySpan<byte> input) => Convert.ToBase64String(input.Length > 4096 ? input[..4096] : input);

    /// <inheritdoc />
    public override string ToString() => $"{Target}: {Kind}: {Detail} input(base64)={Input}";
}

/// <summary>Counts of one target's run.</summary>
/// <param name="Target">Name.</param>
/// <param name="Inputs">Inputs tried.</param>
/// <param name="DocumentedErrors">Inputs answered with the documented error result.</param>
/// <param name="Elapsed">Wall time of the run.</param>
/// <param name="SlowestInput">The slowest single input.</param>
/// <param name="Findings">What went wrong (distinct by kind and exception type; first input kept).</param>
public sealed record FuzzTargetResult(string Target, long Inputs, long DocumentedErrors, TimeSpan Elapsed, TimeSpan SlowestInput, IReadOnlyList<FuzzFinding> Findings);
