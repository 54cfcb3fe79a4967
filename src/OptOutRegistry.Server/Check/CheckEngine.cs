using System.Buffers;
using Google.Protobuf.Collections;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Grpc;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Check;

/// <summary>
/// Answers check requests from the matcher: the one implementation behind <c>Check.CheckBatch</c>,
/// <c>Check.CheckStream</c>, <c>Check.Explain</c>, <c>POST /v1/check</c> and the Spawning-compatible gateway.
/// </summary>
public sealed class CheckEngine(RegistryMirror mirror)
{
    /// <summary>Most subjects in one request (DESIGN.md "Interfaces": a batch of up to 10,000).</summary>
    public const int MaxSubjects = 10_000;

    // Results without provenance are immutable in practice (never mutated after construction), so one instance per
    // verdict serves every answer: a 1,000-URL batch then allocates no result objects at all.
    private static readonly Pb.CheckResult UnknownResult = new() { Verdict = Pb.Verdict.Unknown };
    private static readonly Pb.CheckResult AllowedResult = new() { Verdict = Pb.Verdict.Allowed };
    private static readonly Pb.CheckResult DisallowedResult = new() { Verdict = Pb.Verdict.Disallowed };

    /// <summary>The mirror whose matcher answers.</summary>
    public RegistryMirror Mirror => mirror;

    /// <summary>Answers a batch, in input order.</summary>
    /// <exception cref="RpcException">INVALID_ARGUMENT for a request-level problem (too many subjects, bad purpose).</exception>
    public Pb.CheckBatchResponse CheckBatch(Pb.CheckBatchRequest request)
    {
        var count = request.Subjects.Count;
        if (count > MaxSubjects)
        {
            throw Invalid($"subjects: {count} subjects; at most {MaxSubjects} per request");
        }

        var purpose = Purpose(request.Purpose);
        var matcher = mirror.Matcher;

        // One instant for the whole batch: every subject is answered as of the same moment, and the clock is read once
        // instead of once per subject.
        DateTimeOffset? asOf = AsOf(request.AsOf) ?? matcher.TimeProvider.GetUtcNow();
        var response = new Pb.CheckBatchResponse { AsOfSequence = mirror.AppliedSequence, RequestId = request.RequestId };
        var results = response.Results;
        results.Capacity = count;
        var subjects = request.Subjects;
        if (!request.IncludeMatches)
        {
            CheckVerdictsOnly(matcher, subjects, purpose, asOf.Value, results);
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                results.Add(CheckWithMatches(matcher, subjects[i], purpose, asOf));
            }
        }

