using System.Diagnostics;
using System.Text;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>
/// Locates python3 with grpcio and grpc_tools (Debian: python3-grpcio, python3-grpc-tools) and the interop scripts.
/// A missing interpreter fails the tests with instructions; it is never a skip.
/// </summary>
public static class PythonInterop
{
    private static readonly Lazy<string> s_python = new(FindPython);

    public static string Python => s_python.Value;

    public static string InteropDir { get; } = Path.Combine(FindRepoRoot(), "tests", "interop");

    public static string ProtosDir => Path.Combine(InteropDir, "protos");

    public static string StdProtosDir { get; } = Path.Combine(FindRepoRoot(), "src", "OptOutRegistry.Grpc", "Protos");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "tests", "interop", "python_client.py")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Could not find tests/interop/python_client.py above " + AppContext.BaseDirectory);
    }

    private static string FindPython()
    {
        // OPTOUT_PYTHON overrides; otherwise python3 on PATH, then the distribution's interpreter, which is the one
        // Debian's python3-grpcio installs into (a pyenv or venv python3 on PATH may not see it).
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("OPTOUT_PYTHON") is { Length: > 0 } env)
        {
            candidates.Add(env);
        }
        candidates.Add("python3");
        candidates.Add("/usr/bin/python3");
        var tried = new StringBuilder();
        foreach (var candidate in candidates)
        {
            try
            {
                var (code, output) = Run(candidate, ["-c", "import grpc, grpc_tools.protoc; print(grpc.__version__)"], TimeSpan.FromSeconds(30));
                if (code == 0)
                {
                    return candidate;
                }
                tried.Append(candidate).Append(": ").AppendLine(output.Trim());
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                tried.Append(candidate).Append(": ").AppendLine(ex.Message);
            }
        }
        throw new InvalidOperationException(
            "The interop tests need python3 with grpcio and grpc_tools (apt-get install python3-grpcio python3-grpc-tools), " +
            "or OPTOUT_PYTHON pointing at such an interpreter. Tried:\n" + tried);
    }

    public static (int ExitCode, string Output) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
