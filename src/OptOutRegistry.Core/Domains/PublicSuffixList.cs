using System.Reflection;
using OptOutRegistry.Core.Urls;

namespace OptOutRegistry.Core.Domains;

/// <summary>
/// The Public Suffix List (https://publicsuffix.org/list/): which part of a host name is a public suffix
/// (<c>co.uk</c>, <c>github.io</c>) and which is the registrable domain (<c>bbc.co.uk</c>), so that a
/// <c>domain</c> selector on a public suffix can be refused. Both the ICANN and the private sections are used.
/// </summary>
/// <remarks>
/// The algorithm is the list's own (publicsuffix.org "Formal algorithm"): the prevailing rule is an exception
/// rule if one matches, otherwise the matching rule with most labels, otherwise <c>*</c>. Lookups walk the
/// host's labels from the right with one hash probe per label per rule kind and allocate only the result.
/// The check path of the matcher does not use this (DESIGN.md "Serving checks fast"); selectors do.
/// </remarks>
public sealed class PublicSuffixList
{
    private const string ResourceName = "OptOutRegistry.Core.public_suffix_list.dat";

    private static readonly Lazy<PublicSuffixList> s_default = new(LoadDefault);

    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _rules;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _wildcards;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _exceptions;

    private PublicSuffixList(HashSet<string> rules, HashSet<string> wildcards, HashSet<string> exceptions)
    {
        _rules = rules.GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcards = wildcards.GetAlternateLookup<ReadOnlySpan<char>>();
        _exceptions = exceptions.GetAlternateLookup<ReadOnlySpan<char>>();
        RuleCount = rules.Count + wildcards.Count + exceptions.Count;
    }

    /// <summary>The list shipped with this library (embedded copy of <c>public_suffix_list.dat</c>, MPL-2.0).</summary>
    public static PublicSuffixList Default => s_default.Value;

    /// <summary>Number of rules (normal, wildcard and exception) loaded.</summary>
    public int RuleCount { get; }

    /// <summary>
    /// Reads a list in the <c>public_suffix_list.dat</c> format: one rule per line, <c>//</c> comments,
    /// <c>*.</c> wildcards and <c>!</c> exceptions; Unicode rules are stored in punycode.
    /// </summary>
    /// <exception cref="FormatException">A rule is not a valid host name (the message names the line).</exception>
    public static PublicSuffixList Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var wildcards = new HashSet<string>(StringComparer.Ordinal);
        var exceptions = new HashSet<string>(StringComparer.Ordinal);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            var text = line.AsSpan().Trim();
            if (text.IsEmpty || text.StartsWith("//"))
            {
                continue;
            }

            // "Each line is only read up to the first whitespace."
            var space = text.IndexOfAny(' ', '\t');
            if (space >= 0)
            {
                text = text[..space];
            }

            var target = rules;
            if (text[0] == '!')
            {
                target = exceptions;
                text = text[1..];
            }
            else if (text.StartsWith("*."))
            {
                target = wildcards;
                text = text[2..];
            }

            string normalized;
            try
            {
                normalized = IsLowerAsciiHost(text) ? text.ToString() : UrlCanonicalizer.NormalizeHost(text.ToString());
            }
            catch (UrlFormatException ex)
            {
                throw new FormatException($"public suffix list line {lineNumber}: rule '{line.Trim()}' is not a valid host: {ex.Reason}", ex);
            }

            target.Add(normalized);
        }

        return new PublicSuffixList(rules, wildcards, exceptions);
    }

    /// <summary>
    /// The registrable domain ("eTLD+1") of <paramref name="host"/>: <c>www.bbc.co.uk</c> → <c>bbc.co.uk</c>.
    /// Null when the host is itself a public suffix, has an empty label, is an IP address, is not a valid host, or is null.
    /// Input may be Unicode or mixed case; output is lower-case punycode.
    /// </summary>
    public string? GetRegistrableDomain(string? host)
    {
        var h = Prepare(host);
        if (h is null)
        {
            return null;
        }

        var suffixLength = PublicSuffixLength(h);
        if (suffixLength < 0 || suffixLength >= h.Length)
        {
            return null;
        }

        var dot = h.LastIndexOf('.', h.Length - suffixLength - 2);
        return h[(dot + 1)..];
    }

    /// <summary>
    /// The public suffix of <paramref name="host"/>: <c>www.bbc.co.uk</c> → <c>co.uk</c>; an unlisted TLD is its
    /// own suffix (the default rule <c>*</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The host is empty, has an empty label, is an IP address or is not a valid host.</exception>
    public string GetPublicSuffix(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = Prepare(host) ?? throw new ArgumentException($"'{host}' is not a domain name (empty label, IP address or invalid host)", nameof(host));
        var suffixLength = PublicSuffixLength(h);
        if (suffixLength < 0)
        {
            throw new ArgumentException($"'{host}' is not a domain name (empty label)", nameof(host));
        }

        return suffixLength == h.Length ? h : h[^suffixLength..];
    }

    /// <summary>
    /// True when <paramref name="host"/> is exactly a public suffix (<c>com</c>, <c>co.uk</c>, <c>github.io</c>):
    /// a <c>domain</c> selector on it would cover unrelated owners and must be refused.
    /// </summary>
    public bool IsPublicSuffix(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var h = Prepare(host);
        return h is not null && PublicSuffixLength(h) == h.Length;
    }

    /// <summary>Length in characters of the public suffix at the end of <paramref name="host"/>, or -1 for an empty label.</summary>
    private int PublicSuffixLength(string host)
    {
        var span = host.AsSpan();
        var best = -1;          // length of the longest matching normal/wildcard rule
        var previousStart = -1; // start of the suffix one label shorter
        var end = span.Length;
        while (true)
        {
            var dot = span[..end].LastIndexOf('.');
            var start = dot + 1;
            if (start == end)
            {
                return -1; // empty label ("a..b", ".com")
            }

            var suffix = span[start..];
            if (_exceptions.Contains(suffix))
            {
                // An exception rule prevails; the public suffix is the rule minus its leftmost label.
                return span.Length - previousStart;
            }

            if (_rules.Contains(suffix) || (previousStart >= 0 && _wildcards.Contains(span[previousStart..])))
            {
                best = suffix.Length;
            }

            if (previousStart < 0 && best < 0)
            {
                best = suffix.Length; // the implicit "*" rule: the TLD
            }

            if (dot < 0)
            {
                return best;
            }

            previousStart = start;
            end = dot;
        }
    }

    private static string? Prepare(string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return null;
        }

        string h;
        if (IsLowerAsciiHost(host))
        {
            h = host;
        }
        else
        {
            Span<char> buffer = stackalloc char[512];
            if (host.Length > 253 * 4 || !UrlCanonicalizer.TryNormalizeHost(host, buffer, out var written, out _))
            {
                return null;
            }

            h = buffer[..written].ToString();
        }

        if (h.Length > 1 && h[^1] == '.')
        {
            h = h[..^1];
        }

        // IP addresses have no public suffix: the normaliser writes IPv6 in brackets, IPv4 as dotted decimal.
        if (h[0] == '[' || (char.IsAsciiDigit(h[^1]) && System.Net.IPAddress.TryParse(h, out _)))
        {
            return null;
        }

        return h;
    }

    private static bool IsLowerAsciiHost(ReadOnlySpan<char> host)
    {
        foreach (var c in host)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-' || c == '.' || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static PublicSuffixList LoadDefault()
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from {typeof(PublicSuffixList).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return Parse(reader);
    }
}