        return response;
    }

    /// <summary>Explains one verdict: every match considered and whether it decided.</summary>
    public Pb.ExplainResponse Explain(Pb.ExplainRequest request)
    {
        if (request.Subject is null || request.Subject.ValueCase == Pb.Subject.ValueOneofCase.None)
        {
            throw Invalid("subject: no subject value is set");
        }

        var purpose = Purpose(request.Purpose);
        DateTimeOffset? asOf = AsOf(request.AsOf);
        var response = new Pb.ExplainResponse { AsOfSequence = mirror.AppliedSequence };
        if (!TryQuery(request.Subject, purpose, asOf, out var query, out var error))
        {
            throw Invalid("subject." + error);
        }

        response.CanonicalSubject = Canonical(request.Subject);
        CheckResult result;
        try
        {
            result = mirror.Matcher.Check(query);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            throw Invalid($"subject.{request.Subject.ValueCase.ToString().ToLowerInvariant()}: {Describe(ex)}");
        }

        response.Verdict = ProtoConvert.ToProto(result.Verdict);
        foreach (var match in result.Matches)
        {
            var verdict = match.Permission.ToVerdict();
            var decisive = match.IsDeciding && verdict == result.Verdict;
            response.Steps.Add(new Pb.ExplainStep
            {
                Match = ProtoConvert.ToProto(match, mirror.GetHolderName(match.HolderId)),
                Decisive = decisive,
                Reason = Reason(match, verdict, result.Verdict, purpose),
            });
        }

        response.Notes.Add($"purpose '{purpose.ToWireName()}' as of {(asOf is { } t ? t.ToString("O") : "now")}; a category without its own statement inherits its parent's (train-genai → train-ai → all), and a narrower category's disallow restricts the broader purpose (a train-genai reservation disallows train-ai and all)");
        response.Notes.Add("within one holder the most specific selector wins (exact url > longest prefix/pattern > host > domain)");
        response.Notes.Add("across holders the most restrictive answer wins (any disallow ⇒ DISALLOWED)");
        if (result.Matches.Count == 0)
        {
            response.Notes.Add("no reservation covers the subject for this purpose at this instant: UNKNOWN (use is permitted by law; the caller's policy decides)");
        }

        return response;
    }

    /// <summary>Answers one URL (Spawning gateway): the verdict only.</summary>
    public Verdict CheckUrl(string url, UsageCategory purpose)
    {
        mirror.Matcher.TryCheckUrl(url, purpose, null, out var verdict, out _);
        return verdict;
    }

    /// <summary>The Core purpose of a request, INVALID_ARGUMENT if unknown.</summary>
    public static UsageCategory Purpose(Pb.UsageCategory purpose)
    {
        try
        {
            return ProtoConvert.ToCore(purpose);
        }
        catch (ModelValidationException ex)
        {
            throw Invalid($"{ex.Field}: {ex.Reason}");
        }
    }

    /// <summary>
    /// Verdicts without provenance, in input order: the URL subjects go through the matcher's pipelined batch check
    /// (<see cref="MatcherIndex.CheckUrls"/>, whose cache misses overlap across URLs), the others one by one.
    /// </summary>
    private static void CheckVerdictsOnly(MatcherIndex matcher, RepeatedField<Pb.Subject> subjects, UsageCategory purpose, DateTimeOffset asOf,
        RepeatedField<Pb.CheckResult> results)
    {
        var count = subjects.Count;
        var urls = ArrayPool<string?>.Shared.Rent(count);
        var verdicts = ArrayPool<Verdict>.Shared.Rent(count);
        var errors = ArrayPool<UrlError>.Shared.Rent(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var subject = subjects[i];
                urls[i] = subject.ValueCase == Pb.Subject.ValueOneofCase.Url ? subject.Url : null;
            }

            matcher.CheckUrls(urls.AsSpan(0, count), purpose, asOf, verdicts, errors);
            for (var i = 0; i < count; i++)
            {
                if (urls[i] is null)
                {
                    results.Add(CheckVerdictOnly(matcher, subjects[i], purpose, asOf));
                }
                else if (errors[i] != UrlError.None)
                {
                    results.Add(new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = "url: " + UrlErrors.Describe(errors[i]) });
                }
                else
                {
                    results.Add(Shared(verdicts[i]));
                }
            }
        }
        finally
        {
            // Do not keep the request's strings alive through the pool.
            Array.Clear(urls, 0, count);
            ArrayPool<string?>.Shared.Return(urls);
            ArrayPool<Verdict>.Shared.Return(verdicts);
            ArrayPool<UrlError>.Shared.Return(errors);
        }
    }

    private static Pb.CheckResult Shared(Verdict verdict) => verdict switch
    {
        Verdict.Disallowed => DisallowedResult,
        Verdict.Allowed => AllowedResult,
        _ => UnknownResult,
    };

    private static Pb.CheckResult CheckVerdictOnly(MatcherIndex matcher, Pb.Subject subject, UsageCategory purpose, DateTimeOffset? asOf)
    {
        Verdict verdict;
        try
        {
            if (subject.ValueCase == Pb.Subject.ValueOneofCase.Url)
            {
                if (!matcher.TryCheckUrl(subject.Url, purpose, asOf, out verdict, out var urlError))
                {
                    return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = "url: " + UrlErrors.Describe(urlError) };
                }
            }
            else if (TryQuery(subject, purpose, asOf, out var query, out var error))
            {
                verdict = matcher.Check(query).Verdict;
            }
            else
            {
                return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = error };
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = $"{subject.ValueCase.ToString().ToLowerInvariant()}: {Describe(ex)}" };
        }

        return Shared(verdict);
    }

    private Pb.CheckResult CheckWithMatches(MatcherIndex matcher, Pb.Subject subject, UsageCategory purpose, DateTimeOffset? asOf)
    {
        if (!TryQuery(subject, purpose, asOf, out var query, out var error))
        {
            return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = error };
        }

        CheckResult result;
        try
        {
            result = matcher.Check(query);
        }
        catch (ModelValidationException ex)
        {
            return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = $"{subject.ValueCase.ToString().ToLowerInvariant()}: {ex.Reason}" };
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return new Pb.CheckResult { Verdict = Pb.Verdict.Unknown, Error = $"{subject.ValueCase.ToString().ToLowerInvariant()}: {Describe(ex)}" };
        }

        var answer = new Pb.CheckResult { Verdict = ProtoConvert.ToProto(result.Verdict) };
        AddDecidingMatches(answer.Matches, result);
        return answer;
    }

    private void AddDecidingMatches(RepeatedField<Pb.Match> into, CheckResult result)
    {
        foreach (var match in result.Matches)
        {
            // The provenance of a verdict is the matches that decided it; overridden broader selectors are in Explain.
            if (match.IsDeciding && match.Permission.ToVerdict() == result.Verdict)
            {
                into.Add(ProtoConvert.ToProto(match, mirror.GetHolderName(match.HolderId)));
            }
        }
    }

    private static bool TryQuery(Pb.Subject subject, UsageCategory purpose, DateTimeOffset? asOf, out CheckQuery query, out string error)
    {
        error = string.Empty;
        switch (subject.ValueCase)
        {
            case Pb.Subject.ValueOneofCase.Url:
                query = CheckQuery.Url(subject.Url, purpose, asOf);
                return true;
            case Pb.Subject.ValueOneofCase.Sha256:
                query = CheckQuery.Sha256(subject.Sha256, purpose, asOf);
                return true;
            case Pb.Subject.ValueOneofCase.Iscc:
                query = CheckQuery.Iscc(subject.Iscc, purpose, asOf);
                return true;
            case Pb.Subject.ValueOneofCase.Identifier:
                query = CheckQuery.Identifier(subject.Identifier, purpose, asOf);
                return true;
            default:
                query = default;
                error = "value: no subject value is set (url, sha256, iscc or identifier)";
                return false;
        }
    }

    private static string Canonical(Pb.Subject subject)
    {
        try
        {
            return subject.ValueCase switch
            {
                Pb.Subject.ValueOneofCase.Url => UrlCanonicalizer.GetMatchKey(subject.Url),
                Pb.Subject.ValueOneofCase.Sha256 => subject.Sha256.Trim().ToLowerInvariant(),
                Pb.Subject.ValueOneofCase.Identifier => Core.Identifiers.StandardIdentifier.TryParse(subject.Identifier, out var id, out _) ? id.ToString() : subject.Identifier,
                _ => subject.Iscc,
            };
        }
        catch (FormatException ex)
        {
            throw Invalid($"subject.url: {ex.Message}");
        }
    }

    private static string Reason(Match match, Verdict verdict, Verdict final, UsageCategory purpose)
    {
        var says = $"{match.SelectorKind.ToWireName()} selector '{match.SelectorText}' says {match.Permission.ToWireName()} for '{match.DecidingCategory.ToWireName()}'";
        if (match.DecidingCategory != purpose)
        {
            // The category either is an ancestor (its statement is inherited) or a narrower one whose disallow
            // restricts the broader purpose (UsageStatements: a use for train-ai may include train-genai).
            says += IsAncestor(match.DecidingCategory, purpose)
                ? $" (inherited by '{purpose.ToWireName()}')"
                : $" (a narrower category of '{purpose.ToWireName()}': a use for '{purpose.ToWireName()}' may include it)";
        }

        if (!match.IsDeciding)
        {
            return says + "; a more specific selector of the same holder overrides it";
        }

        return verdict == final
            ? says + "; this is its holder's most specific selector and it decides the verdict"
            : says + "; another holder's more restrictive answer wins";
    }

    private static bool IsAncestor(UsageCategory candidate, UsageCategory of)
    {
        for (var p = UsageCategories.Parent(of); p is { } parent; p = UsageCategories.Parent(parent))
        {
            if (parent == candidate)
            {
                return true;
            }
        }

        return false;
    }

    private static string Describe(Exception ex) => ex is ModelValidationException m ? m.Reason : ex.Message;

    private static RpcException Invalid(string detail) => new(new Status(StatusCode.InvalidArgument, detail));

    /// <summary>
    /// The request's as_of instant. Timestamp.ToDateTimeOffset throws InvalidOperationException outside the proto3 range
    /// (0001-01-01..9999-12-31, nanos 0..999999999), which reached clients as UNKNOWN (fuzz finding,
    /// benchmarks/Reliability/FUZZ-RESULTS.md); it is the client's error: INVALID_ARGUMENT naming the field.
    /// </summary>
    internal static DateTimeOffset? AsOf(Google.Protobuf.WellKnownTypes.Timestamp? timestamp)
    {
        if (timestamp is null)
        {
            return null;
        }

        if (timestamp.Nanos is < 0 or > 999_999_999 || timestamp.Seconds is < -62_135_596_800L or > 253_402_300_799L)
        {
            throw Invalid("as_of: is not a valid timestamp (seconds 0001-01-01..9999-12-31, nanos 0..999999999)");
        }

        return timestamp.ToDateTimeOffset();
    }
}
