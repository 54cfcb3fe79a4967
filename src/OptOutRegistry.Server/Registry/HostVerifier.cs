using AngleSharp.Html.Parser;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Registry;

/// <summary>The result of checking one verification method.</summary>
/// <param name="Success">True when the token was found.</param>
/// <param name="Detail">What was checked and what was found, for the error message when no method succeeded.</param>
public readonly record struct VerificationAttempt(bool Success, string Detail);

/// <summary>
/// Checks that a holder published a verification token for a host (DESIGN.md "Verification"):
/// the content of <c>/.well-known/optout-registry.txt</c>, a <c>&lt;meta name="optout-registry-verification"&gt;</c> in the
/// home page (parsed with AngleSharp, as browsers would), or a DNS TXT record <c>optout-registry-verification=TOKEN</c>.
/// </summary>
public sealed class HostVerifier
{
    /// <summary>The well-known path (RFC 8615).</summary>
    public const string WellKnownPath = "/.well-known/optout-registry.txt";

    /// <summary>The meta element name.</summary>
    public const string MetaName = "optout-registry-verification";

    /// <summary>The TXT record's prefix.</summary>
    public const string TxtPrefix = "optout-registry-verification=";

    private const int MaxWellKnownBytes = 4096;
    private const int MaxHomePageBytes = 1 << 20;
    private readonly HttpClient _http;
    private readonly DnsTxtResolver _dns;
    private readonly RegistryOptions _options;

    /// <summary>Creates the verifier.</summary>
    public HostVerifier(RegistryOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 3, ConnectTimeout = options.FetchTimeout };
        if (options.ConnectAddress is { } address)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new System.Net.IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        _http = new HttpClient(handler) { Timeout = options.FetchTimeout };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("OptOutRegistry-Verifier/1.0");
        _dns = new DnsTxtResolver(options.DnsServer is null ? null : DnsTxtResolver.ParseEndpoint(options.DnsServer), options.FetchTimeout);
    }

    /// <summary>Checks one method.</summary>
    public async Task<VerificationAttempt> CheckAsync(Pb.VerificationMethod method, string host, string token, CancellationToken cancellationToken)
    {
        try
        {
            return method switch
            {
                Pb.VerificationMethod.WellKnown => await CheckWellKnownAsync(host, token, cancellationToken).ConfigureAwait(false),
                Pb.VerificationMethod.HtmlMeta => await CheckMetaAsync(host, token, cancellationToken).ConfigureAwait(false),
                Pb.VerificationMethod.DnsTxt => await CheckDnsAsync(host, token, cancellationToken).ConfigureAwait(false),
                _ => new VerificationAttempt(false, $"method {method} cannot be checked"),
            };
        }
        catch (HttpRequestException ex)
        {
            return new VerificationAttempt(false, $"{Name(method)}: the request failed: {ex.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new VerificationAttempt(false, $"{Name(method)}: no answer within {_options.FetchTimeout.TotalSeconds:0} s");
        }
        catch (DnsLookupException ex)
        {
            return new VerificationAttempt(false, $"dns: {ex.Message}");
        }
    }

    /// <summary>Human-readable instructions for each method (StartHostVerificationResponse.instructions).</summary>
    public static IEnumerable<string> Instructions(string host, string token) =>
    [
        $"well-known: serve the token as the content of https://{host}{WellKnownPath}",
        $"meta: add <meta name=\"{MetaName}\" content=\"{token}\"> to the <head> of https://{host}/",
        $"dns: add a TXT record \"{TxtPrefix}{token}\" to {host}",
    ];

    private static string Name(Pb.VerificationMethod method) => method switch
    {
        Pb.VerificationMethod.WellKnown => "well-known",
        Pb.VerificationMethod.HtmlMeta => "meta",
        Pb.VerificationMethod.DnsTxt => "dns",
        _ => method.ToString(),
    };

    private Uri BuildUri(string host, string path)
    {
        var builder = new UriBuilder(_options.VerificationScheme, host) { Path = path };
        if (_options.VerificationPort is { } port)
        {
            builder.Port = port;
        }

        return builder.Uri;
    }

    private async Task<VerificationAttempt> CheckWellKnownAsync(string host, string token, CancellationToken cancellationToken)
    {
        var uri = BuildUri(host, WellKnownPath);
        var (status, body) = await FetchAsync(uri, MaxWellKnownBytes, cancellationToken).ConfigureAwait(false);
        if (status is < 200 or > 299)
        {
            return new VerificationAttempt(false, $"well-known: {uri} answered HTTP {status}");
        }

        foreach (var line in body.Split('\n'))
        {
            if (string.Equals(line.Trim(), token, StringComparison.Ordinal))
            {
                return new VerificationAttempt(true, $"well-known: {uri} has the token");
            }
        }

        return new VerificationAttempt(false, $"well-known: {uri} does not contain the token");
    }

    private async Task<VerificationAttempt> CheckMetaAsync(string host, string token, CancellationToken cancellationToken)
    {
        var uri = BuildUri(host, "/");
        var (status, body) = await FetchAsync(uri, MaxHomePageBytes, cancellationToken).ConfigureAwait(false);
        if (status is < 200 or > 299)
        {
            return new VerificationAttempt(false, $"meta: {uri} answered HTTP {status}");
        }

        var parser = new HtmlParser();
        using var document = await parser.ParseDocumentAsync(body, cancellationToken).ConfigureAwait(false);
        foreach (var meta in document.QuerySelectorAll("meta"))
        {
            if (string.Equals(meta.GetAttribute("name")?.Trim(), MetaName, StringComparison.OrdinalIgnoreCase)
                && string.Equals(meta.GetAttribute("content")?.Trim(), token, StringComparison.Ordinal))
            {
                return new VerificationAttempt(true, $"meta: {uri} has the token");
            }
        }

        return new VerificationAttempt(false, $"meta: {uri} has no <meta name=\"{MetaName}\"> with the token");
    }

    private async Task<VerificationAttempt> CheckDnsAsync(string host, string token, CancellationToken cancellationToken)
    {
        var records = await _dns.QueryTxtAsync(host, cancellationToken).ConfigureAwait(false);
        foreach (var record in records)
        {
            if (record.StartsWith(TxtPrefix, StringComparison.Ordinal) && string.Equals(record[TxtPrefix.Length..].Trim(), token, StringComparison.Ordinal))
            {
                return new VerificationAttempt(true, $"dns: {host} has the TXT record");
            }
        }

        return new VerificationAttempt(false, $"dns: {host} has no TXT record \"{TxtPrefix}…\" with the token ({records.Count} TXT records)");
    }

    private async Task<(int Status, string Body)> FetchAsync(Uri uri, int maxBytes, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            return ((int)response.StatusCode, string.Empty);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[maxBytes];
        var total = 0;
        int read;
        while (total < maxBytes && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
        }

        return ((int)response.StatusCode, System.Text.Encoding.UTF8.GetString(buffer, 0, total));
    }
}
