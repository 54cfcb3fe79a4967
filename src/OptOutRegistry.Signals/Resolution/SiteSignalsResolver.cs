using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Robots;
using OptOutRegistry.Signals.Tdmrep;

namespace OptOutRegistry.Signals.Resolution;

/// <summary>
/// Fetches what a URL needs — the origin's robots.txt and <c>/.well-known/tdmrep.json</c> (cached per origin), then
/// the resource's headers and, for HTML or EPUB, its body — and combines them with the registry's verdict into one
/// <see cref="SiteDecision"/>. robots.txt fetch semantics follow RFC 9309 §2.3.1: up to five redirects; 4xx ⇒
/// unavailable ⇒ everything allowed; 5xx, 429, timeouts and network errors ⇒ unreachable ⇒ complete disallow (a copy
/// fetched earlier is used instead while it is younger than <see cref="SiteSignalsOptions.StaleIfUnreachable"/>).
/// The resource is only fetched when robots.txt lets the agent crawl it. Never throws for anything a server sends.
/// </summary>
public sealed class SiteSignalsResolver : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly SiteSignalsOptions _options;
    private readonly IRegistryVerdictSource? _registry;
    private readonly TimeProvider _time;
    private readonly SiteSignalsEvaluator _evaluator;
    private readonly ConcurrentDictionary<string, CacheEntry<RobotsOutcome>> _robots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CacheEntry<TdmrepOutcome>> _tdmrep = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _hostGates = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Creates a resolver. The <paramref name="http"/> client's handler should not follow redirects itself
    /// (<see cref="CreateHandler"/> makes one that does not), so that the redirect limit is this class's.
    /// </summary>
    public SiteSignalsResolver(HttpClient? http = null, SiteSignalsOptions? options = null, IRegistryVerdictSource? registry = null, TimeProvider? time = null)
    {
        _ownsHttp = http is null;
        _http = http ?? new HttpClient(CreateHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        _options = options ?? new SiteSignalsOptions();
        if (_options.CacheDuration > TimeSpan.FromHours(24))
        {
            _options = _options with { CacheDuration = TimeSpan.FromHours(24) };
        }

        _registry = registry;
        _time = time ?? TimeProvider.System;
        _evaluator = new SiteSignalsEvaluator(_options.Agents, _options.RobotsTags);
    }

    /// <summary>A handler suited to the resolver: no automatic redirects, decompression on, connection pooling.</summary>
    public static HttpMessageHandler CreateHandler() => new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.All,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Resolves one URL for an agent token and purpose.</summary>
    public async Task<SiteDecision> ResolveAsync(Uri url, string agent, UsageCategory purpose, CancellationToken cancellationToken = default)
    {
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"url: '{url}' is not an absolute http(s) URL", nameof(url));
        }

        var registryTask = _registry is null ? null : CheckRegistryAsync(url, purpose, cancellationToken);
        var robotsTask = GetRobotsAsync(url, cancellationToken);
        var tdmrepTask = GetTdmrepAsync(url, cancellationToken);
        var robots = await robotsTask.ConfigureAwait(false);
        var tdmrep = await tdmrepTask.ConfigureAwait(false);

        var input = new SiteSignalsInput
        {
            Robots = robots.Robots,
            RobotsSource = robots.Source,
            RobotsNote = robots.Note,
            TdmrepFile = tdmrep.File,
            TdmrepSource = tdmrep.Source,
        };

        var path = string.IsNullOrEmpty(url.PathAndQuery) ? "/" : url.PathAndQuery;
        if (_options.FetchResource && robots.Robots.IsAllowed(path, agent))
        {
            input = await FetchResourceAsync(url, input, cancellationToken).ConfigureAwait(false);
        }
        else if (_options.FetchResource)
        {
            input = input with { ResourceNote = "not fetched: robots.txt disallows it" };
        }

        if (registryTask is not null)
        {
            input = input with { Registry = await registryTask.ConfigureAwait(false) };
        }

        return _evaluator.Evaluate(url, agent, purpose, input);
    }

    /// <summary>The robots.txt outcome for a URL's origin (cached).</summary>
    public Task<RobotsOutcome> GetRobotsAsync(Uri url, CancellationToken cancellationToken = default) =>
        GetCachedAsync(_robots, Origin(url), static (self, origin, previous, ct) => self.FetchRobotsAsync(origin, previous, ct), cancellationToken);

    /// <summary>The tdmrep.json outcome for a URL's origin (cached).</summary>
    public Task<TdmrepOutcome> GetTdmrepAsync(Uri url, CancellationToken cancellationToken = default) =>
        GetCachedAsync(_tdmrep, Origin(url), static (self, origin, _, ct) => self.FetchTdmrepAsync(origin, ct), cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }

        foreach (var gate in _hostGates.Values)
        {
            gate.Dispose();
        }
    }

    private async Task<RegistryVerdict> CheckRegistryAsync(Uri url, UsageCategory purpose, CancellationToken ct)
    {
        try
        {
            return await _registry!.CheckAsync(url.ToString(), purpose, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return new RegistryVerdict(Verdict.Unknown, $"registry not reachable: {ex.Message}");
        }
    }

    private static Uri Origin(Uri url) => new(url.GetLeftPart(UriPartial.Authority) + "/");

    private async Task<T> GetCachedAsync<T>(
        ConcurrentDictionary<string, CacheEntry<T>> cache, Uri origin,
        Func<SiteSignalsResolver, Uri, T?, CancellationToken, Task<T>> fetch, CancellationToken ct)
        where T : class, ICacheable
    {
        var key = origin.ToString();
        var now = _time.GetUtcNow();
        if (cache.TryGetValue(key, out var entry) && entry.Task.IsCompletedSuccessfully && now < entry.ExpiresAt)
        {
            return entry.Task.Result;
        }

        if (entry is not null && !entry.Task.IsCompleted)
        {
            return await entry.Task.WaitAsync(ct).ConfigureAwait(false);
        }

        var previous = entry is { Task.IsCompletedSuccessfully: true } ? entry.Task.Result : null;

        // One fetch per origin at a time: concurrent callers share the task. The fetch itself is not cancelled by
        // one caller's token, so that other callers waiting on it are not failed.
        var fresh = new CacheEntry<T>(fetch(this, origin, previous, CancellationToken.None), DateTimeOffset.MaxValue);
        var winner = entry is null ? cache.GetOrAdd(key, fresh) : (cache.TryUpdate(key, fresh, entry) ? fresh : cache[key]);
        var result = await winner.Task.WaitAsync(ct).ConfigureAwait(false);
        if (ReferenceEquals(winner, fresh))
        {
            var ttl = result.Reachable ? _options.CacheDuration : _options.UnreachableRetryAfter;
            cache[key] = fresh with { ExpiresAt = _time.GetUtcNow() + ttl };
        }

        return result;
    }

    private async Task<RobotsOutcome> FetchRobotsAsync(Uri origin, RobotsOutcome? previous, CancellationToken ct)
    {
        var robotsUrl = new Uri(origin, "/robots.txt");
        var source = robotsUrl.ToString();
        var r = await FetchAsync(robotsUrl, _options.MaxRobotsBytes, ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (r.TooManyRedirects)
        {
            // RFC 9309 §2.3.1.2: after more than five consecutive redirects the crawler MAY assume robots.txt is unavailable.
            return new RobotsOutcome(RobotsTxt.AllowAll, source, $"{r.Describe()}: treated as unavailable ⇒ no restrictions (RFC 9309 §2.3.1.2)", true, now);
        }

        if (r.Status is { } status && (int)status is >= 200 and < 300)
        {
            var robots = RobotsTxt.Parse(r.Body);
            var note = r.Redirects > 0 ? $"fetched from {r.FinalUrl} after {r.Redirects} redirect(s)" : null;
            if (r.Truncated)
            {
                note = (note is null ? "" : note + "; ") + $"only the first {_options.MaxRobotsBytes} bytes were parsed";
            }

            return new RobotsOutcome(robots, source, note, true, now);
        }

        if (r.Status is { } s4 && (int)s4 is >= 400 and < 500 && s4 != HttpStatusCode.TooManyRequests)
        {
            // §2.3.1.3: "unavailable" ⇒ the crawler MAY access any resource.
            return new RobotsOutcome(RobotsTxt.AllowAll, source, $"{r.Describe()}: unavailable ⇒ no restrictions (RFC 9309 §2.3.1.3)", true, now);
        }

        // 5xx, 429 (Google treats it like 5xx), 3xx without Location, timeouts, network errors: "unreachable".
        if (previous is { Reachable: true } && now - previous.FetchedAt < _options.StaleIfUnreachable)
        {
            return previous with
            {
                Note = $"{r.Describe()}: unreachable; using the copy fetched {previous.FetchedAt:u} (RFC 9309 §2.4)",
                Reachable = false,
            };
        }

        return new RobotsOutcome(RobotsTxt.DisallowAll, source, $"{r.Describe()}: unreachable ⇒ complete disallow (RFC 9309 §2.3.1.4)", false, now);
    }

    private async Task<TdmrepOutcome> FetchTdmrepAsync(Uri origin, CancellationToken ct)
    {
        var fileUrl = new Uri(origin, "/.well-known/tdmrep.json");
        var source = fileUrl.ToString();
        var r = await FetchAsync(fileUrl, _options.MaxTdmrepBytes + 1, ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        if (r.Status is { } status && (int)status is >= 200 and < 300)
        {
            var file = r.Body.Length > _options.MaxTdmrepBytes
                ? TdmrepFile.Invalid($"tdmrep.json: larger than {_options.MaxTdmrepBytes} bytes; ignored")
                : TdmrepFile.Parse(r.Body);
            return new TdmrepOutcome(file, source, null, true, now);
        }

        // "Failure to provide access … implies that the origin server does not implement this protocol."
        var reachable = r.Status is { } s && (int)s is >= 400 and < 500;
        return new TdmrepOutcome(null, source, r.Describe(), reachable, now);
    }

    private async Task<SiteSignalsInput> FetchResourceAsync(Uri url, SiteSignalsInput input, CancellationToken ct)
    {
        var r = await FetchAsync(url, _options.MaxResourceBytes, ct, readBody: static type =>
            type is not null && (type.Contains("html", StringComparison.OrdinalIgnoreCase) ||
                                 type.Equals("application/epub+zip", StringComparison.OrdinalIgnoreCase))).ConfigureAwait(false);
        if (r.Status is null)
        {
            return input with { ResourceNote = $"resource: {r.Describe()}" };
        }

        string? html = null;
        TdmrepStatement? epub = null;
        if (r.ContentType is { } type && r.Body.Length > 0)
        {
            if (type.Contains("html", StringComparison.OrdinalIgnoreCase))
            {
                html = Decode(r.Body, r.Charset);
            }
            else if (type.Equals("application/epub+zip", StringComparison.OrdinalIgnoreCase))
            {
                using var ms = new MemoryStream(r.Body, writable: false);
                epub = TdmrepMetadata.FromEpub(ms);
            }
        }

        return input with
        {
            Headers = r.Headers,
            ContentType = r.ContentType,
            Html = html,
            ExtraTdmrep = epub,
            ResourceNote = r.Describe(),
        };
    }

    private static string Decode(byte[] body, string? charset)
    {
        try
        {
            var encoding = charset is null ? Encoding.UTF8 : Encoding.GetEncoding(charset.Trim('"'));
            return encoding.GetString(body);
        }
        catch (ArgumentException)
        {
            return Encoding.UTF8.GetString(body);
        }
    }

    private SemaphoreSlim Gate(Uri url) =>
        _hostGates.GetOrAdd(url.Authority, static (_, n) => new SemaphoreSlim(n, n), Math.Max(1, _options.MaxConcurrentRequestsPerHost));

    private async Task<FetchResult> FetchAsync(Uri url, int maxBytes, CancellationToken ct, Func<string?, bool>? readBody = null)
    {
        var current = url;
        for (var redirects = 0; ; redirects++)
        {
            var gate = Gate(current);
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, current);
                    request.Headers.UserAgent.TryParseAdd(_options.UserAgent);
                    using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                    var status = response.StatusCode;
                    if ((int)status is >= 300 and < 400 && response.Headers.Location is { } location)
                    {
                        if (redirects >= _options.MaxRedirects)
                        {
                            return FetchResult.Failure(url, $"more than {_options.MaxRedirects} redirects", redirects + 1, tooManyRedirects: true);
                        }

                        current = location.IsAbsoluteUri ? location : new Uri(current, location);
                        if (current.Scheme != Uri.UriSchemeHttp && current.Scheme != Uri.UriSchemeHttps)
                        {
                            return FetchResult.Failure(url, $"redirect to a non-http URL {current}", redirects + 1);
                        }

                        continue;
                    }

                    var headers = new List<KeyValuePair<string, string>>();
                    AddHeaders(headers, response.Headers);
                    AddHeaders(headers, response.Content.Headers);
                    var contentType = response.Content.Headers.ContentType?.MediaType;
                    var charset = response.Content.Headers.ContentType?.CharSet;
                    byte[] body = [];
                    var truncated = false;
                    if ((int)status is >= 200 and < 300 && (readBody is null || readBody(contentType)))
                    {
                        (body, truncated) = await ReadLimitedAsync(response.Content, maxBytes, timeout.Token).ConfigureAwait(false);
                    }

                    return new FetchResult(status, current, redirects, headers, contentType, charset, body, truncated, null, false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    return FetchResult.Failure(url, $"timed out after {_options.RequestTimeout.TotalSeconds:0.#} s", redirects);
                }
                catch (HttpRequestException ex)
                {
                    return FetchResult.Failure(url, $"network error: {ex.Message}", redirects);
                }
                catch (IOException ex)
                {
                    return FetchResult.Failure(url, $"network error: {ex.Message}", redirects);
                }
            }
            finally
            {
                gate.Release();
            }
        }
    }

    private static void AddHeaders(List<KeyValuePair<string, string>> into, HttpHeaders headers)
    {
        foreach (var (name, values) in headers.NonValidated)
        {
            foreach (var v in values)
            {
                into.Add(new(name, v));
            }
        }
    }

    private static async Task<(byte[] Body, bool Truncated)> ReadLimitedAsync(HttpContent content, int maxBytes, CancellationToken ct)
    {
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        var buffer = new byte[Math.Min(maxBytes, 64 * 1024)];
        using var ms = new MemoryStream();
        while (ms.Length < maxBytes)
        {
            var want = (int)Math.Min(buffer.Length, maxBytes - ms.Length);
            var n = await stream.ReadAsync(buffer.AsMemory(0, want), ct).ConfigureAwait(false);
            if (n == 0)
            {
                return (ms.ToArray(), false);
            }

            ms.Write(buffer, 0, n);
        }

        // At the limit: is there more?
        var probe = new byte[1];
        var more = await stream.ReadAsync(probe, ct).ConfigureAwait(false) > 0;
        return (ms.ToArray(), more);
    }

    /// <summary>Something kept in the per-origin cache.</summary>
    public interface ICacheable
    {
        /// <summary>False when the server could not be reached (cached for a shorter time).</summary>
        bool Reachable { get; }
    }

    /// <summary>The outcome of fetching robots.txt.</summary>
    /// <param name="Robots">The rules to apply (a parsed file, or allow-all / disallow-all for fetch outcomes).</param>
    /// <param name="Source">The robots.txt URL.</param>
    /// <param name="Note">How it was obtained when not a plain 200.</param>
    /// <param name="Reachable">False when unreachable.</param>
    /// <param name="FetchedAt">When it was fetched.</param>
    public sealed record RobotsOutcome(RobotsTxt Robots, string Source, string? Note, bool Reachable, DateTimeOffset FetchedAt) : ICacheable;

    /// <summary>The outcome of fetching tdmrep.json.</summary>
    /// <param name="File">The parsed file, or null when there is none.</param>
    /// <param name="Source">The file's URL.</param>
    /// <param name="Note">Why there is no file.</param>
    /// <param name="Reachable">False when unreachable.</param>
    /// <param name="FetchedAt">When it was fetched.</param>
    public sealed record TdmrepOutcome(TdmrepFile? File, string Source, string? Note, bool Reachable, DateTimeOffset FetchedAt) : ICacheable;

    private sealed record CacheEntry<T>(Task<T> Task, DateTimeOffset ExpiresAt);

    private sealed record FetchResult(
        HttpStatusCode? Status, Uri FinalUrl, int Redirects, List<KeyValuePair<string, string>> Headers,
        string? ContentType, string? Charset, byte[] Body, bool Truncated, string? Error, bool TooManyRedirects)
    {
        public static FetchResult Failure(Uri url, string error, int redirects, bool tooManyRedirects = false) =>
            new(null, url, redirects, [], null, null, [], false, error, tooManyRedirects);

        public string Describe() => Status is { } s
            ? $"HTTP {(int)s}" + (Redirects > 0 ? $" after {Redirects} redirect(s) to {FinalUrl}" : "")
            : Error ?? "no response";
    }
}
