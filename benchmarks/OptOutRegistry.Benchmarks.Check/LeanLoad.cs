using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using OptOutRegistry.Grpc.Client.Http2;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// A lean open-loop load generator for unary <c>CheckBatch</c> calls of one URL (what wrk2 and h2load are, for gRPC):
/// one thread runs an event loop on one or more HTTP/2 connections (calls spread round-robin). It sleeps in <c>ppoll</c>
/// until the next call is due, a hedge is due or a response arrives, writes pre-encoded requests (HEADERS with
/// static-table/literal HPACK fields + DATA with the gRPC frame, stream ids increasing), and parses the responses itself
/// (HEADERS, DATA, trailers; every call's grpc-status must be 0 and its verdict must be the one the seeded data implies).
/// Latency counts from the call's DUE time, so a generator or connection that falls behind shows up as latency (no
/// coordinated omission). Nothing else runs in the process while it measures: no thread pool hop, no
/// TaskCompletionSource, no timer thread — so the client CPU per call is the cost of one send, one receive and the
/// parsing, and the latency is the server's and the kernel's. HTTP/2 framing and HPACK come from our gRPC client
/// (<c>OptOutRegistry.Grpc.Client.Http2</c>).
/// <para>
/// Hedging (<c>--hedge-after-ms D</c>, "The Tail at Scale"; gRFC A6 hedgingPolicy): a call with no answer D ms after it
/// was sent goes out again on the next connection; the first whole answer (trailers) is the call's, the other stream is
/// reset (RST_STREAM CANCEL) and whatever still arrives on it is dropped — its verdict is still checked, it is never
/// counted twice (<see cref="HedgeBook"/> keeps that bookkeeping). Latency still counts from the call's due time.
/// </para>
/// </summary>
internal sealed class LeanLoad
{
    private const string MethodPath = "/optout.v1.Check/CheckBatch";

    // Per call: pre-encoded request (offsets into _requests), expected verdict, due time, outcome.
    private readonly byte[] _requests;
    private readonly int[] _requestOffsets;
    private readonly byte[] _expected;
    private readonly int _requestHeaderBlockLength;
    private readonly LeanConnection[] _connections;
    private readonly long _hedgeAfter;

    // The hedge budget, as the SDK's HedgingPolicy.MaxHedgesPerCall: each call sent adds _hedgesPerCall, each hedge takes
    // one, at most HedgeBurst banked; 0 = unlimited.
    private readonly double _hedgesPerCall;
    private double _hedgeTokens = OptOutRegistry.Grpc.HedgingPolicy.HedgeBurst;
    private int _hedgesSkipped;
    private long[] _due = [];
    private long[] _sent = [];
    private HedgeBook _book = new(0, 0);
    private long _tick;
    private long _waits;
    private long _switches;
    private long _userTicks;
    private long _kernelTicks;
    private long _receives;
    private int _errors;
    private int _mismatches;
    private int _disallowed;
    private readonly List<string> _errorSamples = [];

    private LeanLoad(Socket[] sockets, string authority, string[] urls, long hedgeAfterTicks, double hedgesPerCall)
    {
        _hedgeAfter = hedgeAfterTicks;
        _hedgesPerCall = hedgesPerCall;
        _connections = new LeanConnection[sockets.Length];
        for (var c = 0; c < sockets.Length; c++)
        {
            _connections[c] = new LeanConnection(this, sockets[c], c);
        }

        // The header block is the same for every call and leaves the server's HPACK table alone (literal without
        // indexing, RFC 7541 6.2.2), so one encoding serves every request.
        var pseudo = HpackEncoder.EncodePseudoHeaders(https: false, MethodPath, authority);
        var block = new byte[pseudo.Length + 64];
        pseudo.CopyTo(block, 0);
        var length = pseudo.Length;
        length += HpackEncoder.WriteLiteral(block.AsSpan(length), 31, null, "application/grpc"); // content-type (static 31)
        length += HpackEncoder.WriteLiteral(block.AsSpan(length), 0, "te", "trailers");
        var headerBlock = block.AsSpan(0, length);
        _requestHeaderBlockLength = length;

        // Every request: HEADERS (END_HEADERS) + DATA (END_STREAM) carrying the gRPC frame; the stream id is patched in at
        // send time (RFC 7540 4.1: bytes 5..8 of each frame header).
        using var encoded = new MemoryStream();
        _requestOffsets = new int[urls.Length + 1];
        _expected = new byte[urls.Length];
        var frame = new byte[9];
        var prefix = new byte[5];
        for (var i = 0; i < urls.Length; i++)
        {
            _requestOffsets[i] = (int)encoded.Length;
            var body = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, Subjects = { new Pb.Subject { Url = urls[i] } } }.ToByteArray();
            Http2Protocol.WriteFrameHeader(frame, headerBlock.Length, Http2FrameType.Headers, Http2Protocol.FlagEndHeaders, 0);
            encoded.Write(frame);
            encoded.Write(headerBlock);
            Http2Protocol.WriteFrameHeader(frame, 5 + body.Length, Http2FrameType.Data, Http2Protocol.FlagEndStream, 0);
            encoded.Write(frame);
            BinaryPrimitives.WriteUInt32BigEndian(prefix.AsSpan(1), (uint)body.Length);
            encoded.Write(prefix);
            encoded.Write(body);
            // The seeded data (Seed.cs): covered URLs end in ".jpg" and are disallowed for train-ai; the others are unknown.
            _expected[i] = (byte)(urls[i].EndsWith(".jpg", StringComparison.Ordinal) ? Pb.Verdict.Disallowed : Pb.Verdict.Unknown);
        }

