namespace OptOutRegistry.Server.Auth;

/// <summary>Who is calling.</summary>
public enum CallerKind
{
    /// <summary>No <c>authorization</c> header.</summary>
    Anonymous,

    /// <summary>A holder's API key.</summary>
    Holder,

    /// <summary>The operator's admin key.</summary>
    Admin,
}

/// <summary>The authenticated caller of a request (services-common "Auth").</summary>
/// <param name="Kind">Anonymous, holder or admin.</param>
/// <param name="HolderId">The holder's id for <see cref="CallerKind.Holder"/>, else null.</param>
/// <param name="KeyId">The id of the key used (holder keys), else null; for per-key rate limits.</param>
public sealed record Caller(CallerKind Kind, string? HolderId, string? KeyId)
{
    /// <summary>The anonymous caller.</summary>
    public static Caller Anonymous { get; } = new(CallerKind.Anonymous, null, null);

    /// <summary>The operator.</summary>
    public static Caller Admin { get; } = new(CallerKind.Admin, null, "admin");

    /// <summary>True for the admin key.</summary>
    public bool IsAdmin => Kind == CallerKind.Admin;

    /// <summary>The event actor: <c>holder:ID</c>, <c>admin</c> or <c>system</c> (never a key).</summary>
    public string Actor => Kind switch
    {
        CallerKind.Holder => "holder:" + HolderId,
        CallerKind.Admin => "admin",
        _ => "system",
    };
}
