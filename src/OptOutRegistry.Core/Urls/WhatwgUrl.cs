using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using OptOutRegistry.Core.Urls.Internal;

namespace OptOutRegistry.Core.Urls;

/// <summary>
/// A URL parsed by the WHATWG URL standard (https://url.spec.whatwg.org/) for the special schemes
/// http, https, ws, wss, ftp and file. The properties follow the standard's <c>URL</c> API
/// (<c>href</c>, <c>protocol</c>, <c>host</c> …). Other schemes are refused with
/// <see cref="UrlError.UnsupportedScheme"/>. For the check hot path use <see cref="UrlCanonicalizer.TryWriteMatchKey"/>.
/// </summary>
public sealed class WhatwgUrl
{
    private readonly UrlOffsets _offsets;

    private WhatwgUrl(string href, UrlOffsets offsets)
    {
        Href = href;
        _offsets = offsets;
    }

    /// <summary>The serialised URL.</summary>
    public string Href { get; }

    /// <summary>The scheme followed by <c>:</c>, e.g. <c>https:</c>.</summary>
    public string Protocol => Href[..(_offsets.SchemeEnd + 1)];

    /// <summary>The percent-encoded user name, or empty.</summary>
    public string Username => Href[_offsets.UsernameStart.._offsets.UsernameEnd];

    /// <summary>The percent-encoded password, or empty.</summary>
    public string Password => _offsets.PasswordEnd > _offsets.UsernameEnd ? Href[(_offsets.UsernameEnd + 1).._offsets.PasswordEnd] : string.Empty;

    /// <summary>The host and, when not the default, the port: <c>example.com:8080</c>.</summary>
    public string Host => _offsets.Port < 0 ? Hostname : Hostname + ":" + Port;

    /// <summary>The serialised host: lower-case punycode domain, dotted-decimal IPv4, or <c>[v6]</c>; empty for <c>file:</c> without host.</summary>
    public string Hostname => Href[_offsets.HostStart.._offsets.HostEnd];

    /// <summary>The port as decimal text, empty when absent or the scheme's default.</summary>
    public string Port => _offsets.Port < 0 ? string.Empty : _offsets.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The path, always starting with <c>/</c>.</summary>
    public string Pathname => Href[_offsets.PathStart.._offsets.PathEnd];

    /// <summary><c>?</c> and the query, or empty when the query is absent or empty.</summary>
    public string Search
    {
        get
        {
            if (_offsets.QueryStart < 0)
            {
                return string.Empty;
            }

            var end = _offsets.FragmentStart < 0 ? Href.Length : _offsets.FragmentStart;
            return end - _offsets.QueryStart <= 1 ? string.Empty : Href[_offsets.QueryStart..end];
        }
    }

    /// <summary><c>#</c> and the fragment, or empty when the fragment is absent or empty.</summary>
    public string Hash => _offsets.FragmentStart < 0 || _offsets.FragmentStart == Href.Length - 1 ? string.Empty : Href[_offsets.FragmentStart..];

    /// <summary>The origin: <c>scheme://host[:port]</c>, or <c>null</c> for file URLs (the standard leaves them opaque).</summary>
    public string Origin => _offsets.Scheme == SchemeKind.File ? "null" : Protocol + "//" + Host;

    internal UrlOffsets Offsets => _offsets;

    /// <summary>Parses <paramref name="input"/>, resolved against <paramref name="baseUrl"/> when it is relative.</summary>
    /// <returns>False, with the reason in <paramref name="error"/>, when the URL standard rejects the input or its scheme is not special.</returns>
    public static bool TryParse(string input, string? baseUrl, [NotNullWhen(true)] out WhatwgUrl? url, out UrlError error)
    {
        ArgumentNullException.ThrowIfNull(input);
        url = null;
        var hasBase = false;
        BaseUrl parsedBase = default;
        var baseError = UrlError.None;
        if (baseUrl is not null)
        {
            if (TryParse(baseUrl, null, out var b, out baseError))
            {
                hasBase = true;
                parsedBase = new BaseUrl(b.Href, b._offsets);
            }
        }

        var href = new CharBuffer(stackalloc char[512]);
        try
        {
            error = UrlParser.Parse(input, hasBase, parsedBase, ref href, out var offsets);
            if (error is UrlError.MissingScheme or UrlError.Empty && baseUrl is not null && !hasBase)
            {
                // The input needed the base, and the base is unusable.
                error = baseError == UrlError.UnsupportedScheme ? UrlError.UnsupportedScheme : UrlError.InvalidBase;
            }

            if (error != UrlError.None)
            {
                return false;
            }

            url = new WhatwgUrl(href.Written.ToString(), offsets);
            return true;
        }
        finally
        {
            href.Dispose();
        }
    }

    /// <summary>Parses <paramref name="input"/>; throws <see cref="UrlFormatException"/> with the reason when it is rejected.</summary>
    public static WhatwgUrl Parse(string input, string? baseUrl = null) =>
        TryParse(input, baseUrl, out var url, out var error) ? url : throw new UrlFormatException(error);

    /// <inheritdoc/>
    public override string ToString() => Href;
}
