using System.Globalization;
using OptOutRegistry.Grpc;

namespace OptOutRegistry.Server.Replication;

/// <summary>
/// On a replica, answers every <c>optout.v1.Registry</c> call with FAILED_PRECONDITION "read-only replica of URL"
/// before it reaches the Registry service. Writes must go to the primary; reads too, because a replica holds only the
/// matcher (no reservation rows, holders or receipts) and an empty local store would answer NOT_FOUND misleadingly.
/// </summary>
public static class ReadOnlyReplicaMiddleware
{
    private const string RegistryPrefix = "/optout.v1.Registry/";

    /// <summary>Adds the middleware when this server is a replica.</summary>
    public static void UseReadOnlyReplica(this IApplicationBuilder app, ReplicaOptions options)
    {
        if (options.FollowUrl is not { } primary)
        {
            return;
        }

        var detail = Uri.EscapeDataString($"read-only replica of {primary}: send registry calls to the primary");
        var status = ((int)StatusCode.FailedPrecondition).ToString(CultureInfo.InvariantCulture);
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(RegistryPrefix.TrimEnd('/'), StringComparison.Ordinal))
            {
                // A gRPC trailers-only response (PROTOCOL-HTTP2.md "Responses": the status travels in the headers).
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = status;
                context.Response.Headers["grpc-message"] = detail;
                return;
            }

            await next(context);
        });
    }
}
