using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using OptOutRegistry.Server.Hosting;

namespace OptOutRegistry.Integration.Tests;

/// <summary>
/// The real server in process (<see cref="TemporaryServer"/>) with both a gRPC (h2c) and an HTTP/1.1 gateway address
/// and warnings-only logging. Dispose stops it and deletes its data directory.
/// </summary>
public sealed class ServerFixture : IAsyncDisposable
{
    private readonly TemporaryServer _server;

    private ServerFixture(TemporaryServer server) => _server = server;

    /// <summary>The running application.</summary>
    public WebApplication App => _server.App;

    /// <summary>The data directory (database, signing key, admin key).</summary>
    public string DataDirectory => _server.DataDirectory;

    /// <summary>The gRPC (h2c) address, e.g. http://127.0.0.1:40123.</summary>
    public string GrpcAddress => _server.GrpcAddress;

    /// <summary>The HTTP/1.1 gateway address.</summary>
    public string HttpAddress => _server.Addresses[1];

    /// <summary>The admin key the server generated on first start.</summary>
    public string AdminKey => _server.AdminKey;

    /// <summary>Starts a server; <paramref name="extraArgs"/> go to the host's configuration (e.g. "--signup", "admin").</summary>
    public static async Task<ServerFixture> StartAsync(params string[] extraArgs) => new(await TemporaryServer.StartAsync(
        ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", "--Logging:LogLevel:Default", "Warning", .. extraArgs]));

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>Runs the real <c>optout</c> CLI as a child process (<c>dotnet optout.dll …</c>).</summary>
public static class Cli
{
    /// <summary>The result of one run.</summary>
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>Runs <c>optout</c> with <paramref name="args"/>; <paramref name="environment"/> adds variables (e.g. OPTOUT_KEY).</summary>
    public static async Task<Result> RunAsync(IReadOnlyDictionary<string, string?>? environment, string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "optout.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("OPTOUT_KEY");
        start.Environment.Remove("OPTOUT_SERVER");
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
