using Microsoft.Extensions.Configuration.Memory;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The server's default log levels, below every other configuration source (command line, environment, appsettings),
/// so any <c>--Logging:LogLevel:CATEGORY=LEVEL</c> the operator gives wins.
/// <list type="bullet">
/// <item><c>Microsoft.AspNetCore</c>: Warning. At Information ASP.NET Core writes four lines per request (request
/// starting/finished, endpoint executing/executed): 40,000 console lines a second at 10,000 checks/s.</item>
/// <item><c>Microsoft.AspNetCore.Hosting.Diagnostics</c>: None. Hosting opens a logging scope for every request whenever
/// this category is enabled at any level (an object plus an async-local push through every scope-aware provider),
/// which was 830 of the 1,530 bytes the server allocated per unary check (Benchmarks.Check RESULTS.md, round five).
/// The category carries only the request starting/finished lines; the host's own start-up errors are logged under
/// <c>Microsoft.Extensions.Hosting</c>. <c>--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information</c>
/// brings the request lines (and the scope) back.</item>
/// </list>
/// </summary>
public static class LoggingDefaults
{
    /// <summary>Adds the defaults as the lowest-precedence configuration source.</summary>
    /// <param name="configuration">The builder's configuration.</param>
    public static void Apply(IConfigurationBuilder configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
                ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
            },
        });
    }
}