        _requestOffsets[urls.Length] = (int)encoded.Length;
        _requests = encoded.ToArray();
    }

    /// <summary>
    /// Runs <paramref name="warmupSeconds"/> then <paramref name="seconds"/> at <paramref name="rate"/> calls/s on
    /// <paramref name="connections"/> connections and prints one line of figures. Returns the process exit code:
    /// non-zero when any call failed.
    /// </summary>
    /// <param name="tickMicroseconds">0: wake for every call at its due time. N &gt; 0: wake at most every N µs and send the
    /// calls due by then together (fewer wake-ups, which cost ~30 µs of CPU each on this VM; their lateness is latency).</param>
    /// <param name="hiccups">Run a <see cref="HiccupMeter"/> meanwhile and relate the slow calls to the machine's stalls.</param>
    /// <param name="connections">HTTP/2 connections; call i goes out on connection i mod N.</param>
    /// <param name="hedgeAfterMs">Hedge a call unanswered this long after it was sent (on the next connection); 0: off.</param>
    /// <param name="hedgesPerCall">The hedge budget (the SDK's default 0.1: one hedge per ten calls, ten banked); 0: unlimited.</param>
    public static int Run(string server, string queriesPath, double seconds, int rate, double warmupSeconds, int tickMicroseconds, bool hiccups,
        int connections = 1, double hedgeAfterMs = 0, double hedgesPerCall = 0.1)
    {
        if (hedgesPerCall < 0 || hedgesPerCall > 1)
        {
            Console.Error.WriteLine($"lean: --hedge-budget must be 0 (unlimited) or a share of calls up to 1, not {hedgesPerCall}");
            return 2;
        }

        if (connections is < 1 or > 64)
        {
            Console.Error.WriteLine($"lean: --connections must be 1..64, not {connections}");
            return 2;
        }

        if (hedgeAfterMs < 0 || (hedgeAfterMs > 0 && connections < 2))
        {
            Console.Error.WriteLine($"lean: --hedge-after-ms must be positive and needs --connections 2 or more (the hedge goes to another connection); got {hedgeAfterMs} with {connections}");
            return 2;
        }

        var uri = new Uri(server);
        var lines = File.ReadAllLines(queriesPath);
        var urls = lines.AsSpan(0, Math.Min(lines.Length, 100_000)).ToArray();
        var sockets = new Socket[connections];
        try
        {
            for (var c = 0; c < connections; c++)
            {
                sockets[c] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                sockets[c].Connect(uri.Host == "localhost" ? "127.0.0.1" : uri.Host, uri.Port);
            }

            var load = new LeanLoad(sockets, uri.Authority, urls, (long)(hedgeAfterMs * Stopwatch.Frequency / 1000), hedgesPerCall)
            {
                _tick = tickMicroseconds * Stopwatch.Frequency / 1_000_000,
            };
            return load.Measure(seconds, rate, warmupSeconds, hiccups);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }

    private int Measure(double seconds, int rate, double warmupSeconds, bool hiccups)
    {
        var warmup = (int)(warmupSeconds * rate);
        var total = warmup + (int)(seconds * rate);
        if (1 + 2L * total > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(seconds), "More calls than one connection's stream ids.");
        }

        _due = new long[total];
        _sent = new long[total];
        _book = new HedgeBook(total, warmup);
        var tick = Stopwatch.Frequency / (double)rate;
        for (var i = 0; i < total; i++)
        {
            _due[i] = (long)(i * tick);
        }

        foreach (var connection in _connections)
        {
            // With hedging a connection may carry a stream for every call: its primaries and the others' hedges.
            connection.Allocate(_hedgeAfter > 0 ? total : (total / _connections.Length) + 1);
            connection.Handshake();
        }

        long threadCpuNs = 0;
        var processCpu = TimeSpan.Zero;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                LinuxNative.ReduceTimerSlack();
                (threadCpuNs, processCpu) = Loop(total, warmup);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        { Name = "lean load", IsBackground = true, Priority = ThreadPriority.AboveNormal };
        var meter = hiccups ? HiccupMeter.Start(1000) : null;
        var meterStarted = Stopwatch.GetTimestamp();
        thread.Start();
        thread.Join();
        var platform = meter?.Stop((Stopwatch.GetTimestamp() - meterStarted) / (double)Stopwatch.Frequency);
        if (failure is not null)
        {
            Console.Error.WriteLine($"lean: {failure.Message}");
            return 1;
        }

        var done = _book.Done;
        var measured = total - warmup;
        var latencies = new long[measured];
        var sendLag = new long[measured];
        for (var i = 0; i < measured; i++)
        {
            latencies[i] = done[warmup + i] - _due[warmup + i];
            sendLag[i] = _sent[warmup + i] - _due[warmup + i];
        }

        var stallFields = meter is null
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture, $"\tcalls_over_2ms={latencies.Count(l => l > Stopwatch.Frequency / 500)}")
                + StallFields("cpu", meter.CpuStalls, warmup, measured) + StallFields("machine", meter.MachineStalls, warmup, measured);
        Array.Sort(latencies);
        Array.Sort(sendLag);
        var elapsed = (done[total - 1] - _due[warmup]) / (double)Stopwatch.Frequency;
        var inv = CultureInfo.InvariantCulture;
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        long At(long[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];
        // The hedging figures: how much extra load the hedges cost (server calls per check) and how often they helped.
        var hedgeFields = string.Create(inv,
            $"\tconnections={_connections.Length}\thedge_after_ms={Ms(_hedgeAfter):F2}\thedges_sent={_book.MeasuredHedgesSent}\thedges_won={_book.MeasuredHedgesWon}\thedge_share={(double)_book.MeasuredHedgesSent / measured:F4}\tserver_calls_per_check={(double)(measured + _book.MeasuredHedgesSent) / measured:F4}\tlate_answers_dropped={_book.MeasuredLateAnswers}\thedge_budget_per_call={_hedgesPerCall}\thedges_skipped_budget={_hedgesSkipped}");
        Console.WriteLine(string.Create(inv,
            $"lean\trate={rate}\ttick_us={_tick * 1_000_000 / Stopwatch.Frequency}\tcalls={measured}\tachieved_per_s={measured / elapsed:F0}\tp50_ms={Ms(At(latencies, 0.5)):F3}\tp90_ms={Ms(At(latencies, 0.9)):F3}\tp99_ms={Ms(At(latencies, 0.99)):F3}\tp999_ms={Ms(At(latencies, 0.999)):F3}\tmax_ms={Ms(latencies[^1]):F3}\tsend_lag_p99_ms={Ms(At(sendLag, 0.99)):F3}\terrors={_errors}\tverdict_mismatches={_mismatches}\tdisallowed_share={(double)_disallowed / total:F3}\tloop_cpu_us_per_call={threadCpuNs / 1000.0 / measured:F1}\tloop_user_kernel_us_per_call={_userTicks * 10_000.0 / measured:F0}+{_kernelTicks * 10_000.0 / measured:F0}\tprocess_cpu_us_per_call={processCpu.TotalMicroseconds / measured:F1}\tclient_context_switches_per_call={(double)_switches / measured:F2}\twaits_per_call={(double)_waits / total:F2}\treceives_per_call={(double)_receives / total:F2}{stallFields}{hedgeFields}"));
        if (platform is not null)
        {
            Console.WriteLine($"  hiccups\t{platform}");
        }

        if (_errors + _mismatches > 0)
        {
            foreach (var sample in _errorSamples)
            {
                Console.Error.WriteLine($"  error: {sample}");
            }

            return 1;
        }

        return 0;
    }

    /// <summary>
    /// How the measured calls over 2 ms relate to the platform's stalls — <paramref name="kind"/> "cpu": some CPU's
    /// real-time hiccup meter was late, so the thread on that CPU was frozen; "machine": every CPU's was, so nothing ran —
    /// how many of them were in flight during one, and the percentiles of the calls that were not. The raw percentiles
    /// stay the figure; these say how much of their tail was the platform.
    /// </summary>
    private string StallFields(string kind, List<(long Start, long End)> stalls, int warmup, int measured)
    {
        var twoMs = Stopwatch.Frequency / 500;
        var outside = new List<long>(measured);
        int slowInStall = 0, inStall = 0, next = 0;
        for (var i = warmup; i < warmup + measured; i++)
        {
            var (due, done) = (_due[i], _book.Done[i]);
            while (next < stalls.Count && stalls[next].End <= due)
            {
                next++; // due times only grow, so a stall that ended before this call's due time ends before every later one
            }

            // Stalls are sorted and disjoint: the first one ending after the due time is the earliest that can overlap.
            var overlaps = next < stalls.Count && stalls[next].Start < done;

            var latency = done - due;
            slowInStall += latency > twoMs && overlaps ? 1 : 0;
            inStall += overlaps ? 1 : 0;
            if (!overlaps)
            {
                outside.Add(latency);
            }
        }

        outside.Sort();
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        long At(double p) => outside.Count == 0 ? 0 : outside[Math.Min(outside.Count - 1, (int)(outside.Count * p))];
        return string.Create(CultureInfo.InvariantCulture,
            $"\tof_them_in_{kind}_stalls={slowInStall}\tcalls_in_{kind}_stalls={inStall}\toutside_{kind}_stalls_p50_ms={Ms(At(0.5)):F3}\toutside_{kind}_stalls_p99_ms={Ms(At(0.99)):F3}\toutside_{kind}_stalls_p999_ms={Ms(At(0.999)):F3}");
    }

    /// <summary>The event loop; returns the loop thread's and the process's CPU time over the measured calls.</summary>
    private (long ThreadCpuNs, TimeSpan ProcessCpu) Loop(int total, int warmup)
    {
        var origin = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            _due[i] += origin;
        }

        var n = _connections.Length;
        var poll = new LeanPoll(Array.ConvertAll(_connections, c => c.Socket));
        var next = 0;
        var hedgeScan = 0;
        var measuredFrom = warmup;
        var cpuAtMeasure = LinuxNative.ThreadCpuNanoseconds();
        var switchesAtMeasure = Load.ContextSwitches();
        var (userAtMeasure, kernelAtMeasure) = LinuxNative.ThreadUserKernelTicks();
        var processAtMeasure = Process.GetCurrentProcess().TotalProcessorTime;
        var lastProgress = Stopwatch.GetTimestamp();
        var completedBefore = 0;
        while (_book.Completed < total)
        {
            var now = Stopwatch.GetTimestamp();
            if (_book.Completed != completedBefore)
            {
                completedBefore = _book.Completed;
                lastProgress = now;
            }
            else if (next > completedBefore && now - lastProgress > 10 * Stopwatch.Frequency)
            {
                // A server that stopped answering ends the run with an error rather than hanging the benchmark script.
                throw new IOException($"No response for 10 s with {next - completedBefore} calls in flight.");
            }

            if (next == measuredFrom && next < total && _due[next] <= now)
            {
                // The timed part starts with the first measured call: CPU counts from here.
                cpuAtMeasure = LinuxNative.ThreadCpuNanoseconds();
                processAtMeasure = Process.GetCurrentProcess().TotalProcessorTime;
                switchesAtMeasure = Load.ContextSwitches();
                (userAtMeasure, kernelAtMeasure) = LinuxNative.ThreadUserKernelTicks();
                measuredFrom = -1;
            }

            // Send every call that is due, round-robin over the connections, as far as the server's stream limit and the
            // connection windows allow.
            var blocked = false;
            while (next < total && _due[next] <= now)
            {
                var connection = _connections[next % n];
                var slot = connection.TrySend(next, now);
                if (slot < 0)
                {
                    blocked = true;
                    break;
                }

                _book.OnSent(next, connection.Index, slot);
                _sent[next] = now;
                next++;
                if (_hedgesPerCall > 0)
                {
                    _hedgeTokens = Math.Min(OptOutRegistry.Grpc.HedgingPolicy.HedgeBurst, _hedgeTokens + _hedgesPerCall);
                }
            }

            // Hedges: calls sent at least _hedgeAfter ago and still unanswered go out again on the next connection. Calls
            // are sent in order, so the unanswered ones due for a hedge are a prefix of those not yet scanned.
            var hedgeBlocked = false;
            if (_hedgeAfter > 0)
            {
                while (hedgeScan < next)
                {
                    if (_book.IsDone(hedgeScan))
                    {
                        hedgeScan++;
                        continue;
                    }

                    if (_sent[hedgeScan] + _hedgeAfter > now)
                    {
                        break;
                    }

                    if (_hedgesPerCall > 0 && _hedgeTokens < 1)
                    {
                        // Budget spent: this call waits for its first attempt.
                        _hedgesSkipped += hedgeScan >= warmup ? 1 : 0;
                        hedgeScan++;
                        continue;
                    }

                    var target = _connections[(hedgeScan + 1) % n];
                    var slot = target.TrySend(hedgeScan, now);
                    if (slot < 0)
                    {
                        hedgeBlocked = true;
                        break;
                    }

                    _book.OnHedgeSent(hedgeScan, target.Index, slot);
                    _hedgeTokens -= _hedgesPerCall > 0 ? 1 : 0;
                    hedgeScan++;
                }
            }

            FlushAll();

            // Sleep until the next call or hedge is due or a frame arrives.
            var wakeAt = long.MaxValue;
            if (next < total && !blocked)
            {
                wakeAt = _due[next];
                if (_tick > 0)
                {
                    // Round up to the next tick boundary: the calls due until then leave together.
                    wakeAt = origin + ((wakeAt - origin + _tick - 1) / _tick * _tick);
                }
            }

            if (_hedgeAfter > 0 && !hedgeBlocked)
            {
                while (hedgeScan < next && _book.IsDone(hedgeScan))
                {
                    hedgeScan++;
                }

                if (hedgeScan < next)
                {
                    wakeAt = Math.Min(wakeAt, _sent[hedgeScan] + _hedgeAfter);
                }
            }

            var waitTicks = wakeAt == long.MaxValue ? Stopwatch.Frequency / 10 : Math.Max(0, wakeAt - Stopwatch.GetTimestamp());
            _waits++;
            if (poll.Wait(waitTicks * 1_000_000_000 / Stopwatch.Frequency))
            {
                var received = Stopwatch.GetTimestamp();
                for (var c = 0; c < n; c++)
                {
                    if (poll.IsReadable(c))
                    {
                        _receives++;
                        _connections[c].Receive(received);
                    }
                }

                FlushAll();
            }
        }

        _switches = Load.ContextSwitches() - switchesAtMeasure;
        var (user, kernel) = LinuxNative.ThreadUserKernelTicks();
        _userTicks = user - userAtMeasure;
        _kernelTicks = kernel - kernelAtMeasure;
        return (LinuxNative.ThreadCpuNanoseconds() - cpuAtMeasure, Process.GetCurrentProcess().TotalProcessorTime - processAtMeasure);
    }

    private void FlushAll()
    {
        foreach (var connection in _connections)
        {
            connection.Flush();
        }
    }

    /// <summary>A response message on a stream of <paramref name="call"/>: its verdict is checked, whichever attempt it is.</summary>
    private void OnVerdict(int call, int streamId, Pb.Verdict verdict)
    {
        if ((byte)verdict != _expected[call % _expected.Length])
        {
            _mismatches++;
            AddSample($"stream {streamId}: verdict {verdict}, expected {(Pb.Verdict)_expected[call % _expected.Length]}");
        }
    }

    /// <summary>
    /// A stream of <paramref name="call"/> ended (trailers, RST_STREAM or END_STREAM on DATA). The first to end is the
    /// call's answer: its failure counts and the other attempt, if any, is reset; a later one is dropped.
    /// </summary>
    private void OnStreamEnded(LeanConnection connection, int slot, int call, long now, string? failure, Pb.Verdict verdict)
    {
        if (!_book.OnAnswer(call, connection.Index, slot, now, out var cancelConnection, out var cancelSlot))
        {
            return;
        }

        if (failure is not null)
        {
            _errors++;
            AddSample(failure);
        }

        if (verdict == Pb.Verdict.Disallowed)
        {
            _disallowed++;
        }

        if (cancelConnection >= 0)
        {
            // The other attempt lost: RST_STREAM CANCEL, so the server stops working on it (RFC 7540 8.1.4, gRFC A6).
            _connections[cancelConnection].Cancel(cancelSlot);
        }
    }

    private void AddSample(string message)
    {
        if (_errorSamples.Count < 10)
        {
            _errorSamples.Add(message);
        }
    }

    /// <summary>
    /// One HTTP/2 connection of the generator: its socket, buffers, HPACK decoder, flow-control windows and the streams
    /// it carries (stream id 1 + 2k is slot k: which call it belongs to, its state, its verdict and failure so far).
    /// </summary>
    private sealed class LeanConnection(LeanLoad owner, Socket socket, int index)
    {
        private const int ReceiveBufferSize = 256 * 1024;
        private const int OurInitialWindow = 16 * 1024 * 1024;
        private const int ConnectionWindowTopUp = 1 << 30;
        private const byte Open = 1;
        private const byte Cancelled = 2;
        private const byte Ended = 3;

        private readonly HpackDecoder _decoder = new();
        private readonly List<KeyValuePair<string, string>> _headers = new(8);
        private readonly byte[] _receive = new byte[ReceiveBufferSize];
        private readonly byte[] _send = new byte[256 * 1024];
        private readonly byte[] _headerBlock = new byte[64 * 1024];
        private int _receiveCount;
        private int _sendCount;
        private int _headerBlockLength;
        private int _headerBlockStream;
        private bool _headerBlockEndsStream;
        private long _connectionSendWindow = Http2Protocol.DefaultInitialWindowSize;
        private long _receivedSinceUpdate;
        private int _maxConcurrentStreams = int.MaxValue;
        private bool _serverSettingsSeen;
        private int _inFlight;
        private int _nextSlot;

        // Per stream slot.
        private int[] _call = [];
        private byte[] _state = [];
        private byte[] _verdict = [];
        private string?[] _failure = [];

        public int Index => index;

        public Socket Socket => socket;

        public void Allocate(int slots)
        {
            _call = new int[slots];
            _state = new byte[slots];
            _verdict = new byte[slots];
            _failure = new string?[slots];
        }

        public void Handshake()
        {
            // RFC 7540 3.5: preface, then our SETTINGS (no push; a 16 MB stream window so responses never wait for a
            // WINDOW_UPDATE), then a connection-level WINDOW_UPDATE (the connection window is not a setting, 6.9.2).
            Http2Protocol.ClientPreface.CopyTo(_send);
            _sendCount = Http2Protocol.ClientPreface.Length;
            Http2Protocol.WriteFrameHeader(_send.AsSpan(_sendCount), 12, Http2FrameType.Settings, 0, 0);
            _sendCount += 9;
            BinaryPrimitives.WriteUInt16BigEndian(_send.AsSpan(_sendCount), Http2Protocol.SettingsEnablePush);
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 2), 0);
            BinaryPrimitives.WriteUInt16BigEndian(_send.AsSpan(_sendCount + 6), Http2Protocol.SettingsInitialWindowSize);
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 8), OurInitialWindow);
            _sendCount += 12;
            AppendWindowUpdate(ConnectionWindowTopUp);
            Flush();
            var deadline = Stopwatch.GetTimestamp() + 5 * Stopwatch.Frequency;
            while (!_serverSettingsSeen)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException("The server sent no SETTINGS within 5 s: is it an HTTP/2 (h2c) endpoint?");
                }

                if (socket.Poll(100_000, SelectMode.SelectRead))
                {
                    Receive(Stopwatch.GetTimestamp());
                    Flush();
                }
            }
        }

        /// <summary>
        /// Queues <paramref name="call"/>'s request on a new stream if the server's stream limit, the connection window
        /// and the send buffer allow; returns the stream's slot, or -1 (try again after the next receive).
        /// </summary>
        public int TrySend(int call, long now)
        {
            if (_inFlight >= _maxConcurrentStreams || _nextSlot >= _call.Length)
            {
                return -1;
            }

            var requests = owner._requests;
            var request = call % owner._expected.Length;
            var offset = owner._requestOffsets[request];
            var length = owner._requestOffsets[request + 1] - offset;
            var dataLength = length - 9 - 9 - owner._requestHeaderBlockLength;
            if (_connectionSendWindow < dataLength || _sendCount + length > _send.Length)
            {
                // RFC 7540 6.9.1: wait for the server's WINDOW_UPDATE (or for the buffer to drain).
                return -1;
            }

            var slot = _nextSlot++;
            var streamId = 1 + (2 * slot);
            requests.AsSpan(offset, length).CopyTo(_send.AsSpan(_sendCount));
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 5), (uint)streamId);
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 9 + owner._requestHeaderBlockLength + 5), (uint)streamId);
            _sendCount += length;
            _connectionSendWindow -= dataLength;
            _call[slot] = call;
            _state[slot] = Open;
            _inFlight++;
            return slot;
        }

        /// <summary>Resets a stream whose call was answered on another one; frames still arriving for it are dropped.</summary>
        public void Cancel(int slot)
        {
            if (_state[slot] != Open)
            {
                return;
            }

            _state[slot] = Cancelled;
            _inFlight--;
            if (_sendCount + 13 > _send.Length)
            {
                Flush();
            }

            Http2Protocol.WriteFrameHeader(_send.AsSpan(_sendCount), 4, Http2FrameType.RstStream, 0, 1 + (2 * slot));
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 9), 0x8); // CANCEL (RFC 7540 7)
            _sendCount += 13;
        }

        public void Receive(long now)
        {
            var read = socket.Receive(_receive, _receiveCount, _receive.Length - _receiveCount, SocketFlags.None, out var error);
            if (error != SocketError.Success || read == 0)
            {
                throw new IOException($"The connection ended ({error}) with {_inFlight} calls in flight.");
            }

            _receiveCount += read;
            var pos = 0;
            while (_receiveCount - pos >= 9)
            {
                var frame = _receive.AsSpan(pos);
                var length = (frame[0] << 16) | (frame[1] << 8) | frame[2];
                if (length > Http2Protocol.DefaultMaxFrameSize)
                {
                    throw new IOException($"A frame of {length} bytes exceeds the 16,384 we allow (RFC 7540 4.2).");
                }

                if (_receiveCount - pos < 9 + length)
                {
                    break;
                }

                var type = (Http2FrameType)frame[3];
                var flags = frame[4];
                var streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(frame[5..]) & 0x7FFF_FFFF);
                OnFrame(type, flags, streamId, frame.Slice(9, length), now);
                pos += 9 + length;
            }

            _receive.AsSpan(pos, _receiveCount - pos).CopyTo(_receive);
            _receiveCount -= pos;
        }

        private void OnFrame(Http2FrameType type, byte flags, int streamId, ReadOnlySpan<byte> payload, long now)
        {
            switch (type)
            {
                case Http2FrameType.Data:
                    _receivedSinceUpdate += payload.Length;
                    if (_receivedSinceUpdate > ConnectionWindowTopUp / 2)
                    {
                        AppendWindowUpdate((int)_receivedSinceUpdate);
                        _receivedSinceUpdate = 0;
                    }

                    OnMessage(streamId, Unpad(payload, flags));
                    if ((flags & Http2Protocol.FlagEndStream) != 0)
                    {
                        // A gRPC response ends with a trailers HEADERS frame carrying grpc-status; a stream ended by DATA has
                        // none (a plain HTTP/2 server answering, not a gRPC one).
                        Fail(streamId, $"stream {streamId} ended by DATA, without trailers (no grpc-status)");
                        Complete(streamId, now);
                    }

                    break;
                case Http2FrameType.Headers:
                    var block = Unpad(payload, flags);
                    if ((flags & Http2Protocol.FlagPriority) != 0)
                    {
                        block = block[5..];
                    }

                    _headerBlockLength = 0;
                    _headerBlockStream = streamId;
                    _headerBlockEndsStream = (flags & Http2Protocol.FlagEndStream) != 0;
                    AppendHeaderBlock(block, (flags & Http2Protocol.FlagEndHeaders) != 0, now);
                    break;
                case Http2FrameType.Continuation:
                    if (streamId != _headerBlockStream)
                    {
                        throw new IOException("A CONTINUATION frame for another stream (RFC 7540 6.10).");
                    }

                    AppendHeaderBlock(payload, (flags & Http2Protocol.FlagEndHeaders) != 0, now);
                    break;
                case Http2FrameType.RstStream:
                    Fail(streamId, $"stream {streamId} reset by the server: {Http2Protocol.ErrorName(BinaryPrimitives.ReadUInt32BigEndian(payload))}");
                    Complete(streamId, now);
                    break;
                case Http2FrameType.Settings:
                    if ((flags & Http2Protocol.FlagAck) == 0)
                    {
                        for (var i = 0; i + 6 <= payload.Length; i += 6)
                        {
                            var id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
                            var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                            if (id == Http2Protocol.SettingsMaxConcurrentStreams)
                            {
                                _maxConcurrentStreams = (int)Math.Min(value, int.MaxValue);
                            }
                        }

                        Http2Protocol.WriteFrameHeader(_send.AsSpan(_sendCount), 0, Http2FrameType.Settings, Http2Protocol.FlagAck, 0);
                        _sendCount += 9;
                        _serverSettingsSeen = true;
                    }

                    break;
                case Http2FrameType.Ping:
                    if ((flags & Http2Protocol.FlagAck) == 0)
                    {
                        Http2Protocol.WriteFrameHeader(_send.AsSpan(_sendCount), 8, Http2FrameType.Ping, Http2Protocol.FlagAck, 0);
                        payload[..8].CopyTo(_send.AsSpan(_sendCount + 9));
                        _sendCount += 17;
                    }

                    break;
                case Http2FrameType.WindowUpdate:
                    if (streamId == 0)
                    {
                        _connectionSendWindow += BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF;
                    }

                    break;
                case Http2FrameType.GoAway:
                    throw new IOException($"The server sent GOAWAY ({Http2Protocol.ErrorName(BinaryPrimitives.ReadUInt32BigEndian(payload[4..]))}: {Encoding.UTF8.GetString(payload[8..])}) with {_inFlight} calls in flight.");
                default:
                    // PRIORITY and unknown frame types are ignored (RFC 7540 4.1, 5.5).
                    break;
            }
        }

        private static ReadOnlySpan<byte> Unpad(ReadOnlySpan<byte> payload, byte flags)
        {
            if ((flags & Http2Protocol.FlagPadded) == 0)
            {
                return payload;
            }

            var pad = payload[0];
            return payload.Slice(1, payload.Length - 1 - pad);
        }

        private void AppendHeaderBlock(ReadOnlySpan<byte> fragment, bool endHeaders, long now)
        {
            fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
            _headerBlockLength += fragment.Length;
            if (!endHeaders)
            {
                return;
            }

            // The block is decoded even for a call already failed or cancelled: the dynamic table must stay in step (RFC 7541 2.3.2).
            _decoder.Decode(_headerBlock.AsSpan(0, _headerBlockLength), _headers, int.MaxValue);
            string? status = null;
            string? grpcStatus = null;
            string? grpcMessage = null;
            foreach (var (name, value) in _headers)
            {
                switch (name)
                {
                    case ":status":
                        status = value;
                        break;
                    case "grpc-status":
                        grpcStatus = value;
                        break;
                    case "grpc-message":
                        grpcMessage = value;
                        break;
                }
            }

            if (status is not null && status != "200")
            {
                Fail(_headerBlockStream, $"stream {_headerBlockStream}: HTTP status {status}");
            }

            if (grpcStatus is not null && grpcStatus != "0")
            {
                Fail(_headerBlockStream, $"stream {_headerBlockStream}: grpc-status {grpcStatus} {grpcMessage}");
            }

            if (_headerBlockEndsStream)
            {
                if (grpcStatus is null)
                {
                    Fail(_headerBlockStream, $"stream {_headerBlockStream} ended without grpc-status");
                }

                Complete(_headerBlockStream, now);
            }
        }

        /// <summary>The slot of a stream we opened and have not seen end; anything else is a protocol error of the server.</summary>
        private int Slot(int streamId)
        {
            var slot = (streamId - 1) / 2;
            if (streamId < 1 || (streamId & 1) == 0 || slot >= _nextSlot || _state[slot] is not (Open or Cancelled))
            {
                throw new IOException($"A frame for stream {streamId}, which is not a call in flight.");
            }

            return slot;
        }

        private void OnMessage(int streamId, ReadOnlySpan<byte> data)
        {
            var slot = Slot(streamId);
            if (data.Length == 0)
            {
                return;
            }

            // One gRPC frame per DATA frame is what the server writes for a response this small; the fast path's answer to
            // one URL is exactly "0A 02 08 V" (results { verdict: V }). Anything else goes through the generated parser.
            Pb.Verdict verdict;
            if (data.Length == 9 && data[0] == 0 && BinaryPrimitives.ReadUInt32BigEndian(data[1..]) == 4 && data[5] == 0x0A && data[6] == 0x02 && data[7] == 0x08)
            {
                verdict = (Pb.Verdict)data[8];
            }
            else if (data.Length >= 5 && data[0] == 0 && BinaryPrimitives.ReadUInt32BigEndian(data[1..]) == data.Length - 5)
            {
                var response = Pb.CheckBatchResponse.Parser.ParseFrom(data[5..]);
                verdict = response.Results.Count == 1 ? response.Results[0].Verdict : Pb.Verdict.Unspecified;
            }
            else
            {
                Fail(streamId, $"stream {streamId}: a response message split across DATA frames or compressed ({data.Length} bytes)");
                return;
            }

            _verdict[slot] = (byte)verdict;
            // Checked for every answer, a hedge's or a dropped late one's too.
            owner.OnVerdict(_call[slot], streamId, verdict);
        }

        private void Fail(int streamId, string message)
        {
            var slot = Slot(streamId);
            _failure[slot] ??= message;
        }

        private void Complete(int streamId, long now)
        {
            var slot = Slot(streamId);
            var state = _state[slot];
            _state[slot] = Ended;
            if (state == Cancelled)
            {
                // Reset by us after the call's other attempt answered: its slot was freed then, and its answer is dropped
                // (the book counts it as late).
                owner.OnStreamEnded(this, slot, _call[slot], now, null, Pb.Verdict.Unspecified);
                return;
            }

            _inFlight--;
            owner.OnStreamEnded(this, slot, _call[slot], now, _failure[slot], (Pb.Verdict)_verdict[slot]);
        }

        private void AppendWindowUpdate(int increment)
        {
            Http2Protocol.WriteFrameHeader(_send.AsSpan(_sendCount), 4, Http2FrameType.WindowUpdate, 0, 0);
            BinaryPrimitives.WriteUInt32BigEndian(_send.AsSpan(_sendCount + 9), (uint)increment);
            _sendCount += 13;
        }

        public void Flush()
        {
            var pos = 0;
            while (pos < _sendCount)
            {
                var sent = socket.Send(_send, pos, _sendCount - pos, SocketFlags.None, out var error);
                if (error != SocketError.Success)
                {
                    throw new IOException($"Sending failed: {error}.");
                }

                pos += sent;
            }

            _sendCount = 0;
        }
    }
}
