namespace OptOutRegistry.Core.Model;

/// <summary>
/// Thrown when a model value (reservation, selector, statement) is invalid. <see cref="Field"/> names the
/// offending field (e.g. <c>selectors[2].value</c>) so that the gRPC layer can answer
/// <c>INVALID_ARGUMENT</c> with a message the caller can act on (DESIGN.md "Bad input").
/// </summary>
public sealed class ModelValidationException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="field"/> with a human-readable <paramref name="reason"/>.</summary>
    public ModelValidationException(string field, string reason)
        : base($"{field}: {reason}")
    {
        Field = field;
        Reason = reason;
    }

    /// <summary>The field that is invalid, as a path (<c>selectors[0].value</c>).</summary>
    public string Field { get; }

    /// <summary>Why the value was refused.</summary>
    public string Reason { get; }

    /// <summary>A copy of this error with <paramref name="prefix"/> prepended to the field path.</summary>
    public ModelValidationException WithFieldPrefix(string prefix) => new(prefix + "." + Field, Reason);
}
