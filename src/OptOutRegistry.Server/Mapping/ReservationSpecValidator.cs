using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Model;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Mapping;

/// <summary>A <see cref="Pb.ReservationSpec"/> that passed validation, in canonical form.</summary>
/// <param name="Selectors">The selectors as stored (canonical text; url selectors keep the absolute URL given).</param>
/// <param name="CoreSelectors">The same selectors parsed by Core (same order).</param>
/// <param name="Statements">The statements as stored.</param>
/// <param name="ValidFrom">Start of validity, null for "from registration".</param>
/// <param name="ValidUntil">End of validity, if any.</param>
/// <param name="PolicyUrl">The policy URL, or empty.</param>
/// <param name="Work">The work metadata with identifiers normalised.</param>
public sealed record ValidatedSpec(
    IReadOnlyList<Pb.Selector> Selectors,
    IReadOnlyList<Selector> CoreSelectors,
    IReadOnlyList<Pb.UsageStatement> Statements,
    DateTimeOffset? ValidFrom,
    DateTimeOffset? ValidUntil,
    string PolicyUrl,
    Pb.WorkMetadata Work);

/// <summary>
/// Validates every field of a reservation spec (issue 6 item 4) and normalises it. Errors are
/// <see cref="ModelValidationException"/>s whose field is the wire path, e.g. <c>spec.selectors[2].domain</c>, so that
/// the service answers INVALID_ARGUMENT "spec.selectors[2].domain: 'co.uk' is a public suffix…". Nothing is stored
/// before validation passes, so a rejected request changes nothing.
/// </summary>
public static class ReservationSpecValidator
{
    /// <summary>Most selectors in one reservation (registry.proto ReservationSpec.selectors).</summary>
    public const int MaxSelectors = 1000;

    /// <summary>Longest title (common.proto WorkMetadata.title).</summary>
    public const int MaxTitleLength = 1000;

    /// <summary>Most creators, and the longest creator (common.proto WorkMetadata.creators).</summary>
    public const int MaxCreators = 100;

    /// <summary>Longest creator name.</summary>
    public const int MaxCreatorLength = 300;

    /// <summary>Most identifiers of a work.</summary>
    public const int MaxIdentifiers = 100;

    /// <summary>Longest policy URL.</summary>
    public const int MaxPolicyUrlLength = 2048;

    /// <summary>Longest source vocabulary/version/term of an imported statement.</summary>
    public const int MaxSourceLength = 200;

    /// <summary>Validates <paramref name="spec"/> (field prefix <paramref name="prefix"/>) against the server clock <paramref name="now"/>.</summary>
    /// <exception cref="ModelValidationException">The first invalid field, with the reason.</exception>
    public static ValidatedSpec Validate(Pb.ReservationSpec? spec, DateTimeOffset now, string prefix = "spec")
    {
        if (spec is null)
        {
            throw new ModelValidationException(prefix, "is required");
        }

        var selectors = ValidateSelectors(spec.Selectors, prefix + ".selectors", out var coreSelectors);
        var statements = ValidateStatements(spec.Statements, prefix + ".statements");

        DateTimeOffset? validFrom = null;
        if (spec.ValidFrom is not null)
        {
            var from = ToTime(spec.ValidFrom, prefix + ".valid_from");
            if (from < now)
            {
                // DESIGN.md "The model": valid_from ≥ registered_at, a reservation is never retroactive.
                throw new ModelValidationException(prefix + ".valid_from",
                    $"{Format(from)} is earlier than the registration time {Format(now)} (server clock); a reservation is never retroactive");
            }

            validFrom = from;
        }

        DateTimeOffset? validUntil = null;
        if (spec.ValidUntil is not null)
        {
            var until = ToTime(spec.ValidUntil, prefix + ".valid_until");
            var start = validFrom ?? now;
            if (until <= start)
            {
                throw new ModelValidationException(prefix + ".valid_until", $"{Format(until)} is not after valid_from {Format(start)}");
            }

            validUntil = until;
        }

        var policyUrl = spec.PolicyUrl ?? string.Empty;
        if (policyUrl.Length > 0)
        {
            if (policyUrl.Length > MaxPolicyUrlLength)
            {
                throw new ModelValidationException(prefix + ".policy_url", $"is {policyUrl.Length} characters; the limit is {MaxPolicyUrlLength}");
            }

            if (!Uri.TryCreate(policyUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || string.IsNullOrEmpty(uri.Host))
            {
                throw new ModelValidationException(prefix + ".policy_url", $"'{Shorten(policyUrl)}' is not an absolute http(s) URL");
            }
        }

        var work = ValidateWork(spec.Work, prefix + ".work");
        return new ValidatedSpec(selectors, coreSelectors, statements, validFrom, validUntil, policyUrl, work);
    }

    /// <summary>Truncates to whole microseconds, the precision the store keeps.</summary>
    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset time) =>
        new(time.UtcTicks - (time.UtcTicks % 10), TimeSpan.Zero);

