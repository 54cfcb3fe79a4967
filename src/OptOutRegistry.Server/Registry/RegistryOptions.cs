namespace OptOutRegistry.Server.Registry;

/// <summary>
/// Configuration of the Registry service (command line or appsettings; keys in brackets).
/// </summary>
public sealed class RegistryOptions
{
    /// <summary>[<c>signup</c>] <c>open</c>: anyone may create a holder account; <c>admin</c>: only with the admin key.</summary>
    public bool OpenSignup { get; set; } = true;

    /// <summary>[<c>verification:scheme</c>] Scheme of the well-known and home-page fetches. https in production; tests use http.</summary>
    public string VerificationScheme { get; set; } = "https";

    /// <summary>[<c>verification:port</c>] Port of those fetches; null for the scheme's default. For tests against a local site.</summary>
    public int? VerificationPort { get; set; }

    /// <summary>
    /// [<c>verification:connect-address</c>] Connect every well-known/home-page fetch to this IP address instead of
    /// resolving the host (like curl's --connect-to); the Host header and TLS name stay the host's. For staging and tests.
    /// </summary>
    public System.Net.IPAddress? ConnectAddress { get; set; }

    /// <summary>[<c>verification:dns-server</c>] DNS resolver for TXT verification ("IP[:port]"); null: /etc/resolv.conf.</summary>
    public string? DnsServer { get; set; }

    /// <summary>[<c>verification:token-lifetime-hours</c>] How long a verification token is accepted.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>[<c>verification:timeout-seconds</c>] Timeout of each verification fetch or DNS query.</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest import batch committed in one transaction.</summary>
    public int ImportBatchSize { get; set; } = 1000;

    /// <summary>Reads the options from configuration.</summary>
    /// <exception cref="ArgumentException">A value is malformed (names the key).</exception>
    public static RegistryOptions FromConfiguration(IConfiguration configuration)
    {
        var options = new RegistryOptions();
        var signup = configuration["signup"];
        if (signup is not null)
        {
            options.OpenSignup = signup.ToLowerInvariant() switch
            {
                "open" => true,
                "admin" or "admin-only" => false,
                _ => throw new ArgumentException($"--signup: '{signup}' is not open or admin"),
            };
        }

        if (configuration["verification:scheme"] is { } scheme)
        {
            if (scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"--verification:scheme: '{scheme}' is not http or https");
            }

            options.VerificationScheme = scheme;
        }

        if (configuration["verification:port"] is { } port)
        {
            if (!int.TryParse(port, out var p) || p is < 1 or > 65535)
            {
                throw new ArgumentException($"--verification:port: '{port}' is not a port number");
            }

            options.VerificationPort = p;
        }

        if (configuration["verification:connect-address"] is { } connect)
        {
            options.ConnectAddress = System.Net.IPAddress.TryParse(connect, out var ip)
                ? ip
                : throw new ArgumentException($"--verification:connect-address: '{connect}' is not an IP address");
        }

        options.DnsServer = configuration["verification:dns-server"];
        if (options.DnsServer is not null)
        {
            DnsTxtResolver.ParseEndpoint(options.DnsServer);
        }

        if (configuration["verification:token-lifetime-hours"] is { } hours)
        {
            if (!double.TryParse(hours, System.Globalization.CultureInfo.InvariantCulture, out var h) || h <= 0)
            {
                throw new ArgumentException($"--verification:token-lifetime-hours: '{hours}' is not a positive number");
            }

            options.TokenLifetime = TimeSpan.FromHours(h);
        }

        if (configuration["verification:timeout-seconds"] is { } seconds)
        {
            if (!double.TryParse(seconds, System.Globalization.CultureInfo.InvariantCulture, out var s) || s <= 0)
            {
                throw new ArgumentException($"--verification:timeout-seconds: '{seconds}' is not a positive number");
            }

            options.FetchTimeout = TimeSpan.FromSeconds(s);
        }

        return options;
    }
}
