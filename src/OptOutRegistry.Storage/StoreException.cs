namespace OptOutRegistry.Storage;

/// <summary>Why a store operation was refused.</summary>
public enum StoreErrorKind
{
    /// <summary>A field is malformed or out of range (maps to INVALID_ARGUMENT).</summary>
    Invalid,

    /// <summary>Something the operation refers to does not exist (NOT_FOUND / FAILED_PRECONDITION).</summary>
    NotFound,

    /// <summary>The operation would overwrite something that exists (ALREADY_EXISTS).</summary>
    Conflict,
}

/// <summary>
/// A refused mutation. Nothing was written: the whole transaction (event included) was rolled back.
/// </summary>
public sealed class StoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StoreException(StoreErrorKind kind, string field, string message, int mutationIndex = -1, Exception? inner = null)
        : base(mutationIndex >= 0 ? $"mutation {mutationIndex}: {field}: {message}" : $"{field}: {message}", inner)
    {
        Kind = kind;
        Field = field;
        Reason = message;
        MutationIndex = mutationIndex;
    }

    /// <summary>What kind of refusal.</summary>
    public StoreErrorKind Kind { get; }

    /// <summary>The field at fault, e.g. "changes[0].holder_id".</summary>
    public string Field { get; }

    /// <summary>The reason, without the field name.</summary>
    public string Reason { get; }

    /// <summary>Index of the failing mutation within a batch, or −1.</summary>
    public int MutationIndex { get; }

    internal StoreException AtIndex(int index) => new(Kind, Field, Reason, index, InnerException);
}