    private static List<Pb.Selector> ValidateSelectors(IReadOnlyList<Pb.Selector> input, string field, out List<Selector> core)
    {
        if (input.Count == 0)
        {
            throw new ModelValidationException(field, "is empty; a reservation needs at least one selector (url, prefix, pattern, host, domain, sha256, iscc or identifier)");
        }

        if (input.Count > MaxSelectors)
        {
            throw new ModelValidationException(field, $"has {input.Count} selectors; the limit is {MaxSelectors}");
        }

        var result = new List<Pb.Selector>(input.Count);
        core = new List<Selector>(input.Count);
        var seen = new Dictionary<Selector, int>();
        for (var i = 0; i < input.Count; i++)
        {
            var path = $"{field}[{i}]";
            var (api, parsed) = ValidateSelector(input[i], path);
            if (seen.TryGetValue(parsed, out var first))
            {
                throw new ModelValidationException(path, $"repeats {field}[{first}] ({parsed})");
            }

            seen.Add(parsed, i);
            result.Add(api);
            core.Add(parsed);
        }

        return result;
    }

    /// <summary>Validates one selector; returns its canonical wire form and the Core selector.</summary>
    /// <exception cref="ModelValidationException">Field <c>{path}.{kind}</c>, <c>{path}.any_query</c> or <c>{path}.include_subdomains</c>.</exception>
    public static (Pb.Selector Api, Selector Core) ValidateSelector(Pb.Selector? selector, string path)
    {
        if (selector is null || selector.ValueCase == Pb.Selector.ValueOneofCase.None)
        {
            throw new ModelValidationException(path, "no selector is set; give one of url, prefix, pattern, host, domain, sha256, iscc, identifier");
        }

        var kindName = KindName(selector.ValueCase);
        if (selector.AnyQuery && selector.ValueCase != Pb.Selector.ValueOneofCase.Url)
        {
            throw new ModelValidationException(path + ".any_query", $"applies only to url selectors, not to {kindName}");
        }

        if (selector.IncludeSubdomains && selector.ValueCase != Pb.Selector.ValueOneofCase.Host)
        {
            throw new ModelValidationException(path + ".include_subdomains", $"applies only to host selectors, not to {kindName}");
        }

        var options = (selector.AnyQuery ? SelectorOptions.AnyQuery : SelectorOptions.None)
            | (selector.IncludeSubdomains ? SelectorOptions.IncludeSubdomains : SelectorOptions.None);
        Selector parsed;
        try
        {
            parsed = selector.ValueCase switch
            {
                Pb.Selector.ValueOneofCase.Url => Selector.Create(SelectorKind.Url, selector.Url, options),
                Pb.Selector.ValueOneofCase.Prefix => Selector.Create(SelectorKind.Prefix, selector.Prefix, options),
                Pb.Selector.ValueOneofCase.Pattern => CreatePattern(selector.Pattern, path),
                Pb.Selector.ValueOneofCase.Host => Selector.Create(SelectorKind.Host, selector.Host, options),
                Pb.Selector.ValueOneofCase.Domain => Selector.Create(SelectorKind.Domain, selector.Domain, options),
                Pb.Selector.ValueOneofCase.Sha256 => Selector.Create(SelectorKind.Sha256, selector.Sha256, options),
                Pb.Selector.ValueOneofCase.Iscc => Selector.Create(SelectorKind.Iscc, selector.Iscc, options),
                Pb.Selector.ValueOneofCase.Identifier => Selector.Create(SelectorKind.Identifier, selector.Identifier, options),
                _ => throw new ModelValidationException(path, $"unknown selector kind {(int)selector.ValueCase}"),
            };
        }
        catch (ModelValidationException ex) when (!ex.Field.StartsWith(path, StringComparison.Ordinal))
        {
            throw new ModelValidationException(path + "." + kindName, ex.Reason);
        }

        var canonical = new Pb.Selector { AnyQuery = selector.AnyQuery, IncludeSubdomains = selector.IncludeSubdomains };
        switch (parsed.Kind)
        {
            case SelectorKind.Url:
                // The wire form of a url selector is an absolute URL (common.proto); scheme-less input gets http://,
                // which matches https too (DESIGN.md: URL matching is scheme-insensitive).
                var url = selector.Url.Trim();
                canonical.Url = url.Contains("://", StringComparison.Ordinal) ? url : "http://" + url;
                break;
            case SelectorKind.Prefix: canonical.Prefix = parsed.Text; break;
            case SelectorKind.Pattern:
                canonical.Pattern = new Pb.PathPattern { Host = parsed.Authority!, Path = parsed.Path! };
                break;
            case SelectorKind.Host: canonical.Host = parsed.Text; break;
            case SelectorKind.Domain: canonical.Domain = parsed.Text; break;
            case SelectorKind.Sha256: canonical.Sha256 = parsed.Text; break;
            case SelectorKind.Iscc: canonical.Iscc = parsed.Text; break;
            case SelectorKind.Identifier: canonical.Identifier = parsed.Text; break;
        }

        return (canonical, parsed);
    }

