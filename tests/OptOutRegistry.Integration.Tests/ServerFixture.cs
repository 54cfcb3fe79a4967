using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OptOutRegistry.Server;

namespace OptOutRegistry.Integration.Tests;

/// <summary>
/// The real server, in process, on loopback ports chosen by the OS, with its own temporary data directory
/// (services-common "End-to-end tests"). Dispose stops it and deletes the directory.
/// </summary>
public sealed class ServerFixture : IAsyncDisposable
{
    private ServerFixture(WebApplication app, string dataDirectory, string grpcAddress, string httpAddress)
    {
        App = app;
        DataDirectory = dataDirectory;
        GrpcAddress = grpcAddress;
        HttpAddress = httpAddress;
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>The data directory (database, signing key, admin key).</summary>
    public string DataDirectory { get; }

    /// <summary>The gRPC (h2c) address, e.g. http://127.0.0.1:40123.</summary>
    public string GrpcAddress { get; }

    /// <summary>The HTTP/1.1 gateway address.</summary>
    public string HttpAddress { get; }

    /// <summary>The admin key the server generated on first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(DataDirectory, "admin-key")).Trim();

    /// <summary>Starts a server; <paramref name="extraArgs"/> go to the host's configuration (e.g. "--signup", "admin").</summary>
    public static async Task<ServerFixture> StartAsync(params string[] extraArgs)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "optout-it-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        string[] args = ["--urls", "http://127.0.0.1:0", "--http-urls", "http://127.0.0.1:0", "--data-dir", dataDirectory, "--Logging:LogLevel:Default", "Warning", .. extraArgs];
        var app = ServerHost.Build(args);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        // Kestrel reports the addresses in binding order: the gRPC (--urls) endpoint is bound first.
        return new ServerFixture(app, dataDirectory, addresses[0], addresses[1]);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a background task: the OS temp cleaner will take it.
        }
    }
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
