using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Server.Hosting;
using OptOutRegistry.Server.RateLimiting;
using OptOutRegistry.Server.Registry;

namespace OptOutRegistry.Server;

/// <summary>
/// The composition root of the registry server, shared by <c>optout-server</c> and <c>optout serve</c>.
/// </summary>
public static partial class ServerHost
{
    /// <summary>Builds, starts and runs the server until SIGTERM/SIGINT or <paramref name="cancellationToken"/>.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        WebApplication app;
        try
        {
            app = Build(args);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"optout-server: {ex.Message}");
            return 2;
        }

        await using (app)
        {
            await app.StartAsync(cancellationToken);
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OptOutRegistry.Server");
            foreach (var address in addresses)
            {
                LogListening(log, address);
            }

            await app.WaitForShutdownAsync(cancellationToken);
            LogStopped(log);
        }

        return 0;
    }

    /// <summary>Builds the application without starting it (tests start it themselves).</summary>
    public static WebApplication Build(string[] args) => Build(args, null);

    /// <summary>
    /// <see cref="Build(string[])"/>, with <paramref name="configureServices"/> run after every component is registered:
    /// tests substitute a service there (e.g. a store that fails on purpose).
    /// </summary>
    internal static WebApplication Build(string[] args, Action<IServiceCollection>? configureServices)
    {
        // --urls is taken out of the arguments before ASP.NET sees them: the host binds those addresses itself
        // (see ListenAddress), and ASP.NET would otherwise try to bind them a second time.
        var hostArgs = TakeOption(TakeOption(args, "urls", out var urlsArgument), "http-urls", out var httpUrlsArgument);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = hostArgs });
        LoggingDefaults.Apply(builder.Configuration);
        var configuration = builder.Configuration;

        var dataDirectory = Path.GetFullPath(configuration["data-dir"] ?? configuration["DataDir"] ?? ServerDefaults.DataDirectory);
        Directory.CreateDirectory(dataDirectory);

        var grpcUrls = ListenAddress.ParseList(urlsArgument ?? configuration["urls"] ?? ServerDefaults.GrpcUrls, "--urls");
        configuration[WebHostDefaults.ServerUrlsKey] = string.Empty;

        // The JSON/Spawning gateways for plain HTTP clients. In cleartext they need their own HTTP/1.1 addresses (see
        // ListenAddress); over TLS the gRPC addresses serve them too through ALPN. "none" turns them off.
        var httpUrlsSetting = httpUrlsArgument ?? configuration["http-urls"] ?? ServerDefaults.HttpUrls;
        var httpUrls = string.Equals(httpUrlsSetting, "none", StringComparison.OrdinalIgnoreCase)
            ? []
            : ListenAddress.ParseList(httpUrlsSetting, "--http-urls");
        // --tls-cert/--tls-key (docs/limits.md "TLS"); loaded once, before binding, so a bad file stops the start with its name.
        var tls = TlsOptions.FromConfiguration(configuration);
        var certificate = grpcUrls.Any(a => a.IsHttps) || httpUrls.Any(a => a.IsHttps) ? tls.LoadCertificate() : null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // docs/limits.md: Kestrel's limits (streams per connection, header sizes, timeouts) from --Kestrel:Limits:*;
            // ASP.NET Core binds only endpoints and certificates from the Kestrel section by itself.
            configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
            foreach (var address in grpcUrls)
            {
                Bind(kestrel, address, address.IsHttps ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http2, tls, certificate);
            }

            foreach (var address in httpUrls)
            {
                Bind(kestrel, address, address.IsHttps ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1, tls, certificate);
            }
        });

        builder.Services.AddSingleton(new ServerPaths(dataDirectory));
        builder.Services.AddGrpcTransport(options =>
        {
            if (configuration.GetValue<int?>("max-receive-message-size") is { } maxReceive)
            {
                options.MaxReceiveMessageSize = maxReceive;
            }

            // docs/limits.md: a request stream (CheckStream, ImportReservations) without a message for this long is ended.
            var idleSeconds = configuration.GetValue("stream-idle-timeout-seconds", ServerDefaults.StreamIdleTimeoutSeconds);
            options.StreamIdleTimeout = idleSeconds > 0 ? TimeSpan.FromSeconds(idleSeconds) : null;
        });

        // Components: one AddXxx line each.
        builder.Services.AddRegistry(configuration);
        builder.Services.AddCheckServices(configuration);
        builder.Services.AddRequestRateLimits(configuration);
        builder.Services.AddKeepCpusAwake(configuration);
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();

        // Endpoints: one MapXxx line each. Health and reflection let grpcurl, grpcui and load balancers work
        // without our .proto files.
        // Before the endpoints: Registry and Feed calls over their address's rate are answered here (docs/limits.md).
        app.UseRequestRateLimits();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        app.MapRegistry();
        app.MapCheckServices();

        return app;
    }

    /// <summary>Removes <c>--name value</c> or <c>--name=value</c> from the arguments and returns its value.</summary>
    private static string[] TakeOption(string[] args, string name, out string? value)
    {
        value = null;
        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--" + name && i + 1 < args.Length)
            {
                value = args[++i];
            }
            else if (arg.StartsWith("--" + name + "=", StringComparison.Ordinal))
            {
                value = arg[(name.Length + 3)..];
            }
            else
            {
                rest.Add(arg);
            }
        }

        return [.. rest];
    }

    private static void Bind(KestrelServerOptions kestrel, ListenAddress address, HttpProtocols protocols, TlsOptions tls, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        void Configure(ListenOptions listen)
        {
            listen.Protocols = protocols;
            if (address.IsHttps)
            {
                // --tls-cert, else Kestrel's own certificate configuration (Kestrel:Certificates:Default:Path, or the
                // development certificate); TLS 1.2/1.3 only either way.
                listen.UseHttps(https => tls.Configure(https, certificate));
            }
        }

        if (address.BindAddress is { } ip)
        {
            kestrel.Listen(ip, address.Port, Configure);
        }
        else
        {
            kestrel.ListenLocalhost(address.Port, Configure);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "OptOutRegistry listening on {Address}")]
    private static partial void LogListening(ILogger logger, string address);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "OptOutRegistry stopped")]
    private static partial void LogStopped(ILogger logger);
}

/// <summary>Where the server keeps its files.</summary>
public sealed record ServerPaths(string DataDirectory);
