using System.Net;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// One entry of ASP.NET Core's <c>--urls</c> syntax (<c>http://host:port</c>, <c>https://…</c>, <c>*</c>/<c>+</c> for any
/// address, <c>localhost</c> for both loopbacks). The host binds these itself instead of letting ASP.NET do it because
/// cleartext gRPC needs HTTP/2 with prior knowledge on exactly those endpoints: Kestrel does not accept h2c on an endpoint
/// that also speaks HTTP/1.1, while TLS endpoints negotiate HTTP/2 or HTTP/1.1 through ALPN.
/// </summary>
public sealed record ListenAddress(bool IsHttps, string Host, int Port)
{
    public static IReadOnlyList<ListenAddress> ParseList(string urls, string settingName)
    {
        var result = new List<ListenAddress>();
        foreach (var part in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            result.Add(Parse(part, settingName));
        }

        if (result.Count == 0)
        {
            throw new FormatException($"{settingName}: no address given.");
        }

        return result;
    }

    public static ListenAddress Parse(string url, string settingName)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            throw new FormatException($"{settingName}: '{url}' is not an address like http://127.0.0.1:50051.");
        }

        var scheme = url[..schemeEnd].ToLowerInvariant();
        if (scheme is not ("http" or "https"))
        {
            throw new FormatException($"{settingName}: '{url}' has scheme '{scheme}'; only http and https are served.");
        }

        var rest = url[(schemeEnd + 3)..].TrimEnd('/');
        string host;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']');
            if (close < 0)
            {
                throw new FormatException($"{settingName}: '{url}' has an unterminated IPv6 literal.");
            }

            host = rest[1..close];
            if (close + 1 < rest.Length)
            {
                if (rest[close + 1] != ':')
                {
                    throw new FormatException($"{settingName}: '{url}' has text after the IPv6 literal.");
                }

                portText = rest[(close + 2)..];
            }
        }
        else
        {
            var colon = rest.LastIndexOf(':');
            host = colon >= 0 ? rest[..colon] : rest;
            portText = colon >= 0 ? rest[(colon + 1)..] : null;
        }

        var isHttps = scheme == "https";
        var port = isHttps ? 443 : 80;
        if (portText is not null && (!int.TryParse(portText, System.Globalization.NumberStyles.None, null, out port) || port > 65535))
        {
            throw new FormatException($"{settingName}: '{url}' has an invalid port '{portText}'.");
        }

        if (host.Length == 0)
        {
            throw new FormatException($"{settingName}: '{url}' has no host.");
        }

        return new ListenAddress(isHttps, host, port);
    }

    /// <summary>The IP address to bind, or null for <c>localhost</c> (both loopbacks).</summary>
    public IPAddress? BindAddress => Host switch
    {
        "*" or "+" or "0.0.0.0" => IPAddress.Any,
        "::" => IPAddress.IPv6Any,
        _ when string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase) => null,
        _ when IPAddress.TryParse(Host, out var ip) => ip,
        _ => IPAddress.Any, // a host name: Kestrel binds every interface for it, as ASP.NET's own --urls does.
    };
}
