using System.Text.RegularExpressions;
using OptOutRegistry.Testing;

namespace OptOutRegistry.Integration.Tests.Replication;

/// <summary>
/// A registry server as a separate process (<c>dotnet optout.dll serve</c>), with its log lines captured; the process
/// handling is the shared <see cref="ChildServerProcess"/> (tests/Shared), this adds the replication log's readings.
/// </summary>
internal sealed partial class ServerProcess : IDisposable
{
    private readonly ChildServerProcess _process;

    private ServerProcess(ChildServerProcess process, string grpcAddress, string dataDirectory)
    {
        _process = process;
        GrpcAddress = grpcAddress;
        DataDirectory = dataDirectory;
    }

    public string GrpcAddress { get; }

    public string DataDirectory { get; }

    public int Id => _process.Id;

    public string Log => _process.Log;

    /// <summary>Starts <c>optout serve</c> on a free loopback port; <paramref name="follow"/> makes it a replica.</summary>
    public static ServerProcess Start(string dataDirectory, string? follow = null, params string[] extraArguments)
    {
        var address = ChildServerProcess.LoopbackAddress(ChildServerProcess.FreePort());
        List<string> arguments =
        [
            "serve", "--urls", address, "--http-urls", "none", "--data-dir", dataDirectory,
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:OptOutRegistry.Server.Replication=Debug",
            "--Logging:Console:FormatterName=simple", "--Logging:Console:FormatterOptions:SingleLine=true",
        ];
        if (follow is not null)
        {
            arguments.Add("--follow");
            arguments.Add(follow);
        }

        arguments.AddRange(extraArguments);
        // Every line is kept: the tests read the whole sequence of applied events.
        return new ServerProcess(ChildServerProcess.Start("optout.dll", arguments), address, dataDirectory);
    }

    /// <summary>The sequences this process logged as applied, in order.</summary>
    public List<long> AppliedSequences() =>
        _process.Lines.Select(l => AppliedRegex().Match(l)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToList();

    /// <summary>The as_of_sequence of the snapshot this process loaded, or null.</summary>
    public long? SnapshotSequence() =>
        _process.Lines.Select(l => SnapshotRegex().Match(l)).Where(m => m.Success).Select(m => (long?)long.Parse(m.Groups[1].Value)).FirstOrDefault();

    /// <summary>True when this process resumed from the snapshot and journal in its data directory instead of downloading.</summary>
    public bool ResumedLocally() => _process.Lines.Any(l => l.Contains("resumed from local state", StringComparison.Ordinal));

    /// <summary>SIGKILL: no shutdown, no flushing.</summary>
    public void Kill() => _process.Kill();

    public void Dispose() => _process.Dispose();

    [GeneratedRegex(@"applied event sequence=(\d+)")]
    private static partial Regex AppliedRegex();

    [GeneratedRegex(@"loaded snapshot as_of_sequence=(\d+)")]
    private static partial Regex SnapshotRegex();
}
