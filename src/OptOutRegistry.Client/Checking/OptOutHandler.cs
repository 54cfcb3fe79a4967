using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>Options of an <see cref="OptOutHandler"/>.</summary>
public sealed record OptOutHandlerOptions
{
    /// <summary>The use the crawler makes of what it fetches. Default: AI training.</summary>
    public Pb.UsageCategory Purpose { get; init; } = Pb.UsageCategory.TrainAi;
}

/// <summary>
/// A <see cref="DelegatingHandler"/> for a crawler's <see cref="HttpClient"/>: before a request is sent, its URL is
/// checked against the registry for <see cref="OptOutHandlerOptions.Purpose"/>, and a request to a reserved URL is
/// refused with a <see cref="ReservedUrlException"/> carrying the verdict and its provenance. Nothing is sent.
/// </summary>
public sealed class OptOutHandler : DelegatingHandler
{
    private readonly IUrlChecker _checker;
    private readonly OptOutHandlerOptions _options;

    /// <summary>A handler checking with <paramref name="checker"/> (a <see cref="CheckClient"/> or an <see cref="OfflineChecker"/>).</summary>
    public OptOutHandler(IUrlChecker checker, OptOutHandlerOptions? options = null)
    {
        _checker = checker ?? throw new ArgumentNullException(nameof(checker));
        _options = options ?? new OptOutHandlerOptions();
    }

    /// <summary>A handler with an inner handler, for use without a handler pipeline.</summary>
    public OptOutHandler(IUrlChecker checker, HttpMessageHandler innerHandler, OptOutHandlerOptions? options = null)
        : this(checker, options)
    {
        InnerHandler = innerHandler;
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } uri && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            var result = await _checker.CheckUrlAsync(uri.AbsoluteUri, _options.Purpose, cancellationToken).ConfigureAwait(false);
            if (result.Verdict == Pb.Verdict.Disallowed)
            {
                throw new ReservedUrlException(uri, _options.Purpose, result);
            }
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A request was refused because the registry reserves its URL for the purpose.</summary>
public sealed class ReservedUrlException : HttpRequestException
{
    /// <summary>Creates the exception.</summary>
    public ReservedUrlException(Uri uri, Pb.UsageCategory purpose, Pb.CheckResult result)
        : base(Describe(uri, purpose, result))
    {
        Uri = uri;
        Purpose = purpose;
        Result = result;
    }

    /// <summary>The refused URL.</summary>
    public Uri Uri { get; }

    /// <summary>The purpose checked.</summary>
    public Pb.UsageCategory Purpose { get; }

    /// <summary>The verdict with its provenance (reservation ids, selectors, policy URLs).</summary>
    public Pb.CheckResult Result { get; }

    private static string Describe(Uri uri, Pb.UsageCategory purpose, Pb.CheckResult result)
    {
        var by = result.Matches.Count == 0 ? string.Empty : " by " + string.Join(", ", result.Matches.Select(m => $"{m.ReservationId} ({m.SelectorKind} '{m.Selector}')"));
        return $"{uri} is reserved against {purpose}{by}; the request was not sent";
    }
}
