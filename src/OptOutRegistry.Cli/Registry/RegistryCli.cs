using System.CommandLine;
using System.Text.Json;
using Google.Protobuf;
using OptOutRegistry.Cli.Common;
using OptOutRegistry.Client;
using OptOutRegistry.Grpc;

namespace OptOutRegistry.Cli.Registry;

/// <summary>
/// What the holder-side commands share: a <see cref="RegistryClient"/> from <c>--server</c>/<c>--key</c>, one place that
/// turns failures into a message on stderr and an exit code, and JSON output (one object per line).
/// </summary>
internal static class RegistryCli
{
    private static readonly JsonFormatter s_formatter = new(JsonFormatter.Settings.Default);

    /// <summary>Exit code of a failed call or invalid input.</summary>
    public const int Failure = 1;

    /// <summary>Exit code of a usage error (bad flags or file).</summary>
    public const int UsageError = 2;

    /// <summary>Runs <paramref name="action"/> with a client; errors become a message on stderr and a non-zero exit.</summary>
    public static async Task<int> RunAsync(ParseResult parseResult, CancellationToken cancellationToken,
        Func<RegistryClient, bool, CancellationToken, Task<int>> action)
    {
        var (server, key, json) = CommonOptions.Read(parseResult);
        try
        {
            using var client = RegistryClient.Create(server, key);
            return await action(client, json, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return await ReportAsync(ex, server).ConfigureAwait(false);
        }
    }

    /// <summary>Prints an error the way every command does and returns the exit code.</summary>
    public static async Task<int> ReportAsync(Exception ex, string? server)
    {
        switch (ex)
        {
            case RpcException rpc:
                await Console.Error.WriteLineAsync($"optout: {StatusName(rpc.StatusCode)}: {rpc.Status.Detail}").ConfigureAwait(false);
                return Failure;
            case ImportFormatException format:
                await Console.Error.WriteLineAsync($"optout: {format.Message}").ConfigureAwait(false);
                return UsageError;
            case CliUsageException usage:
                await Console.Error.WriteLineAsync($"optout: {usage.Message}").ConfigureAwait(false);
                return UsageError;
            case HttpRequestException http:
                await Console.Error.WriteLineAsync($"optout: cannot reach the registry at {server}: {http.Message}").ConfigureAwait(false);
                return Failure;
            case IOException or UnauthorizedAccessException:
                await Console.Error.WriteLineAsync($"optout: {ex.Message}").ConfigureAwait(false);
                return UsageError;
            case UriFormatException or ArgumentException:
                await Console.Error.WriteLineAsync($"optout: {ex.Message}").ConfigureAwait(false);
                return UsageError;
            default:
                await Console.Error.WriteLineAsync($"optout: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
                return Failure;
        }
    }

    /// <summary>The gRPC status code as its canonical upper-case name (e.g. INVALID_ARGUMENT).</summary>
    public static string StatusName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>A protobuf message as one line of JSON (Google.Protobuf JSON mapping).</summary>
    public static string ToJson(IMessage message) => s_formatter.Format(message);

    /// <summary>Writes one JSON object per line.</summary>
    public static void WriteJson(IMessage message) => Console.Out.WriteLine(ToJson(message));

    /// <summary>Writes an ad-hoc object as one line of JSON.</summary>
    public static void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, s_jsonOptions));

    private static readonly JsonSerializerOptions s_jsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>A timestamp as RFC 3339 UTC, or "-".</summary>
    public static string Time(Google.Protobuf.WellKnownTypes.Timestamp? time) =>
        time is null ? "-" : time.ToDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A selector as text, e.g. <c>domain example.kz</c>.</summary>
    public static string Describe(Api.V1.Selector selector)
    {
        var text = selector.ValueCase switch
        {
            Api.V1.Selector.ValueOneofCase.Url => "url " + selector.Url,
            Api.V1.Selector.ValueOneofCase.Prefix => "prefix " + selector.Prefix,
            Api.V1.Selector.ValueOneofCase.Pattern => $"pattern {selector.Pattern.Host} {selector.Pattern.Path}",
            Api.V1.Selector.ValueOneofCase.Host => "host " + selector.Host,
            Api.V1.Selector.ValueOneofCase.Domain => "domain " + selector.Domain,
            Api.V1.Selector.ValueOneofCase.Sha256 => "sha256 " + selector.Sha256,
            Api.V1.Selector.ValueOneofCase.Iscc => "iscc " + selector.Iscc,
            Api.V1.Selector.ValueOneofCase.Identifier => "identifier " + selector.Identifier,
            _ => "?",
        };
        if (selector.AnyQuery)
        {
            text += " (any query)";
        }

        if (selector.IncludeSubdomains)
        {
            text += " (and subdomains)";
        }

        return text;
    }

    /// <summary>Escapes text for Spectre.Console markup.</summary>
    public static string Markup(string? text) => Spectre.Console.Markup.Escape(text ?? string.Empty);
}

/// <summary>A command-line usage error (bad flag values): printed as is, exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
