using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Tests.TestAssets;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// Runs tests/interop/node/node_client.js (@grpc/grpc-js, the second reference client) once against our server, which
/// gzips its responses. Node is required: only its absence skips the cases (see <see cref="NodeTheoryAttribute"/>).
/// </summary>
public sealed class NodeClientRun : IAsyncLifetime
{
    private WebApplication? _app;

    public Dictionary<string, (bool Ok, string Detail)> Results { get; } = new();

    public string Output { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (NodeInterop.Node is null)
        {
            return;
        }
        var npmOutput = await Task.Run(NodeInterop.EnsurePackages);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpcTransport(o => o.ResponseCompressionAlgorithm = "gzip");
        _app = builder.Build();
        InteropTestService.Map(_app, new InteropTestService());
        _app.MapGrpcHealthService();
        _app.MapGrpcReflectionService();
        await _app.StartAsync();
        var address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var (_, output) = await Task.Run(() => PythonInterop.Run(NodeInterop.Node,
            [Path.Combine(NodeInterop.NodeDir, "node_client.js"), "--address", $"127.0.0.1:{address.Port}",
             "--protos", PythonInterop.ProtosDir, "--std-protos", PythonInterop.StdProtosDir],
            TimeSpan.FromMinutes(3)));
        Output = "npm: " + npmOutput + "\n" + output;
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

/// <summary>Issue 2 item 7: @grpc/grpc-js calls our server; every case of python_client.py plus a few more.</summary>
public sealed class NodeClientInteropTests(NodeClientRun run) : IClassFixture<NodeClientRun>
{
    [NodeTheory]
    [InlineData("unary")]
    [InlineData("server_streaming")]
    [InlineData("server_streaming_error")]
    [InlineData("client_streaming")]
    [InlineData("bidi")]
    [InlineData("deadline_exceeded")]
    [InlineData("cancellation")]
    [InlineData("error_non_ascii")]
    [InlineData("trailers_only")]
    [InlineData("status_codes")]
    [InlineData("unknown_exception")]
    [InlineData("unimplemented")]
    [InlineData("large_3mib")]
    [InlineData("over_limit")]
    [InlineData("gzip")]
    [InlineData("metadata")]
    [InlineData("health")]
    [InlineData("reflection")]
    public void NodeClient_CallsOurServer(string name)
    {
        Assert.True(run.Results.TryGetValue(name, out var result), $"case {name} did not run; node output:\n{run.Output}");
        Assert.True(result.Ok, $"{name}: {result.Detail}\nnode output:\n{run.Output}");
    }
}

/// <summary>Starts tests/interop/node/node_server.js (@grpc/grpc-js, gzip responses) on a free port, when node is present.</summary>
public sealed class NodeServerProcess : IAsyncLifetime
{
    private System.Diagnostics.Process? _process;

    public string Address { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (NodeInterop.Node is null)
        {
            return;
        }
        await Task.Run(NodeInterop.EnsurePackages);
        var psi = new System.Diagnostics.ProcessStartInfo(NodeInterop.Node)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { Path.Combine(NodeInterop.NodeDir, "node_server.js"), "--protos", PythonInterop.ProtosDir, "--std-protos", PythonInterop.StdProtosDir })
        {
            psi.ArgumentList.Add(a);
        }
        _process = System.Diagnostics.Process.Start(psi)!;
        var readLine = _process.StandardOutput.ReadLineAsync();
        var finished = await Task.WhenAny(readLine, Task.Delay(TimeSpan.FromSeconds(60)));
        var line = finished == readLine ? readLine.Result : null;
        if (line is null || !line.StartsWith("PORT ", StringComparison.Ordinal))
        {
            var error = _process.HasExited ? await _process.StandardError.ReadToEndAsync() : "(no output within 60 s)";
            throw new InvalidOperationException($"node_server.js did not start: {line}\n{error}");
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