    /// <summary>The oneof field name of a selector kind (also the JSON Lines key).</summary>
    public static string KindName(Pb.Selector.ValueOneofCase kind) => kind switch
    {
        Pb.Selector.ValueOneofCase.Url => "url",
        Pb.Selector.ValueOneofCase.Prefix => "prefix",
        Pb.Selector.ValueOneofCase.Pattern => "pattern",
        Pb.Selector.ValueOneofCase.Host => "host",
        Pb.Selector.ValueOneofCase.Domain => "domain",
        Pb.Selector.ValueOneofCase.Sha256 => "sha256",
        Pb.Selector.ValueOneofCase.Iscc => "iscc",
        Pb.Selector.ValueOneofCase.Identifier => "identifier",
        _ => "selector",
    };

    private static Selector CreatePattern(Pb.PathPattern pattern, string path)
    {
        if (string.IsNullOrWhiteSpace(pattern.Host))
        {
            throw new ModelValidationException(path + ".pattern.host", "is empty");
        }

        if (string.IsNullOrEmpty(pattern.Path))
        {
            throw new ModelValidationException(path + ".pattern.path", "is empty; give an RFC 9309 path pattern such as /photos/*.jpg$");
        }

        if (pattern.Host.Contains('/') || pattern.Host.Contains("://", StringComparison.Ordinal))
        {
            throw new ModelValidationException(path + ".pattern.host", $"'{Shorten(pattern.Host)}' must be a host name without scheme or path");
        }

        try
        {
            return Selector.CreatePattern(pattern.Host.Trim(), pattern.Path);
        }
        catch (ModelValidationException ex)
        {
            throw new ModelValidationException(path + ".pattern", ex.Reason);
        }
    }

    private static List<Pb.UsageStatement> ValidateStatements(IReadOnlyList<Pb.UsageStatement> input, string field)
    {
        if (input.Count == 0)
        {
            throw new ModelValidationException(field, "is empty; say at least one of disallow/allow for a category (all, train-ai, train-genai, ai-use, search)");
        }

        var result = new List<Pb.UsageStatement>(input.Count);
        var seen = new int[UsageCategories.Count];
        for (var i = 0; i < input.Count; i++)
        {
            var path = $"{field}[{i}]";
            var s = input[i];
            if (!EnumMapping.TryToCore(s.Category, out var category))
            {
                throw new ModelValidationException(path + ".category",
                    s.Category == Pb.UsageCategory.Unspecified ? "is unspecified; use all, train-ai, train-genai, ai-use or search" : $"{(int)s.Category} is not a usage category");
            }

            if (!EnumMapping.TryToCore(s.Permission, out _))
            {
                throw new ModelValidationException(path + ".permission",
                    s.Permission == Pb.Permission.Unspecified ? "is unspecified; use disallow or allow" : $"{(int)s.Permission} is not a permission");
            }

            if (seen[(int)category] != 0)
            {
                throw new ModelValidationException(path + ".category", $"'{category.ToWireName()}' already has a statement ({field}[{seen[(int)category] - 1}])");
            }

            seen[(int)category] = i + 1;
            CheckText(s.SourceVocabulary, path + ".source_vocabulary", MaxSourceLength);
            CheckText(s.SourceVersion, path + ".source_version", MaxSourceLength);
            CheckText(s.SourceTerm, path + ".source_term", MaxSourceLength);
            result.Add(s.Clone());
        }

        return result;
    }

