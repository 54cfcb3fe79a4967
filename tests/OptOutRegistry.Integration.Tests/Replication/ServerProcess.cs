using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace OptOutRegistry.Integration.Tests.Replication;

/// <summary>A registry server as a separate process (<c>dotnet optout.dll serve</c>), with its log lines captured.</summary>
internal sealed partial class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ServerProcess(Process process, string grpcAddress, string dataDirectory)
    {
        _process = process;
        GrpcAddress = grpcAddress;
        DataDirectory = dataDirectory;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string GrpcAddress { get; }

    public string DataDirectory { get; }

    public int Id => _process.Id;

    public string Log => string.Join('\n', _lines);

    /// <summary>Starts <c>optout serve</c> on a free loopback port; <paramref name="follow"/> makes it a replica.</summary>
    public static ServerProcess Start(string dataDirectory, string? follow = null, params string[] extraArguments)
    {
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "optout.dll"));
        foreach (var arg in new[]
                 {
                     "serve", "--urls", $"http://127.0.0.1:{port}", "--http-urls", "none", "--data-dir", dataDirectory,
                     "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:OptOutRegistry.Server.Replication=Debug",
                     "--Logging:Console:FormatterName=simple", "--Logging:Console:FormatterOptions:SingleLine=true",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        if (follow is not null)
        {
            start.ArgumentList.Add("--follow");
            start.ArgumentList.Add(follow);
        }

        foreach (var arg in extraArguments)
        {
            start.ArgumentList.Add(arg);
        }

        return new ServerProcess(Process.Start(start)!, $"http://127.0.0.1:{port}", dataDirectory);
    }

    /// <summary>The sequences this process logged as applied, in order.</summary>
    public List<long> AppliedSequences() =>
        _lines.Select(l => AppliedRegex().Match(l)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToList();

    /// <summary>The as_of_sequence of the snapshot this process loaded, or null.</summary>
    public long? SnapshotSequence() =>
        _lines.Select(l => SnapshotRegex().Match(l)).Where(m => m.Success).Select(m => (long?)long.Parse(m.Groups[1].Value)).FirstOrDefault();

    /// <summary>SIGKILL: no shutdown, no flushing.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"applied event sequence=(\d+)")]
    private static partial Regex AppliedRegex();

    /// <summary>True when this process resumed from the snapshot and journal in its data directory instead of downloading.</summary>
    public bool ResumedLocally() => _lines.Any(l => l.Contains("resumed from local state", StringComparison.Ordinal));

    [GeneratedRegex(@"loaded snapshot as_of_sequence=(\d+)")]
    private static partial Regex SnapshotRegex();
}
