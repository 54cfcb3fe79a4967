using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>
/// Runs a reference client script (python_client.py, node_client.js) once against our interop server, which gzips its
/// responses, and collects the script's one JSON line per case (<c>{"case":…,"ok":…,"detail":…}</c>).
/// </summary>
public abstract class ReferenceClientRun : IAsyncLifetime
{
    private WebApplication? _app;

    public Dictionary<string, (bool Ok, string Detail)> Results { get; } = new();

    public string Output { get; private set; } = "";

    public abstract Task InitializeAsync();

    /// <summary>Starts the server, runs <c>{executable} {script} --address … --protos … --std-protos …</c> and parses its output.</summary>
    protected async Task RunAsync(string executable, string script, string outputPrefix = "")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpcTransport(o => o.ResponseCompressionAlgorithm = "gzip");
        _app = builder.Build();
        InteropTestService.Map(_app, new InteropTestService());
        _app.MapGrpcHealthService();
        _app.MapGrpcReflectionService();
        // VSTest and xunit park pool threads in this process: give the in-process server the free workers a server process has.
        ThreadPoolHeadroom.Ensure();
        await _app.StartAsync();
        var address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var (_, output) = await Task.Run(() => PythonInterop.Run(executable,
            [script, "--address", $"127.0.0.1:{address.Port}", "--protos", PythonInterop.ProtosDir, "--std-protos", PythonInterop.StdProtosDir],
            TimeSpan.FromMinutes(3)));
        Output = outputPrefix + output;
        foreach (var line in output.Split('\n'))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            Results[doc.RootElement.GetProperty("case").GetString()!] = (doc.RootElement.GetProperty("ok").GetBoolean(), doc.RootElement.GetProperty("detail").GetString()!);
        }
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}

/// <summary>
/// Starts a reference server script (python_server.py, node_server.js) on a free port: it prints <c>PORT n</c> once
/// listening and exits when its stdin closes.
/// </summary>
public abstract class ReferenceServerProcess : IAsyncLifetime
{
    private Process? _process;

    public string Address { get; private set; } = "";

    public abstract Task InitializeAsync();

    protected async Task StartAsync(string executable, string script)
    {
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { script, "--protos", PythonInterop.ProtosDir, "--std-protos", PythonInterop.StdProtosDir })
        {
            psi.ArgumentList.Add(a);
        }
        _process = Process.Start(psi)!;
        var readLine = _process.StandardOutput.ReadLineAsync();
        var finished = await Task.WhenAny(readLine, Task.Delay(TimeSpan.FromSeconds(60)));
        var line = finished == readLine ? readLine.Result : null;
        if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
        {
            var error = _process.HasExited ? await _process.StandardError.ReadToEndAsync() : "(no output within 60 s)";
            throw new InvalidOperationException($"{Path.GetFileName(script)} did not start: {line}\n{error}");
        }
        Address = "http://127.0.0.1:" + line["PORT ".Length..].Trim();
    }

    public async Task DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }
        _process.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