    private static Pb.WorkMetadata ValidateWork(Pb.WorkMetadata? work, string field)
    {
        var result = new Pb.WorkMetadata();
        if (work is null)
        {
            return result;
        }

        CheckText(work.Title, field + ".title", MaxTitleLength);
        result.Title = work.Title.Trim();
        if (work.Creators.Count > MaxCreators)
        {
            throw new ModelValidationException(field + ".creators", $"has {work.Creators.Count} entries; the limit is {MaxCreators}");
        }

        for (var i = 0; i < work.Creators.Count; i++)
        {
            var creator = work.Creators[i];
            if (string.IsNullOrWhiteSpace(creator))
            {
                throw new ModelValidationException($"{field}.creators[{i}]", "is empty");
            }

            CheckText(creator, $"{field}.creators[{i}]", MaxCreatorLength);
            result.Creators.Add(creator.Trim());
        }

        if (work.Language.Length > 0)
        {
            if (!IsLanguageTag(work.Language))
            {
                throw new ModelValidationException(field + ".language", $"'{Shorten(work.Language)}' is not a BCP 47 language tag such as kk, ru or en-GB");
            }

            result.Language = work.Language;
        }

        if (work.Identifiers.Count > MaxIdentifiers)
        {
            throw new ModelValidationException(field + ".identifiers", $"has {work.Identifiers.Count} entries; the limit is {MaxIdentifiers}");
        }

        for (var i = 0; i < work.Identifiers.Count; i++)
        {
            if (!StandardIdentifier.TryParse(work.Identifiers[i], out var id, out var error))
            {
                throw new ModelValidationException($"{field}.identifiers[{i}]", error);
            }

            result.Identifiers.Add(id.ToString());
        }

        return result;
    }

    /// <summary>Refuses over-long text and control characters (they would corrupt logs, tables and search).</summary>
    /// <exception cref="ModelValidationException">The field and the reason.</exception>
    public static void CheckText(string? value, string field, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (value.Length > maxLength)
        {
            throw new ModelValidationException(field, $"is {value.Length} characters; the limit is {maxLength}");
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsControl(c))
            {
                throw new ModelValidationException(field, $"contains the control character U+{(int)c:X4} at position {i}");
            }

            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    i++;
                    continue;
                }

                throw new ModelValidationException(field, $"has an unpaired surrogate at position {i}");
            }
        }
    }

    private static bool IsLanguageTag(string tag)
    {
        // BCP 47 in its common shape: a 2–3 letter (or 4–8 letter registered) primary subtag, then 1–8 alphanumeric subtags.
        if (tag.Length > 35)
        {
            return false;
        }

        var parts = tag.Split('-');
        if (parts[0].Length is < 2 or > 8 || !parts[0].All(char.IsAsciiLetter))
        {
            return false;
        }

        for (var i = 1; i < parts.Length; i++)
        {
            if (parts[i].Length is < 1 or > 8 || !parts[i].All(char.IsAsciiLetterOrDigit))
            {
                return false;
            }
        }

        return true;
    }

    private static DateTimeOffset ToTime(Timestamp timestamp, string field)
    {
        // Timestamp.ToDateTimeOffset throws for seconds/nanos outside the proto3 range; that is the client's error.
        if (timestamp.Nanos is < 0 or > 999_999_999 || timestamp.Seconds < -62135596800L || timestamp.Seconds > 253402300799L)
        {
            throw new ModelValidationException(field, "is not a valid timestamp (seconds 0001-01-01..9999-12-31, nanos 0..999999999)");
        }

        return TruncateToMicroseconds(timestamp.ToDateTimeOffset());
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static string Shorten(string value) => value.Length <= 100 ? value : value[..100] + "…";
}
