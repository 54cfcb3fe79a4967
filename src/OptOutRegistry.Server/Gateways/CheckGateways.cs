using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Server.Replication;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Gateways;

/// <summary>
/// HTTP/1.1 gateways over the same check engine, for clients without gRPC (DESIGN.md "Interfaces"):
/// <c>POST /v1/check</c> (Google.Protobuf's JSON mapping of <c>CheckBatchRequest</c>/<c>CheckBatchResponse</c>),
/// <c>GET /v1/reservations/{id}</c> (a reservation's public fields) and the Spawning-compatible
/// <c>POST /api/v2/query/urls</c> (standards.md §2.2), so datadiligence and Hugging Face's dataset viewer work by
/// changing the base address.
/// </summary>
public static class CheckGateways
{
    /// <summary>Largest request body accepted by the gateways (16 MiB: 10,000 URLs of up to ~1.6 KiB each).</summary>
    public const int MaxBodyBytes = 16 * 1024 * 1024;

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    /// <summary>Maps the three gateway routes.</summary>
    public static void MapCheckGateways(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/check", CheckJsonAsync);
        endpoints.MapGet("/v1/reservations/{id}", GetReservationAsync);
        // datadiligence posts to ".../query/urls/" and Hugging Face to ".../query/urls" (standards.md §2.2): routing
        // matches both with one route (a trailing slash is optional in ASP.NET Core route templates).
        endpoints.MapPost("/api/v2/query/urls", SpawningQueryAsync);
    }

    private static async Task CheckJsonAsync(HttpContext http, CheckEngine engine, CheckAccess access)
    {
        var body = await ReadBodyAsync(http);
        if (body is null)
        {
            return;
        }

        Pb.CheckBatchRequest request;
        try
        {
            request = Parser.Parse<Pb.CheckBatchRequest>(body);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            await ErrorAsync(http, StatusCode.InvalidArgument, $"body: not a CheckBatchRequest in JSON: {ex.Message}");
            return;
        }

        try
        {
            await access.AdmitAsync(http, request.Subjects.Count);
            var response = engine.CheckBatch(request);
            http.Response.ContentType = "application/json; charset=utf-8";
            await http.Response.WriteAsync(Formatter.Format(response), http.RequestAborted);
        }
        catch (RpcException ex)
        {
            await ErrorAsync(http, ex.StatusCode, ex.Status.Detail, ex.Trailers.GetValue(CheckAccess.RetryAfterTrailer));
        }
    }

    private static async Task GetReservationAsync(HttpContext http, string id, IServiceProvider services, ReplicaOptions replica)
    {
        if (replica.FollowUrl is { } primary)
        {
            await ErrorAsync(http, StatusCode.FailedPrecondition, $"read-only replica of {primary}: ask the primary for reservations");
            return;
        }

        if (services.GetService<IRegistryStore>() is not { } store)
        {
            await ErrorAsync(http, StatusCode.Unavailable, "the registry store is not configured");
            return;
        }

        var record = await store.GetReservationAsync(id, http.RequestAborted);
        if (record is null)
        {
            await ErrorAsync(http, StatusCode.NotFound, $"reservation '{id}' does not exist");
            return;
        }

        // The stored payload is the public Reservation message (it never holds the holder's private contact data).
        var reservation = Pb.Reservation.Parser.ParseFrom(record.Payload);
        http.Response.ContentType = "application/json; charset=utf-8";
        await http.Response.WriteAsync(Formatter.Format(reservation), http.RequestAborted);
    }

    // standards.md §2.2: body = URLs joined by "\n" (UTF-8); answer {"urls":[{"url","optOut","optIn"}]} in input order.
    // A trailing newline (Hugging Face pads with an empty URL) adds no entry; an empty line inside keeps its position.
    // Purpose: Spawning's registry is "Do Not Train", so the default is train-ai; ?purpose= picks another category.
    private static async Task SpawningQueryAsync(HttpContext http, CheckEngine engine, CheckAccess access)
    {
        var purpose = UsageCategory.TrainAi;
        if (http.Request.Query["purpose"] is { Count: > 0 } p && !UsageCategories.TryParse(p.ToString(), out purpose))
        {
            await ErrorAsync(http, StatusCode.InvalidArgument, $"purpose: '{p}' is not one of all, train-ai, train-genai, ai-use, search");
            return;
        }

        var body = await ReadBodyAsync(http);
        if (body is null)
        {
            return;
        }

        var lines = body.Split('\n');
        var count = lines.Length;
        if (count > 0 && lines[count - 1].Length == 0)
        {
            count--;
        }

        if (count > CheckEngine.MaxSubjects)
        {
            await ErrorAsync(http, StatusCode.InvalidArgument, $"body: {count} URLs; at most {CheckEngine.MaxSubjects} per request");
            return;
        }

        try
        {
            await access.AdmitAsync(http, count);
        }
        catch (RpcException ex)
        {
            await ErrorAsync(http, ex.StatusCode, ex.Status.Detail, ex.Trailers.GetValue(CheckAccess.RetryAfterTrailer));
            return;
        }

        http.Response.ContentType = "application/json";
        // URLs are echoed as sent (é stays é), as Spawning's own answers do; only JSON's required escapes apply.
        await using var json = new Utf8JsonWriter(http.Response.BodyWriter.AsStream(),
            new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteStartArray("urls");
        for (var i = 0; i < count; i++)
        {
            var url = lines[i].TrimEnd('\r');
            var verdict = url.Length == 0 ? Verdict.Unknown : engine.CheckUrl(url, purpose);
            json.WriteStartObject();
            json.WriteString("url", url);
            json.WriteBoolean("optOut", verdict == Verdict.Disallowed);
            json.WriteBoolean("optIn", verdict == Verdict.Allowed);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(http.RequestAborted);
    }

    private static async Task<string?> ReadBodyAsync(HttpContext http)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            await ErrorAsync(http, StatusCode.ResourceExhausted, $"body: {http.Request.ContentLength} bytes; at most {MaxBodyBytes}");
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                await ErrorAsync(http, StatusCode.ResourceExhausted, $"body: more than {MaxBodyBytes} bytes");
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
        catch (DecoderFallbackException)
        {
            await ErrorAsync(http, StatusCode.InvalidArgument, "body: not valid UTF-8");
            return null;
        }
    }

    private static async Task ErrorAsync(HttpContext http, StatusCode code, string message, string? retryAfterMs = null)
    {
        http.Response.StatusCode = code switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange => 400,
            StatusCode.Unauthenticated => 401,
            StatusCode.PermissionDenied => 403,
            StatusCode.NotFound => 404,
            StatusCode.FailedPrecondition => 409,
            StatusCode.ResourceExhausted when retryAfterMs is null => 413,
            StatusCode.ResourceExhausted => 429,
            StatusCode.Unavailable => 503,
            _ => 500,
        };
        if (retryAfterMs is not null && long.TryParse(retryAfterMs, CultureInfo.InvariantCulture, out var ms))
        {
            // RFC 9110 §10.2.3: Retry-After is in whole seconds.
            http.Response.Headers.RetryAfter = Math.Max(1, (ms + 999) / 1000).ToString(CultureInfo.InvariantCulture);
        }

        http.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body);
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("code", CodeName(code));
        json.WriteString("message", message);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static string CodeName(StatusCode code)
    {
        var name = code.ToString();
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                sb.Append('_');
            }

            sb.Append(char.ToUpperInvariant(name[i]));
        }

        return sb.ToString();
    }
}
