namespace OptOutRegistry.Signals.StructuredFields;

/// <summary>The type of an RFC 9651 bare item (§3.3).</summary>
public enum SfBareItemType : byte
{
    /// <summary>§3.3.1 Integer (at most 15 digits).</summary>
    Integer,

    /// <summary>§3.3.2 Decimal (at most 12 integer and 3 fractional digits).</summary>
    Decimal,

    /// <summary>§3.3.3 String (printable ASCII).</summary>
    String,

    /// <summary>§3.3.4 Token.</summary>
    Token,

    /// <summary>§3.3.5 Byte Sequence (base64 between colons).</summary>
    ByteSequence,

    /// <summary>§3.3.6 Boolean (<c>?0</c>/<c>?1</c>).</summary>
    Boolean,

    /// <summary>§3.3.7 Date (<c>@</c> and an integer number of seconds since the Unix epoch).</summary>
    Date,

    /// <summary>§3.3.8 Display String (<c>%"…"</c>, percent-encoded UTF-8).</summary>
    DisplayString,
}

/// <summary>An RFC 9651 bare item. Which accessor is meaningful depends on <see cref="Type"/>.</summary>
public readonly struct SfBareItem : IEquatable<SfBareItem>
{
    private readonly long _integer;
    private readonly decimal _decimal;
    private readonly object? _reference;

    private SfBareItem(SfBareItemType type, long integer, decimal @decimal, object? reference)
    {
        Type = type;
        _integer = integer;
        _decimal = @decimal;
        _reference = reference;
    }

    /// <summary>The item's type.</summary>
    public SfBareItemType Type { get; }

    /// <summary>The value of an Integer, or the seconds of a Date.</summary>
    public long Integer => _integer;

    /// <summary>The value of a Decimal (or of an Integer, widened).</summary>
    public decimal Decimal => Type == SfBareItemType.Decimal ? _decimal : _integer;

    /// <summary>The text of a String, Token or Display String; null for other types.</summary>
    public string? Text => _reference as string;

    /// <summary>The bytes of a Byte Sequence; empty for other types.</summary>
    public ReadOnlyMemory<byte> Bytes => _reference as byte[] ?? ReadOnlyMemory<byte>.Empty;

    /// <summary>The value of a Boolean.</summary>
    public bool Boolean => _integer != 0;

    /// <summary>True when this is the Token <paramref name="token"/> (tokens are case-sensitive, RFC 9651 §3.3.4).</summary>
    public bool IsToken(string token) => Type == SfBareItemType.Token && string.Equals(Text, token, StringComparison.Ordinal);

    /// <summary>Creates an Integer.</summary>
    public static SfBareItem FromInteger(long value) => new(SfBareItemType.Integer, value, 0, null);

    /// <summary>Creates a Decimal.</summary>
    public static SfBareItem FromDecimal(decimal value) => new(SfBareItemType.Decimal, 0, value, null);

    /// <summary>Creates a String.</summary>
    public static SfBareItem FromString(string value) => new(SfBareItemType.String, 0, 0, value);

    /// <summary>Creates a Token.</summary>
    public static SfBareItem FromToken(string value) => new(SfBareItemType.Token, 0, 0, value);

    /// <summary>Creates a Byte Sequence.</summary>
    public static SfBareItem FromBytes(byte[] value) => new(SfBareItemType.ByteSequence, 0, 0, value);

    /// <summary>Creates a Boolean.</summary>
    public static SfBareItem FromBoolean(bool value) => new(SfBareItemType.Boolean, value ? 1 : 0, 0, null);

    /// <summary>Creates a Date.</summary>
    public static SfBareItem FromDate(long secondsSinceEpoch) => new(SfBareItemType.Date, secondsSinceEpoch, 0, null);

    /// <summary>Creates a Display String.</summary>
    public static SfBareItem FromDisplayString(string value) => new(SfBareItemType.DisplayString, 0, 0, value);

    /// <inheritdoc />
    public bool Equals(SfBareItem other) =>
        Type == other.Type && _integer == other._integer && _decimal == other._decimal &&
        (_reference is byte[] a && other._reference is byte[] b ? a.AsSpan().SequenceEqual(b) : Equals(_reference, other._reference));

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SfBareItem other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Type, _integer, _decimal, _reference as string);

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        SfBareItemType.Integer => _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        SfBareItemType.Decimal => _decimal.ToString(System.Globalization.CultureInfo.InvariantCulture),
        SfBareItemType.String => "\"" + Text + "\"",
        SfBareItemType.Token => Text ?? string.Empty,
        SfBareItemType.ByteSequence => ":" + Convert.ToBase64String(Bytes.Span) + ":",
        SfBareItemType.Boolean => Boolean ? "?1" : "?0",
        SfBareItemType.Date => "@" + _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        SfBareItemType.DisplayString => "%\"" + Text + "\"",
        _ => string.Empty,
    };
}

