namespace OptOutRegistry.Core.Urls;

/// <summary>Why a URL or host was rejected. <see cref="UrlErrors.Describe"/> gives the reason in words.</summary>
public enum UrlError : byte
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>The input is empty or only whitespace/control characters.</summary>
    Empty,

    /// <summary>The input is longer than <see cref="UrlCanonicalizer.MaxUrlLength"/>.</summary>
    TooLong,

    /// <summary>The scheme is not one this API handles (match keys: http/https; parsing: the WHATWG special schemes).</summary>
    UnsupportedScheme,

    /// <summary>The input is relative (has no scheme) and no base URL was given.</summary>
    MissingScheme,

    /// <summary>The URL has no host where its scheme requires one (e.g. <c>http:///path</c>, <c>http://user@/</c>).</summary>
    MissingHost,

    /// <summary>The host is not a valid domain name under IDNA (UTS #46), e.g. disallowed code points or bad punycode.</summary>
    InvalidHost,

    /// <summary>The port is not a decimal number in 0–65535.</summary>
    InvalidPort,

    /// <summary>The host contains a character the URL standard forbids in hosts (space, <c>%</c>, <c>#</c>, <c>&lt;</c>, <c>|</c> …).</summary>
    InvalidCharacter,

    /// <summary>Percent-encoded bytes in the host are not valid UTF-8.</summary>
    InvalidPercentEncoding,

    /// <summary>The host ends in a number, so it must be an IPv4 address, but it is not a valid one.</summary>
    InvalidIpv4Address,

    /// <summary>The host is in brackets but is not a valid IPv6 address.</summary>
    InvalidIpv6Address,

    /// <summary>The base URL could not be parsed (or is not a special URL).</summary>
    InvalidBase,

    /// <summary>The destination buffer is too small for the result.</summary>
    DestinationTooSmall,
}

/// <summary>Human-readable reasons for <see cref="UrlError"/> values.</summary>
public static class UrlErrors
{
    /// <summary>A sentence a user can act on, explaining why the URL or host was rejected.</summary>
    public static string Describe(UrlError error) => error switch
    {
        UrlError.None => "no error",
        UrlError.Empty => "the URL is empty",
        UrlError.TooLong => $"the URL is longer than {UrlCanonicalizer.MaxUrlLength} characters",
        UrlError.UnsupportedScheme => "the scheme is not supported here (match keys need http or https; the parser handles http, https, ws, wss, ftp and file)",
        UrlError.MissingScheme => "the URL is relative (no scheme such as https:) and there is no base URL to resolve it against",
        UrlError.MissingHost => "the URL has no host (nothing between // and the path, or nothing after the @ of user info)",
        UrlError.InvalidHost => "the host is not a valid internationalised domain name (IDNA/UTS #46 rejects it: disallowed characters, bad punycode, or mixed-direction text)",
        UrlError.InvalidPort => "the port is not a whole number between 0 and 65535",
        UrlError.InvalidCharacter => "the host contains a character that is not allowed in host names (space, control characters, or one of # % / : < > ? @ [ \\ ] ^ |)",
        UrlError.InvalidPercentEncoding => "the percent-encoded bytes in the host are not valid UTF-8",
        UrlError.InvalidIpv4Address => "the host ends in a number, so it must be an IPv4 address, but it is not a valid one (four parts of 0-255, or a shorter numeric form)",
        UrlError.InvalidIpv6Address => "the host in [brackets] is not a valid IPv6 address",
        UrlError.InvalidBase => "the base URL is not a valid http, https, ws, wss, ftp or file URL",
        UrlError.DestinationTooSmall => "the destination buffer is too small for the canonical URL",
        _ => "the URL is invalid",
    };
}

/// <summary>Thrown by the string convenience methods of <see cref="UrlCanonicalizer"/> when a URL or host is rejected.</summary>
public sealed class UrlFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="error"/>, with <see cref="UrlErrors.Describe"/> as the reason.</summary>
    public UrlFormatException(UrlError error)
        : this(error, UrlErrors.Describe(error))
    {
    }

    /// <summary>Creates the exception with an explicit reason.</summary>
    public UrlFormatException(UrlError error, string reason)
        : base(reason)
    {
        Error = error;
        Reason = reason;
    }

    /// <summary>The machine-readable error.</summary>
    public UrlError Error { get; }

    /// <summary>The human-readable reason.</summary>
    public string Reason { get; }
}

/// <summary>
/// Where the parts of a match key written by <see cref="UrlCanonicalizer.TryWriteMatchKey"/> are:
/// the key is <c>host[:port]/path[?query]</c>.
/// </summary>
/// <param name="HostLength">Length of the host (the key starts with it).</param>
/// <param name="PortEnd">Index just after the port; equals <paramref name="HostLength"/> when there is no port.</param>
/// <param name="PathStart">Index of the first <c>/</c> of the path (equals <paramref name="PortEnd"/>).</param>
/// <param name="QueryStart">Index of the <c>?</c> that starts the query, or -1 when there is no (or an empty) query.</param>
public readonly record struct MatchKeyParts(int HostLength, int PortEnd, int PathStart, int QueryStart);
