namespace OptOutRegistry.Core.Model;

/// <summary>
/// What a usage statement says about one category. The numeric values equal the
/// <see cref="Verdict"/> they produce, so a permission converts to a verdict with a cast.
/// </summary>
public enum UsagePermission : byte
{
    /// <summary>An explicit permission or licence for this use.</summary>
    Allow = 1,

    /// <summary>A rights reservation: this use is not permitted.</summary>
    Disallow = 2,
}

/// <summary>Wire names and conversions of <see cref="UsagePermission"/>.</summary>
public static class UsagePermissions
{
    /// <summary>The verdict a statement with this permission produces.</summary>
    public static Verdict ToVerdict(this UsagePermission permission) => (Verdict)(byte)permission;

    /// <summary>The registry's wire name: <c>allow</c> or <c>disallow</c>.</summary>
    public static string ToWireName(this UsagePermission permission) => permission switch
    {
        UsagePermission.Allow => "allow",
        UsagePermission.Disallow => "disallow",
        _ => throw new ArgumentOutOfRangeException(nameof(permission)),
    };

    /// <summary>Parses <c>allow</c> / <c>disallow</c>, case-insensitively.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out UsagePermission permission)
    {
        if (name.Equals("allow", StringComparison.OrdinalIgnoreCase))
        {
            permission = UsagePermission.Allow;
            return true;
        }

        if (name.Equals("disallow", StringComparison.OrdinalIgnoreCase))
        {
            permission = UsagePermission.Disallow;
            return true;
        }

        permission = default;
        return false;
    }
}