/// <summary>An ordered map of parameters (RFC 9651 §3.1.2); a repeated key keeps its first position and its last value.</summary>
public sealed class SfParameters
{
    /// <summary>The empty parameter set.</summary>
    public static readonly SfParameters Empty = new([]);

    /// <summary>Creates a parameter set (keys are not validated here; the serializer validates them).</summary>
    public SfParameters(IReadOnlyList<KeyValuePair<string, SfBareItem>> entries) => Entries = entries;

    /// <summary>The parameters in order.</summary>
    public IReadOnlyList<KeyValuePair<string, SfBareItem>> Entries { get; }

    /// <summary>Looks a parameter up by key.</summary>
    public bool TryGet(string key, out SfBareItem value)
    {
        foreach (var e in Entries)
        {
            if (e.Key == key)
            {
                value = e.Value;
                return true;
            }
        }

        value = default;
        return false;
    }
}

/// <summary>An Item: a bare item with parameters (RFC 9651 §3.3).</summary>
/// <param name="Value">The bare item.</param>
/// <param name="Parameters">Its parameters.</param>
public sealed record SfItem(SfBareItem Value, SfParameters Parameters);

/// <summary>A List or Dictionary member: an Item or an Inner List (RFC 9651 §3.1.1).</summary>
public sealed class SfMember
{
    private SfMember(SfItem? item, IReadOnlyList<SfItem>? innerList, SfParameters parameters)
    {
        Item = item;
        InnerList = innerList;
        Parameters = parameters;
    }

    /// <summary>The Item, or null when this member is an Inner List.</summary>
    public SfItem? Item { get; }

    /// <summary>The Inner List's items, or null when this member is an Item.</summary>
    public IReadOnlyList<SfItem>? InnerList { get; }

    /// <summary>True when this member is an Inner List.</summary>
    public bool IsInnerList => InnerList is not null;

    /// <summary>The parameters of the Item or of the Inner List.</summary>
    public SfParameters Parameters { get; }

    /// <summary>Creates an Item member.</summary>
    public static SfMember FromItem(SfItem item) => new(item, null, item.Parameters);

    /// <summary>Creates an Inner List member.</summary>
    public static SfMember FromInnerList(IReadOnlyList<SfItem> items, SfParameters parameters) => new(null, items, parameters);
}

/// <summary>A Dictionary (RFC 9651 §3.2): ordered; a repeated key keeps its first position and its last value.</summary>
public sealed class SfDictionary
{
    /// <summary>Creates a dictionary from members in order.</summary>
    public SfDictionary(IReadOnlyList<KeyValuePair<string, SfMember>> entries) => Entries = entries;

    /// <summary>The members in order.</summary>
    public IReadOnlyList<KeyValuePair<string, SfMember>> Entries { get; }

    /// <summary>Looks a member up by key (keys are lowercase; the comparison is ordinal).</summary>
    public bool TryGet(string key, out SfMember member)
    {
        foreach (var e in Entries)
        {
            if (e.Key == key)
            {
                member = e.Value;
                return true;
            }
        }

        member = null!;
        return false;
    }
}
