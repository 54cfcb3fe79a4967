using System.Diagnostics;
using System.Text.Json;
using OptOutRegistry.Client;
using static OptOutRegistry.Integration.Tests.Registry.RegistryTestHelpers;

namespace OptOutRegistry.Integration.Tests.Registry;

/// <summary>
/// Issue 6 item 7: python3-grpcio (Debian's python3-grpcio + python3-grpc-tools; stubs generated from protos/ at test time)
/// creates a holder, registers, reads and revokes a reservation against the real server. Fails, never skips, when python3
/// or grpc is missing: CI installs them.
/// </summary>
public sealed class PythonGrpcTests
{
    private const string Script = """
import json, sys
import grpc
sys.path.insert(0, sys.argv[2])
from optout.v1 import registry_pb2 as r, registry_pb2_grpc as rg, common_pb2 as c

channel = grpc.insecure_channel(sys.argv[1])
stub = rg.RegistryStub(channel)
out = {}
holder = stub.CreateHolder(r.CreateHolderRequest(display_name="Python Holder", contact_email="py@example.org"))
auth = [("authorization", "Bearer " + holder.api_key)]
spec = r.ReservationSpec(
    selectors=[c.Selector(url="https://py.example/works/1.jpg")],
    statements=[c.UsageStatement(category=c.USAGE_CATEGORY_TRAIN_AI, permission=c.PERMISSION_DISALLOW)],
    work=c.WorkMetadata(title="Жыр", creators=["Ақын"]))
created = stub.CreateReservation(r.CreateReservationRequest(spec=spec), metadata=auth)
out["id"] = created.reservation.id
out["receipt_reservation_id"] = created.receipt.reservation_id
out["leaf_index"] = created.receipt.inclusion_proof.leaf_index
got = stub.GetReservation(r.GetReservationRequest(reservation_id=created.reservation.id), metadata=auth)
out["title"] = got.work.title
out["verified"] = list(got.selector_verified)
revoked = stub.RevokeReservation(r.RevokeReservationRequest(reservation_id=created.reservation.id, reason="py"), metadata=auth)
out["state"] = c.ReservationState.Name(revoked.reservation.state)
try:
    stub.CreateReservation(r.CreateReservationRequest(spec=spec))
except grpc.RpcError as e:
    out["anonymous"] = e.code().name
bad = r.ReservationSpec(selectors=[c.Selector(domain="co.uk")], statements=spec.statements)
try:
    stub.CreateReservation(r.CreateReservationRequest(spec=bad), metadata=auth)
except grpc.RpcError as e:
    out["invalid"] = [e.code().name, e.details()]
print(json.dumps(out))
""";

    [Fact]
    public async Task PythonGrpcio_CreateGetRevoke_WorksAgainstTheRealServer()
    {
        await using var server = await ServerFixture.StartAsync();
        var stubs = Path.Combine(server.DataDirectory, "py");
        Directory.CreateDirectory(stubs);
        var protos = FindProtos();
        // Every public proto, as a Python user compiles them from the README: they must build with Debian's old protoc.
        string[] protoFiles = [.. Directory.GetFiles(Path.Combine(protos, "optout", "v1"), "*.proto").Order(StringComparer.Ordinal)];
        var python = await FindPythonAsync();
        var gen = await RunAsync(python, ["-m", "grpc_tools.protoc", "-I", protos, "--python_out=" + stubs, "--grpc_python_out=" + stubs, .. protoFiles]);
        Assert.True(gen.ExitCode == 0, "grpc_tools.protoc failed (install python3-grpc-tools): " + gen.StdErr);
        foreach (var dir in new[] { Path.Combine(stubs, "optout"), Path.Combine(stubs, "optout", "v1") })
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "__init__.py"), string.Empty);
        }

        var script = Path.Combine(stubs, "registry_client.py");
        await File.WriteAllTextAsync(script, Script);
        var target = new Uri(server.GrpcAddress).Authority;
        var run = await RunAsync(python, [script, target, stubs]);
        Assert.True(run.ExitCode == 0, "python client failed (install python3-grpcio): " + run.StdErr);
        var result = JsonDocument.Parse(run.StdOut).RootElement;
        var id = result.GetProperty("id").GetString()!;
        Assert.StartsWith("rsv_", id, StringComparison.Ordinal);
        Assert.Equal(id, result.GetProperty("receipt_reservation_id").GetString());
        Assert.Equal("Жыр", result.GetProperty("title").GetString());
        Assert.False(result.GetProperty("verified")[0].GetBoolean());
        Assert.Equal("RESERVATION_STATE_REVOKED", result.GetProperty("state").GetString());
        Assert.Equal("UNAUTHENTICATED", result.GetProperty("anonymous").GetString());
        Assert.Equal("INVALID_ARGUMENT", result.GetProperty("invalid")[0].GetString());
        Assert.StartsWith("spec.selectors[0].domain: 'co.uk' is a public suffix", result.GetProperty("invalid")[1].GetString(), StringComparison.Ordinal);

        // What Python registered is what our SDK reads back: same store, same receipt.
        using var admin = RegistryClient.Create(server.GrpcAddress, server.AdminKey);
        var reservation = await admin.GetReservationAsync(id);
        Assert.Equal("Python Holder", reservation.HolderName);
        var receipt = await admin.GetReceiptAsync(result.GetProperty("leaf_index").GetInt64());
        AssertValid(receipt, PublicKeyPem(server));
        Assert.Equal(id, receipt.ReservationId);
    }

    /// <summary>
    /// OPTOUT_PYTHON, else python3 on PATH, else the distribution's /usr/bin/python3 (where Debian's python3-grpcio is
    /// installed; a pyenv or venv python3 on PATH may not see it) — the same choice as the Grpc interop tests.
    /// </summary>
    private static async Task<string> FindPythonAsync()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("OPTOUT_PYTHON") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.Add("python3");
        candidates.Add("/usr/bin/python3");
        var tried = new List<string>();
        foreach (var candidate in candidates)
        {
            try
            {
                var probe = await RunAsync(candidate, ["-c", "import grpc, grpc_tools.protoc"]);
                if (probe.ExitCode == 0)
                {
                    return candidate;
                }

                tried.Add(candidate + ": " + probe.StdErr.Trim());
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                tried.Add(candidate + ": " + ex.Message);
            }
        }

        throw new InvalidOperationException("python3 with grpcio and grpc_tools is needed (apt-get install python3-grpcio python3-grpc-tools, or set OPTOUT_PYTHON). Tried: "
            + string.Join("; ", tried));
    }

    private static string FindProtos()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "protos");
            if (File.Exists(Path.Combine(candidate, "optout", "v1", "registry.proto")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("protos/optout/v1/registry.proto not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
