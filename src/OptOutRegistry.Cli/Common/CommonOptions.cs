using System.CommandLine;
using OptOutRegistry.Server;

namespace OptOutRegistry.Cli.Common;

/// <summary>
/// The options every client command takes: <c>--server</c>, <c>--key</c> (or <c>OPTOUT_KEY</c>) and <c>--json</c>.
/// Commands add them with <see cref="AddTo"/> and read them with <see cref="Read"/>.
/// </summary>
internal static class CommonOptions
{
    /// <summary>The registry's gRPC address. Default: the local service.</summary>
    public static readonly Option<string> Server = new("--server")
    {
        Description = $"The registry's gRPC address. Default: $OPTOUT_SERVER or {ServerDefaults.GrpcUrls}",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OPTOUT_SERVER") is { Length: > 0 } s ? s : ServerDefaults.GrpcUrls,
    };

    /// <summary>The API key (holder or admin). Default: <c>OPTOUT_KEY</c>.</summary>
    public static readonly Option<string?> Key = new("--key")
    {
        Description = "API key sent as 'authorization: Bearer KEY'. Default: $OPTOUT_KEY",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OPTOUT_KEY") is { Length: > 0 } k ? k : null,
    };

    /// <summary>Machine-readable output: one JSON object per result, one per line.</summary>
    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per result (one per line) instead of tables.",
    };

    public static void AddTo(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(Key);
        command.Options.Add(Json);
    }

    public static (string Server, string? Key, bool Json) Read(ParseResult parseResult) =>
        (parseResult.GetValue(Server)!, parseResult.GetValue(Key), parseResult.GetValue(Json));
}
