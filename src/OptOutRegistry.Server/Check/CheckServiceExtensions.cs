using System.Security.Cryptography;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Feed;
using OptOutRegistry.Server.Gateways;
using OptOutRegistry.Server.Matching;
using OptOutRegistry.Server.RateLimiting;
using OptOutRegistry.Server.Replication;
using OptOutRegistry.Snapshots;

namespace OptOutRegistry.Server.Check;

/// <summary>Registers and maps the Check and Feed services, the matcher, replicas and the HTTP gateways.</summary>
public static class CheckServiceExtensions
{
    /// <summary>
    /// Adds the matcher (<see cref="RegistryMirror"/>) and what keeps it current — <see cref="MatcherHost"/> tailing the
    /// store, or with <c>--follow URL</c> a <see cref="ReplicaFollower"/> — plus the check engine, access control and
    /// rate limits. Configuration keys: <c>follow</c>, <c>check-require-key</c>, <c>check-rate-limit-per-address</c>,
    /// <c>check-rate-limit-per-key</c>, <c>follow-key</c>, <c>warm-up</c>.
    /// </summary>
    public static IServiceCollection AddCheckServices(this IServiceCollection services, IConfiguration configuration)
    {
        var follow = configuration["follow"];
        var followKey = configuration["follow-key"];
        var replica = new ReplicaOptions(
            string.IsNullOrWhiteSpace(follow) ? null : ValidateFollow(follow),
            string.IsNullOrWhiteSpace(followKey) ? null : ReadFollowKey(followKey));
        services.AddSingleton(replica);
        services.TryAddSingletonTimeProvider();
        services.AddSingleton(new RegistryMirror());
        // --warm-up on|off (Warmup/ServerWarmUp.cs): ready only after the server has sent itself a few checks.
        var warmUp = Warmup.WarmUpOptions.Parse(configuration["warm-up"]);
        services.AddSingleton(warmUp);
        services.AddSingleton<Matching.MatcherReadiness>();
        services.AddSingleton<Warmup.WarmUpGate>();
        services.AddSingleton<CheckEngine>();
        services.AddSingleton(new CheckAccessOptions
        {
            RequireKey = configuration.GetValue("check-require-key", false),
            WaitForMatcher = CheckAccessOptions.ParseWaitForMatcher(configuration["check-wait-for-matcher"]),
        });
        services.AddSingleton(new CheckRateLimitOptions
        {
            PerAddressPerSecond = configuration.GetValue("check-rate-limit-per-address", CheckRateLimitOptions.DefaultPerAddress),
            PerKeyPerSecond = configuration.GetValue("check-rate-limit-per-key", CheckRateLimitOptions.DefaultPerKey),
        });
        services.AddSingleton<CheckRateLimiter>();
        services.AddSingleton<CheckAccess>();
        services.AddSingleton<CheckService>();
        services.AddSingleton<FeedService>();
        services.AddSingleton<FeedSigning>();
        services.AddSingleton<SnapshotProvider>();
        if (replica.IsReplica)
        {
            services.AddHostedService<ReplicaFollower>();
        }
        else
        {
            services.AddHostedService<MatcherHost>();
        }

        services.AddHostedService<Warmup.ServerWarmUp>();

        return services;
    }

    /// <summary>Maps <c>optout.v1.Check</c>, <c>optout.v1.Feed</c>, the HTTP gateways, and on a replica the read-only guard.</summary>
    public static WebApplication MapCheckServices(this WebApplication app)
    {
        app.UseReadOnlyReplica(app.Services.GetRequiredService<ReplicaOptions>());
        var check = app.Services.GetRequiredService<CheckService>();
        app.MapGrpcService(Api.V1.CheckReflection.Descriptor.Services[0], check.Bind);
        var feed = app.Services.GetRequiredService<FeedService>();
        app.MapGrpcService(Api.V1.FeedReflection.Descriptor.Services[0], feed.Bind);
        app.MapCheckGateways();
        return app;
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    private static byte[] ReadFollowKey(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"--follow-key: cannot read '{path}': {ex.Message}");
        }

        if (!PemEncoding.TryFind(text, out var pem) || !text[pem.Label].SequenceEqual("PUBLIC KEY"))
        {
            throw new FormatException($"--follow-key: '{path}' holds no PEM \"PUBLIC KEY\" block (the SPKI PEM the primary publishes through Feed.GetPublicKey)");
        }

        return Convert.FromBase64String(text[pem.Base64Data]);
    }

    private static string ValidateFollow(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new FormatException($"--follow: '{url}' is not an http(s) URL of the primary's gRPC address");
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }
}
