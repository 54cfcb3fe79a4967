using System.Net.Sockets;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// ppoll(2) over the lean generator's connections: one system call waits until any of them is readable or the next
/// call or hedge is due (a nanosecond timeout: at 10,000 calls/s the next call is due in 100 µs, and Socket.Poll/Select
/// round to milliseconds on Linux). Off Linux it falls back to Socket.Select.
/// </summary>
internal sealed class LeanPoll
{
    private readonly LinuxNative.PollFd[] _fds;
    private readonly Socket[] _sockets;
    private readonly bool[] _readable;
    private readonly List<Socket> _select = [];

    public LeanPoll(Socket[] sockets)
    {
        _sockets = sockets;
        _fds = new LinuxNative.PollFd[sockets.Length];
        _readable = new bool[sockets.Length];
        for (var i = 0; i < sockets.Length; i++)
        {
            _fds[i] = new LinuxNative.PollFd { Fd = (int)sockets[i].SafeHandle.DangerousGetHandle(), Events = LinuxNative.PollIn };
        }
    }

    /// <summary>Waits up to <paramref name="nanoseconds"/>; true when some socket is readable (see <see cref="IsReadable"/>).</summary>
    public bool Wait(long nanoseconds)
    {
        if (!OperatingSystem.IsLinux())
        {
            _select.Clear();
            _select.AddRange(_sockets);
            Socket.Select(_select, null, null, (int)Math.Min(nanoseconds / 1000, int.MaxValue));
            for (var i = 0; i < _sockets.Length; i++)
            {
                _readable[i] = _select.Contains(_sockets[i]);
            }

            return _select.Count > 0;
        }

        for (var i = 0; i < _fds.Length; i++)
        {
            _fds[i].Revents = 0;
        }

        var timeout = new LinuxNative.Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        // A blittable array element passed by ref is pinned for the call: ppoll reads and writes the whole array.
        var ready = LinuxNative.Ppoll(ref _fds[0], (nuint)_fds.Length, ref timeout, IntPtr.Zero);
        for (var i = 0; i < _fds.Length; i++)
        {
            // POLLIN, or POLLHUP/POLLERR: a receive then reports the closed connection.
            _readable[i] = ready > 0 && _fds[i].Revents != 0;
        }

        return ready > 0;
    }

    public bool IsReadable(int index) => _readable[index];
}
