using OptOutRegistry.Grpc.Tests.TestAssets;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>
/// Runs tests/interop/node/node_client.js (@grpc/grpc-js, the second reference client) once against our server, which
/// gzips its responses. Node is required: only its absence skips the cases (see <see cref="NodeTheoryAttribute"/>).
/// </summary>
public sealed class NodeClientRun : ReferenceClientRun
{
    public override async Task InitializeAsync()
    {
        if (NodeInterop.Node is null)
        {
            return;
        }
        var npmOutput = await Task.Run(NodeInterop.EnsurePackages);
        await RunAsync(NodeInterop.Node, Path.Combine(NodeInterop.NodeDir, "node_client.js"), "npm: " + npmOutput + "\n");
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
public sealed class NodeServerProcess : ReferenceServerProcess
{
    public override async Task InitializeAsync()
    {
        if (NodeInterop.Node is null)
        {
            return;
        }
        await Task.Run(NodeInterop.EnsurePackages);
        await StartAsync(NodeInterop.Node, Path.Combine(NodeInterop.NodeDir, "node_server.js"));
    }
}
