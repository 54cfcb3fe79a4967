namespace OptOutRegistry.Server.Warmup;

/// <summary>
/// Whether the server warms itself up before it says it is ready (<see cref="ServerWarmUp"/>). Configuration key
/// <c>warm-up</c>: <c>on</c> (the default) or <c>off</c>.
/// </summary>
/// <param name="Enabled">True to send the warm-up requests before readiness.</param>
public sealed record WarmUpOptions(bool Enabled)
{
    /// <summary>Warm-up on (the default).</summary>
    public static readonly WarmUpOptions On = new(true);

    /// <summary>Warm-up off: ready as soon as the matcher has caught up.</summary>
    public static readonly WarmUpOptions Off = new(false);

    /// <summary>Parses <c>warm-up</c>: <c>on</c> or <c>off</c> (any case); null or empty gives <see cref="On"/>.</summary>
    /// <exception cref="FormatException">Any other value; the message names the option.</exception>
    public static WarmUpOptions Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return On;
        }

        var trimmed = value.Trim();
        if (string.Equals(trimmed, "on", StringComparison.OrdinalIgnoreCase))
        {
            return On;
        }

        if (string.Equals(trimmed, "off", StringComparison.OrdinalIgnoreCase))
        {
            return Off;
        }

        throw new FormatException($"--warm-up: '{value}' is not on or off");
    }
}
