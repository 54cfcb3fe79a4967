using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;

namespace OptOutRegistry.Testing;

/// <summary>
/// A registry server as a child process (<c>dotnet {entry}.dll …</c>) with its stdout and stderr lines captured: the
/// one implementation behind the replication tests' and the crash/soak harnesses' server wrappers (this file is
/// linked into both projects). <see cref="Kill"/> is SIGKILL: no shutdown hooks, no flush.
/// </summary>
internal sealed class ChildServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly int? _maxLogLines;
    private readonly ConcurrentQueue<string> _lines = new();

    private ChildServerProcess(Process process, int? maxLogLines)
    {
        _process = process;
        _maxLogLines = maxLogLines;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The process id (the <c>dotnet</c> host runs the app in-process).</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The captured lines, oldest first (the last <c>maxLogLines</c> when a limit was given).</summary>
    public IEnumerable<string> Lines => _lines;

    /// <summary>The captured lines as one text.</summary>
    public string Log => string.Join('\n', _lines);

    /// <summary>
    /// Starts <c>dotnet {entryAssembly} {arguments}</c> from this program's directory. The admin key comes from the
    /// server's data directory, never from this process's environment (<c>OPTOUT_ADMIN_KEY</c> is removed).
    /// </summary>
    /// <param name="entryAssembly">The file name of the entry assembly beside this program (<c>optout.dll</c>, <c>optout-server.dll</c>).</param>
    /// <param name="arguments">The command line after it.</param>
    /// <param name="maxLogLines">Keep only this many recent lines (a long soak); null keeps every line.</param>
    /// <exception cref="InvalidOperationException">The entry assembly is not there, or the process did not start.</exception>
    public static ChildServerProcess Start(string entryAssembly, IEnumerable<string> arguments, int? maxLogLines = null)
    {
        var path = Path.Combine(AppContext.BaseDirectory, entryAssembly);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{entryAssembly} is not beside {AppContext.BaseDirectory}: reference the project that builds it");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(path);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("OPTOUT_ADMIN_KEY");
        return new ChildServerProcess(Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet"), maxLogLines);
    }

    /// <summary>A free loopback TCP port (the OS picks it; the listener is closed again at once).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The h2c address of a loopback port, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public static string LoopbackAddress(int port) => "http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Waits until the server at <paramref name="address"/> answers <c>Feed.GetTreeHead</c> (which needs the store open
    /// and migrated).
    /// </summary>
    /// <exception cref="InvalidOperationException">The process exited, or did not answer within <paramref name="timeout"/>; the message carries its log.</exception>
    public async Task WaitReadyAsync(string address, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        using var feed = FeedClient.Create(address);
        Exception? last = null;
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {_process.ExitCode} while starting:\n{Log}");
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                await feed.GetTreeHeadAsync(attempt.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is RpcException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        throw new InvalidOperationException($"the server did not answer within {timeout} ({last?.Message}):\n{Log}");
    }

    /// <summary>SIGKILL (Process.Kill sends SIGKILL on Unix) to the whole tree, then waits for the exit.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.WaitForExit();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > _maxLogLines && _lines.TryDequeue(out _))
        {
        }
    }
}
