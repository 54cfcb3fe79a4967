using System.ComponentModel;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>
/// Locates node and the @grpc/grpc-js client in tests/interop/node. When node is present but its packages are not
/// installed yet, <see cref="EnsurePackages"/> runs <c>npm ci</c> (exact versions from the committed package-lock.json).
/// Only a missing node skips the node interop tests (<see cref="NodeTheoryAttribute"/>); a failing npm fails them.
/// </summary>
public static class NodeInterop
{
    private static readonly Lazy<string?> s_node = new(FindNode);
    private static readonly Lazy<string> s_packages = new(InstallPackages);

    /// <summary>The node executable (OPTOUT_NODE overrides <c>node</c> on PATH), or null when there is none.</summary>
    public static string? Node => s_node.Value;

    public static string NodeDir { get; } = Path.Combine(PythonInterop.InteropDir, "node");

    /// <summary>Makes sure node_modules holds @grpc/grpc-js and @grpc/proto-loader; returns npm's output.</summary>
    public static string EnsurePackages() => s_packages.Value;

    private static string? FindNode()
    {
        var candidate = Environment.GetEnvironmentVariable("OPTOUT_NODE") is { Length: > 0 } env ? env : "node";
        try
        {
            var (code, _) = PythonInterop.Run(candidate, ["--version"], TimeSpan.FromSeconds(30));
            return code == 0 ? candidate : null;
        }
        catch (Win32Exception)
        {
            return null;
        }
    }

    private static string InstallPackages()
    {
        if (Directory.Exists(Path.Combine(NodeDir, "node_modules", "@grpc", "grpc-js"))
            && Directory.Exists(Path.Combine(NodeDir, "node_modules", "@grpc", "proto-loader")))
        {
            return "node_modules present";
        }
        var npm = Path.Combine(Path.GetDirectoryName(ResolveOnPath(Node!)) ?? "", "npm");
        if (!File.Exists(npm))
        {
            npm = "npm";
        }
        var (code, output) = PythonInterop.Run(npm, ["ci", "--prefix", NodeDir, "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
        if (code != 0)
        {
            throw new InvalidOperationException($"npm ci in {NodeDir} failed (exit {code}); the node interop tests need @grpc/grpc-js:\n{output}");
        }
        return output;
    }

    private static string ResolveOnPath(string file)
    {
        if (Path.IsPathRooted(file))
        {
            return file;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            var full = Path.Combine(dir, file);
            if (File.Exists(full))
            {
                return full;
            }
        }
        return file;
    }
}

/// <summary>A theory that is skipped only when node is not installed (it is on the build machines and in CI).</summary>
public sealed class NodeTheoryAttribute : TheoryAttribute
{
    public NodeTheoryAttribute()
    {
        if (NodeInterop.Node is null)
        {
            Skip = "node is not installed (apt-get install nodejs npm); the @grpc/grpc-js interop cases need it.";
        }
    }
}
