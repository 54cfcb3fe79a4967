using OptOutRegistry.Core.Model;
using OptOutRegistry.Signals.Preferences;

namespace OptOutRegistry.Signals.Tdmrep;

/// <summary>The value of <c>tdm-reservation</c> (TDMRep §3.2).</summary>
public enum TdmReservation : byte
{
    /// <summary>Not stated, or a protocol error ("TDM Agents MUST consider that tdm-reservation is unset").</summary>
    Unset,

    /// <summary><c>0</c>: TDM rights are not reserved.</summary>
    NotReserved,

    /// <summary><c>1</c>: TDM rights are reserved (a CDSM Art. 4(3) opt-out).</summary>
    Reserved,
}

/// <summary>Where a TDMRep value came from (TDMRep §4: the techniques, in processing order).</summary>
public enum TdmrepTechnique : byte
{
    /// <summary><c>/.well-known/tdmrep.json</c>.</summary>
    WellKnownFile,

    /// <summary><c>tdm-reservation</c>/<c>tdm-policy</c> response headers.</summary>
    HttpHeader,

    /// <summary>HTML <c>&lt;meta name="tdm-reservation"&gt;</c>.</summary>
    HtmlMeta,

    /// <summary>EPUB 2/3 package metadata.</summary>
    Epub,

    /// <summary>PDF XMP metadata.</summary>
    PdfXmp,
}

/// <summary>A TDMRep statement found by one technique.</summary>
/// <param name="Technique">Where it came from.</param>
/// <param name="Reservation">The reservation (unset when absent or invalid).</param>
/// <param name="Policy">The <c>tdm-policy</c> URL, if any.</param>
/// <param name="Source">Human-readable provenance (file and rule index, header name, element).</param>
/// <param name="Error">A protocol error found on the way (invalid value, bad JSON…), if any.</param>
public sealed record TdmrepStatement(TdmrepTechnique Technique, TdmReservation Reservation, string? Policy, string Source, string? Error = null)
{
    /// <summary>True when the statement carries a value (an absent one never resets earlier values).</summary>
    public bool HasValue => Reservation != TdmReservation.Unset || Policy is not null;
}

/// <summary>Helpers shared by the TDMRep techniques.</summary>
public static class TdmrepRules
{
    /// <summary>
    /// Applies the processing priority of TDMRep §4.3 (file → header → HTML meta → EPUB/PDF): each later technique
    /// supersedes the earlier ones, and "at every step, the absence of tdm-reservation and tdm-policy MUST not reset
    /// current values" (each property separately).
    /// </summary>
    public static (TdmReservation Reservation, string? Policy, TdmrepStatement? Decisive) Resolve(IEnumerable<TdmrepStatement> statements)
    {
        var reservation = TdmReservation.Unset;
        string? policy = null;
        TdmrepStatement? decisive = null;
        var ordered = new List<TdmrepStatement>(statements);
        ordered.Sort(static (a, b) => a.Technique.CompareTo(b.Technique));
        foreach (var s in ordered)
        {
            if (s.Reservation != TdmReservation.Unset)
            {
                reservation = s.Reservation;
                decisive = s;
            }

            if (s.Policy is not null)
            {
                policy = s.Policy;
            }
        }

        // §3.2: with tdm-reservation 0 a policy is not an error, but agents SHOULD NOT process it.
        return (reservation, reservation == TdmReservation.Reserved ? policy : null, decisive);
    }

    /// <summary>
    /// The registry reading of a reservation: TDMRep has no purpose granularity, and <c>1</c> reserves all text and
    /// data mining — the registry's <c>all</c>, which every narrower purpose inherits (standards.md §9 puts TDMRep in
    /// the "any automated processing" row; the mapping hazard that this includes search-side mining is deliberate:
    /// the rights holder reserved TDM without exceptions). <c>0</c> is an explicit permission for all of them.
    /// </summary>
    public static UsagePreferences ToPreferences(TdmReservation reservation) => reservation switch
    {
        TdmReservation.Reserved => UsagePreferences.None.With(UsageCategory.All, Verdict.Disallowed),
        TdmReservation.NotReserved => UsagePreferences.None.With(UsageCategory.All, Verdict.Allowed),
        _ => UsagePreferences.None,
    };

    /// <summary>Reads a textual <c>tdm-reservation</c> value: exactly <c>1</c> or <c>0</c> (trimmed); anything else is a protocol error ⇒ unset.</summary>
    public static TdmReservation ParseReservation(string? value, out string? error)
    {
        error = null;
        if (value is null)
        {
            return TdmReservation.Unset;
        }

        var v = value.AsSpan().Trim();
        if (v.SequenceEqual("1"))
        {
            return TdmReservation.Reserved;
        }

        if (v.SequenceEqual("0"))
        {
            return TdmReservation.NotReserved;
        }

        error = $"tdm-reservation: \"{Truncate(value)}\" is not 0 or 1 (protocol error: treated as unset, TDMRep §3.2)";
        return TdmReservation.Unset;
    }

    /// <summary>Validates a <c>tdm-policy</c> value: an absolute http(s) URL, else null with an error.</summary>
    public static string? ParsePolicy(string? value, out string? error)
    {
        error = null;
        if (value is null)
        {
            return null;
        }

        var v = value.Trim();
        if (Uri.TryCreate(v, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return v;
        }

        error = $"tdm-policy: \"{Truncate(value)}\" is not an absolute http(s) URL; ignored";
        return null;
    }

    internal static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
