using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace OptOutRegistry.Fuzz.Rpc;

/// <summary>One gRPC request as the fuzzer sends it over HttpClient (HTTP/2 with prior knowledge).</summary>
/// <param name="Name">What the case is, for reports.</param>
/// <param name="Method">The RPC (for decoding answers); null for a path that is no RPC.</param>
/// <param name="Path">The :path sent.</param>
/// <param name="Body">The request body as sent (framing included).</param>
/// <param name="Headers">Request headers beyond the defaults.</param>
/// <param name="ContentType">Content-Type; null sends none.</param>
/// <param name="ProtocolViolation">True when the request breaks HTTP/2 limits, so a reset is a correct answer.</param>
/// <param name="HttpMethod">POST unless the case is about the method.</param>
public sealed record GrpcCase(string Name, RpcMethod? Method, string Path, byte[] Body, IReadOnlyList<KeyValuePair<string, string>> Headers,
    string? ContentType = "application/grpc", bool ProtocolViolation = false, string HttpMethod = "POST");

/// <summary>How the server answered one <see cref="GrpcCase"/>.</summary>
/// <param name="HttpStatus">HTTP status, 0 if none.</param>
/// <param name="GrpcStatus">grpc-status from headers or trailers, null if none.</param>
/// <param name="GrpcMessage">grpc-message, if any.</param>
/// <param name="Failure">Reset/timeout description when there was no HTTP answer.</param>
/// <param name="TimedOut">True when nothing came back in time.</param>
/// <param name="Body">Response body.</param>
/// <param name="StreamOpen">A server stream answered with headers and was still open when the client stopped reading.</param>
/// <param name="ResetNoError">The server reset the stream with NO_ERROR while the request was still being sent (it answered early).</param>
public sealed record GrpcAnswer(int HttpStatus, int? GrpcStatus, string? GrpcMessage, string? Failure, bool TimedOut, byte[] Body, bool StreamOpen = false, bool ResetNoError = false);

/// <summary>
/// RPC fuzzing against the real server (issue 9, deliverable 3): for every RPC of Registry, Check, Feed, Health and
/// Reflection, random and mutated protobuf bodies (<c>bodies</c>), bad gRPC framing (<c>framing</c>), hostile
/// metadata, content types and paths (<c>metadata</c>) and bad HTTP/2 frames over a raw socket (<c>http2</c>).
/// Every request must get a gRPC status or a clean HTTP error/reset; UNKNOWN (an exception no handler turned into a
/// status), an error in the server log, or a failed health check after a batch are findings.
/// </summary>
public sealed class RpcFuzzer : IDisposable
{
    /// <summary>The case groups, each fuzzed as one target.</summary>
    public static IReadOnlyList<string> Groups { get; } = ["bodies", "framing", "metadata", "http2"];

    private const int BatchSize = 16;
    private const int Parallelism = 4;
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lazy<byte[]> s_gzipBomb = new(() => Gzip(new byte[64 * 1024 * 1024]));

    private readonly FuzzServer _server;
    private readonly HttpClient _client;
    private readonly Random _random;
    private readonly ProtoGenerator _generator;
    private readonly Mutator _mutator;
    private readonly List<string> _holderKeys = [];
    private readonly object _learnLock = new();

    /// <summary>Creates a fuzzer for <paramref name="server"/>.</summary>
    public RpcFuzzer(FuzzServer server, int seed)
    {
        _server = server;
        _client = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        _random = new Random(seed);
        _generator = new ProtoGenerator(new Random(seed + 1));
        _mutator = new Mutator(seed + 2, ["\u0008", "\u0010", "\u0012", "\u001a", "\u0022", "\u000b", "\u000c", "\u00ff\u00ff\u00ff\u00ff\u000f"]);
    }

    /// <summary>Runs <paramref name="group"/> until <paramref name="maxInputs"/> requests or <paramref name="budget"/>.</summary>
    public async Task<FuzzTargetResult> RunAsync(string group, long maxInputs, TimeSpan budget)
    {
        var findings = new List<FuzzFinding>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long inputs = 0, errors = 0;
        var slowest = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        var index = 0;
        var target = "rpc." + group;

        void Record(FindingKind kind, string key, string detail, byte[] input)
        {
            if (seen.Add(kind + "|" + key))
            {
                findings.Add(new FuzzFinding(target, kind, detail, FuzzFinding.Encode(input)));
            }
        }

        while (inputs < maxInputs && clock.Elapsed < budget)
        {
            if (group == "http2")
            {
                var started = clock.Elapsed;
                var (name, outcome, detail, input, ok) = await RunRawCaseAsync(index++);
                inputs++;
                slowest = Max(slowest, clock.Elapsed - started);
                if (outcome != RawOutcome.Headers)
                {
                    errors++;
                }

                if (!ok)
                {
                    Record(outcome == RawOutcome.Timeout ? FindingKind.NoStatus : FindingKind.NoStatus, name + "|" + outcome, $"{name}: {outcome} ({detail})", input);
                }
            }
            else
            {
                var batch = new GrpcCase[BatchSize];
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i] = group switch
                    {
                        "bodies" => BodyCase(index++),
                        "framing" => FramingCase(index++),
                        "metadata" => MetadataCase(index++),
                        _ => throw new ArgumentException($"no RPC group '{group}'", nameof(group)),
                    };
                }

                var started = clock.Elapsed;
                var answers = new GrpcAnswer[batch.Length];
                for (var i = 0; i < batch.Length; i += Parallelism)
                {
                    var tasks = new Task<GrpcAnswer>[Math.Min(Parallelism, batch.Length - i)];
                    for (var j = 0; j < tasks.Length; j++)
                    {
                        // A protocol violation may end the whole connection (GOAWAY): it gets its own, so that the
                        // calls sharing a connection with it are not counted as unanswered.
                        tasks[j] = batch[i + j].ProtocolViolation ? SendIsolatedAsync(batch[i + j]) : SendAsync(batch[i + j]);
                    }

                    for (var j = 0; j < tasks.Length; j++)
                    {
                        answers[i + j] = await tasks[j];
                    }
                }

                slowest = Max(slowest, (clock.Elapsed - started) / Parallelism);
                for (var i = 0; i < batch.Length; i++)
                {
                    inputs++;
                    var (c, a) = (batch[i], answers[i]);
                    if (a.GrpcStatus is not 0)
                    {
                        errors++;
                    }

                    if (Check(c, a) is { } problem)
                    {
                        Record(problem.Kind, c.Path + "|" + problem.Key, $"{c.Name} {c.Path}: {problem.Detail}", c.Body);
                    }
                    else if (a.GrpcStatus == 0 && c.Method is not null)
                    {
                        Learn(c.Method.Method.OutputType, a.Body);
                    }
                }
            }

            // After every batch: the server still answers its health check, and logged no error.
            if (group != "http2" || index % BatchSize == 0)
            {
                var health = await HealthAsync();
                if (health is not null)
                {
                    Record(FindingKind.ServerDown, "health", health, []);
                }

                foreach (var log in _server.Logs.Drain())
                {
                    if (IsExpectedMitigation(log))
                    {
                        continue;
                    }

                    Record(FindingKind.ErrorLogged, log.Category + "|" + log.EventId.Id + "|" + log.Exception?.GetType().FullName,
                        $"{log.Level} {log.Category}[{log.EventId.Id}]: {log.Message} {log.Exception?.GetType().Name}: {log.Exception?.Message} (inner {log.Exception?.InnerException?.GetType().Name}: {log.Exception?.InnerException?.Message}) {FirstFrame(log.Exception)}", []);
                }
            }
        }

        return new FuzzTargetResult(target, inputs, errors, clock.Elapsed, slowest, findings);
    }

    private static string FirstFrame(Exception? exception)
    {
        if (exception is null)
        {
            return string.Empty;
        }

        var frames = new StackTrace(exception).GetFrames();
        var parts = new List<string>();
        foreach (var frame in frames)
        {
            var method = frame.GetMethod();
            if (method?.DeclaringType?.FullName is { } type && type.StartsWith("OptOutRegistry", StringComparison.Ordinal))
            {
                parts.Add(type + "." + method.Name);
                if (parts.Count == 3)
                {
                    break;
                }
            }
        }

        return "at " + string.Join(" < ", parts);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// Kestrel's own defence against HTTP/2 rapid reset (CVE-2023-44487) logs at Critical when it drops the connection
    /// (Http2 event 60, "exceeded the output operations maximum queue size"): that is the server working as intended.
    /// </summary>
    public static bool IsExpectedMitigation(CapturedLog log) =>
        log.Category == "Microsoft.AspNetCore.Server.Kestrel.Http2" && log.EventId.Id == 60;

    /// <summary>What is wrong with an answer, or null when it is a proper answer.</summary>
    public static (FindingKind Kind, string Key, string Detail)? Check(GrpcCase request, GrpcAnswer answer)
    {
        if (answer.TimedOut)
        {
            return (FindingKind.NoStatus, "timeout", $"no answer within {s_callTimeout.TotalSeconds:F0} s");
        }

        if (answer.Failure is not null)
        {
            return request.ProtocolViolation ? null : (FindingKind.NoStatus, "reset", "reset without a status: " + answer.Failure);
        }

        if (answer.HttpStatus >= 500)
        {
            return (FindingKind.NoStatus, "http" + answer.HttpStatus, $"HTTP {answer.HttpStatus} (grpc-status {answer.GrpcStatus?.ToString() ?? "none"})");
        }

        if (answer.ResetNoError)
        {
            return null;
        }

        if (answer.StreamOpen)
        {
            return answer.HttpStatus is 200 or 0 ? null : (FindingKind.NoStatus, "stream" + answer.HttpStatus, $"open stream with HTTP {answer.HttpStatus}");
        }

        if (answer.HttpStatus == 200 && answer.GrpcStatus is null)
        {
            return (FindingKind.NoStatus, "nostatus", "HTTP 200 without grpc-status");
        }

        if (answer.GrpcStatus == 2)
        {
            return (FindingKind.UnknownStatus, "unknown|" + answer.GrpcMessage, "UNKNOWN: " + answer.GrpcMessage);
        }

        return null;
    }

    /// <summary>Sends one case on a connection of its own.</summary>
    public async Task<GrpcAnswer> SendIsolatedAsync(GrpcCase c)
    {
        using var client = new HttpClient(new SocketsHttpHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        return await SendAsync(c, client);
    }

    /// <summary>Sends one case and collects the answer (never throws for what the server does).</summary>
    public Task<GrpcAnswer> SendAsync(GrpcCase c) => SendAsync(c, _client);

    private async Task<GrpcAnswer> SendAsync(GrpcCase c, HttpClient client)
    {
        // Authority + path as text: new Uri(base, "//x") would read "//x" as a host.
        using var request = new HttpRequestMessage(new HttpMethod(c.HttpMethod), new Uri(_server.GrpcAddress.GetLeftPart(UriPartial.Authority) + c.Path))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(c.Body),
        };
        if (c.ContentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", c.ContentType);
        }

        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in c.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var cancel = new CancellationTokenSource(s_callTimeout);

        // A server stream with nothing to send yet (WatchEvents on a quiet registry, without a usable deadline) sends
        // its response headers with the first message, as grpc-dotnet does: waiting for them is not waiting for an answer.
        using var headersWait = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
        if (c.Method is { ServerStreaming: true })
        {
            headersWait.CancelAfter(TimeSpan.FromSeconds(5));
        }

        try
        {
            HttpResponseMessage sent;
            try
            {
                sent = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headersWait.Token);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return new GrpcAnswer(0, null, null, null, false, [], StreamOpen: true);
            }

            using var response = sent;
            byte[] body;
            if (c.Method is { ServerStreaming: true })
            {
                // A server stream (Watch, WatchEvents) may rightly stay open when the call has no usable deadline (an
                // invalid grpc-timeout is ignored, as PROTOCOL-HTTP2.md allows): its response headers are the answer.
                using var streamRead = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
                streamRead.CancelAfter(TimeSpan.FromSeconds(3));
                try
                {
                    body = await response.Content.ReadAsByteArrayAsync(streamRead.Token);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    return new GrpcAnswer((int)response.StatusCode, null, null, null, false, [], StreamOpen: true);
                }
            }
            else
            {
                body = await response.Content.ReadAsByteArrayAsync(cancel.Token);
            }

            var status = Header(response.Headers, "grpc-status") ?? Header(response.TrailingHeaders, "grpc-status");
            var message = Header(response.Headers, "grpc-message") ?? Header(response.TrailingHeaders, "grpc-message");
            return new GrpcAnswer((int)response.StatusCode, int.TryParse(status, out var code) ? code : null,
                message is null ? null : Uri.UnescapeDataString(message), null, false, body);
        }
        catch (OperationCanceledException)
        {
            return new GrpcAnswer(0, null, null, "timeout", true, []);
        }
        catch (HttpRequestException ex) when (EndedWithNoError(ex))
        {
            // RFC 9113 §8.1: a server may answer before reading the whole request and then reset the stream with
            // NO_ERROR; HttpClient surfaces that as a failed send and drops the answer. The server did answer.
            return new GrpcAnswer(0, null, null, null, false, [], ResetNoError: true);
        }
        catch (HttpRequestException ex)
        {
            return new GrpcAnswer(0, null, null, ex.GetType().Name + ": " + ex.Message + (ex.InnerException is { } inner ? " / " + inner.Message : string.Empty), false, []);
        }
        catch (IOException ex)
        {
            return new GrpcAnswer(0, null, null, "IOException: " + ex.Message, false, []);
        }
    }

    private static bool EndedWithNoError(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpProtocolException { ErrorCode: 0 })
            {
                return true;
            }
        }

        return false;
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    /// <summary>Health/Check must answer SERVING; returns what is wrong, or null.</summary>
    public async Task<string?> HealthAsync()
    {
        var method = RpcMethods.HealthCheck;
        var answer = await SendAsync(new GrpcCase("health", method, method.Path, RawHttp2Connection.GrpcMessage([]), []));
        if (answer.GrpcStatus != 0)
        {
            return $"health check: HTTP {answer.HttpStatus}, grpc-status {answer.GrpcStatus?.ToString() ?? "none"} {answer.GrpcMessage} {answer.Failure}";
        }

        // HealthCheckResponse { status = SERVING (1) }: 00 00000002 08 01.
        return answer.Body.AsSpan().SequenceEqual((ReadOnlySpan<byte>)[0, 0, 0, 0, 2, 8, 1]) ? null : "health check: not SERVING: " + Convert.ToHexString(answer.Body);
    }

    private void Learn(MessageDescriptor type, byte[] body)
    {
        var span = body.AsSpan();
        while (span.Length >= 5 && span[0] == 0)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(span[1..]);
            if (length > span.Length - 5)
            {
                break;
            }

            try
            {
                var message = type.Parser.ParseFrom(span.Slice(5, length).ToArray());
                lock (_learnLock)
                {
                    Walk(message, 0);
                }
            }
            catch (InvalidProtocolBufferException)
            {
                // Not this type (e.g. a trailers-only answer with a body): nothing to learn.
            }

            span = span[(5 + length)..];
        }
    }

    private void Walk(IMessage message, int depth)
    {
        if (depth > 8)
        {
            return;
        }

        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            var value = field.Accessor.GetValue(message);
            if (field.FieldType == FieldType.String && !field.IsRepeated && value is string text && text.Length > 0)
            {
                if (field.Name == "api_key" && _holderKeys.Count < 50)
                {
                    _holderKeys.Add(text);
                }
                else
                {
                    _generator.Learn(text);
                }
            }
            else if (field.FieldType == FieldType.Message)
            {
                if (field.IsRepeated && value is System.Collections.IEnumerable list)
                {
                    var n = 0;
                    foreach (var item in list)
                    {
                        if (item is IMessage child && n++ < 5)
                        {
                            Walk(child, depth + 1);
                        }
                    }
                }
                else if (value is IMessage child)
                {
                    Walk(child, depth + 1);
                }
            }
        }
    }

    private List<KeyValuePair<string, string>> BaseHeaders(RpcMethod method)
    {
        // Server-streaming calls (Watch, WatchEvents, GetSnapshot) may stay open: a short deadline ends them with a status.
        var headers = new List<KeyValuePair<string, string>> { new("grpc-timeout", method.ServerStreaming ? "300m" : "20S") };
        var roll = _random.Next(10);
        string? key;
        lock (_learnLock)
        {
            key = roll switch
            {
                < 5 => _server.AdminKey,
                < 7 when _holderKeys.Count > 0 => _holderKeys[_random.Next(_holderKeys.Count)],
                7 => "not-a-key",
                _ => null,
            };
        }

        if (key is not null)
        {
            headers.Add(new("authorization", "Bearer " + key));
        }

        return headers;
    }

    private GrpcCase BodyCase(int index)
    {
        var method = RpcMethods.All[index % RpcMethods.All.Count];
        var input = method.Method.InputType;
        var messages = method.Method.IsClientStreaming ? 1 + _random.Next(4) : 1;
        using var body = new MemoryStream();
        string name = "valid message";
        for (var m = 0; m < messages; m++)
        {
            var roll = _random.Next(100);
            byte[] message;
            if (roll < 45)
            {
                message = _generator.Message(input);
                name = "valid message";
            }
            else if (roll < 85)
            {
                var data = new List<byte>(_generator.Message(input));
                var mutations = 1 + _random.Next(4);
                for (var i = 0; i < mutations; i++)
                {
                    _mutator.Mutate(data, []);
                }

                message = [.. data];
                name = "mutated message";
            }
            else if (roll < 95)
            {
                var damage = ProtoGenerator.WireDamage().ElementAt(_random.Next(ProtoGenerator.WireDamage().Count()));
                message = damage.Body;
                name = damage.Name;
            }
            else
            {
                message = new byte[_random.Next(200)];
                _random.NextBytes(message);
                name = "random bytes";
            }

            body.Write(RawHttp2Connection.GrpcMessage(message));
        }

        return new GrpcCase(name, method, method.Path, body.ToArray(), BaseHeaders(method));
    }

    private static readonly string[] s_framingCases =
    [
        "flag 1 without grpc-encoding", "flag 1 with identity", "flag 1 with unknown encoding", "flag 1 gzip but not gzip", "gzip bomb 64 MiB",
        "valid gzip message", "flag 2", "flag 255", "length 0xFFFFFFFF", "length beyond the body", "truncated prefix", "empty body",
        "two messages", "message then garbage", "length 0x7FFFFFFF", "message over the receive limit", "grpc-encoding list", "grpc-accept-encoding garbage",
        "gzip truncated", "gzip of garbage", "flag 0 with grpc-encoding gzip", "deep unknown groups", "many tiny messages",
    ];

    private GrpcCase FramingCase(int index)
    {
        var method = RpcMethods.All[index / s_framingCases.Length % RpcMethods.All.Count];
        var kind = s_framingCases[index % s_framingCases.Length];
        var headers = BaseHeaders(method);
        var message = _generator.Message(method.Method.InputType);
        byte[] body;
        switch (kind)
        {
            case "flag 1 without grpc-encoding":
                body = Prefix(1, message);
                break;
            case "flag 1 with identity":
                body = Prefix(1, message);
                headers.Add(new("grpc-encoding", "identity"));
                break;
            case "flag 1 with unknown encoding":
                body = Prefix(1, Gzip(message));
                headers.Add(new("grpc-encoding", "br"));
                break;
            case "flag 1 gzip but not gzip":
                body = Prefix(1, message.Length == 0 ? [1, 2, 3] : message);
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "gzip bomb 64 MiB":
                body = Prefix(1, s_gzipBomb.Value);
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "valid gzip message":
                body = Prefix(1, Gzip(message));
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "flag 2":
                body = Prefix(2, message);
                break;
            case "flag 255":
                body = Prefix(255, message);
                break;
            case "length 0xFFFFFFFF":
                body = [0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
                break;
            case "length beyond the body":
                body = Prefix(0, message);
                BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), (uint)message.Length + 10);
                break;
            case "truncated prefix":
                body = [0, 0, 0];
                break;
            case "empty body":
                body = [];
                break;
            case "two messages":
                body = [.. Prefix(0, message), .. Prefix(0, message)];
                break;
            case "message then garbage":
                body = [.. Prefix(0, message), 0x00, 0x01];
                break;
            case "length 0x7FFFFFFF":
                body = [0, 0x7F, 0xFF, 0xFF, 0xFF, .. message];
                break;
            case "message over the receive limit":
                body = Prefix(0, new byte[5 * 1024 * 1024]);
                break;
            case "grpc-encoding list":
                body = Prefix(1, Gzip(message));
                headers.Add(new("grpc-encoding", "gzip, deflate"));
                break;
            case "grpc-accept-encoding garbage":
                body = Prefix(0, message);
                headers.Add(new("grpc-accept-encoding", "~,,;;gzip;q=2,br,zstd,*;q=-1," + new string(',', 500)));
                break;
            case "gzip truncated":
                var gz = Gzip(message);
                body = Prefix(1, gz[..Math.Max(1, gz.Length / 2)]);
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "gzip of garbage":
                var garbage = new byte[_random.Next(1, 300)];
                _random.NextBytes(garbage);
                body = Prefix(1, Gzip(garbage));
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "flag 0 with grpc-encoding gzip":
                body = Prefix(0, message);
                headers.Add(new("grpc-encoding", "gzip"));
                break;
            case "deep unknown groups":
                body = Prefix(0, ProtoGenerator.DeepGroups(100_000));
                break;
            default:
                using (var many = new MemoryStream())
                {
                    for (var i = 0; i < 20_000; i++)
                    {
                        many.Write([0, 0, 0, 0, 0]);
                    }

                    body = many.ToArray();
                }

                break;
        }

        return new GrpcCase(kind, method, method.Path, body, headers);
    }

    private static readonly string[] s_metadataCases =
    [
        "no content-type", "text/plain", "application/grpc+json", "application/grpcfoo", "application/grpc; charset=utf-8", "application/grpc+proto",
        "path /", "path service only", "path trailing slash", "path unknown method", "path unknown service", "path //", "path extra segment",
        "path percent-encoded", "path 8 KiB", "path unicode", "grpc-timeout 0S", "grpc-timeout negative", "grpc-timeout huge", "grpc-timeout garbage",
        "authorization 10 KiB", "authorization control characters", "authorization Basic", "authorization empty bearer", "90 headers of 100 bytes", "200 headers (over the count limit)",
        "1000 headers (over the limit)", "one 64 KiB header (over the limit)", "binary header bad base64", "duplicate grpc-encoding",
        "GET", "PUT", "no te", "user-agent 8 KiB", "grpc-timeout 1n",
    ];

    private GrpcCase MetadataCase(int index)
    {
        var method = RpcMethods.All[index / s_metadataCases.Length % RpcMethods.All.Count];
        var kind = s_metadataCases[index % s_metadataCases.Length];
        var headers = BaseHeaders(method);
        var body = RawHttp2Connection.GrpcMessage(_generator.Message(method.Method.InputType));
        var path = method.Path;
        var contentType = "application/grpc";
        var violation = false;
        var httpMethod = "POST";
        var service = path[..path.LastIndexOf('/')];
        switch (kind)
        {
            case "no content-type":
                contentType = null;
                break;
            case "text/plain" or "application/grpc+json" or "application/grpcfoo" or "application/grpc; charset=utf-8" or "application/grpc+proto":
                contentType = kind;
                break;
            case "path /":
                path = "/";
                break;
            case "path service only":
                path = service;
                break;
            case "path trailing slash":
                path = path + "/";
                break;
            case "path unknown method":
                path = service + "/NoSuchMethod";
                break;
            case "path unknown service":
                path = "/no.such.Service/Method";
                break;
            case "path //":
                path = "//";
                break;
            case "path extra segment":
                path = path + "/extra";
                break;
            case "path percent-encoded":
                // %00 decodes to NUL, which Kestrel refuses in a path (a malformed request: RST_STREAM is right).
                path = path.Replace("/", "%2F", StringComparison.Ordinal).Insert(0, "/") + "%00%ff";
                violation = true;
                break;
            case "path 8 KiB":
                // Over Kestrel's request-target limit: a malformed request, RST_STREAM PROTOCOL_ERROR is right.
                path = "/" + new string('a', 8192);
                violation = true;
                break;
            case "path unicode":
                path = service + "/%C3%A9%F0%9F%A6%80";
                break;
            case "grpc-timeout 0S":
                headers[0] = new("grpc-timeout", "0S");
                break;
            case "grpc-timeout negative":
                headers[0] = new("grpc-timeout", "-1S");
                break;
            case "grpc-timeout huge":
                headers[0] = new("grpc-timeout", "99999999H");
                break;
            case "grpc-timeout garbage":
                headers[0] = new("grpc-timeout", "1x");
                break;
            case "grpc-timeout 1n":
                headers[0] = new("grpc-timeout", "1n");
                break;
            case "authorization 10 KiB":
                headers.Add(new("authorization", "Bearer " + new string('k', 10 * 1024)));
                break;
            case "authorization control characters":
                // HttpClient refuses non-ASCII header values; those go over the raw framer ("non-ASCII header values").
                headers.Add(new("authorization", "Bearer \u0001\u007fkey\t"));
                break;
            case "authorization Basic":
                headers.Add(new("authorization", "Basic YWRtaW46YWRtaW4="));
                break;
            case "authorization empty bearer":
                headers.Add(new("authorization", "Bearer "));
                break;
            case "90 headers of 100 bytes":
                // Within the documented limits (docs/limits.md: 100 headers, 32 KiB): must be answered normally.
                for (var i = 0; i < 90; i++)
                {
                    headers.Add(new($"x-fuzz-{i}", new string('v', 90)));
                }

                break;
            case "200 headers (over the count limit)":
                for (var i = 0; i < 200; i++)
                {
                    headers.Add(new($"x-fuzz-{i}", new string('v', 10)));
                }

                violation = true;
                break;
            case "1000 headers (over the limit)":
                for (var i = 0; i < 1000; i++)
                {
                    headers.Add(new($"x-fuzz-{i}", new string('v', 90)));
                }

                violation = true;
                break;
            case "one 64 KiB header (over the limit)":
                headers.Add(new("x-big", new string('v', 64 * 1024)));
                violation = true;
                break;
            case "binary header bad base64":
                headers.Add(new("x-trace-bin", "!!!not base64!!!"));
                break;
            case "duplicate grpc-encoding":
                headers.Add(new("grpc-encoding", "gzip"));
                headers.Add(new("grpc-encoding", "identity"));
                break;
            case "GET" or "PUT":
                httpMethod = kind;
                break;
            case "no te":
                // HttpClient always sends te: trailers; adding gzip makes "trailers, gzip", which RFC 9113 §8.2.2
                // forbids in HTTP/2: a malformed request, so RST_STREAM PROTOCOL_ERROR is the right answer.
                headers.Add(new("te", "gzip"));
                violation = true;
                break;
            default:
                headers.Add(new("user-agent", new string('u', 8192)));
                break;
        }

        return new GrpcCase(kind, method, path, body, headers, contentType, violation, httpMethod);
    }

    private static byte[] Prefix(byte flag, byte[] message)
    {
        var framed = RawHttp2Connection.GrpcMessage(message);
        framed[0] = flag;
        return framed;
    }

    private static byte[] Gzip(byte[] data)
    {
        if (data.Length == 0)
        {
            // GZipStream writes nothing at all for empty input; a gRPC client sends a complete empty member (RFC 1952).
            return [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        }

        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return memory.ToArray();
    }

    private static readonly string[] s_rawCases =
    [
        "valid request", "DATA on stream 0", "HEADERS on stream 0", "even stream id", "unknown frame type then request", "garbage HPACK block",
        "HPACK index 1000", "frame over max size", "truncated frame then EOF", "WINDOW_UPDATE 0 on connection", "WINDOW_UPDATE 0 on stream",
        "SETTINGS ENABLE_PUSH 2", "SETTINGS INITIAL_WINDOW_SIZE 2^31", "SETTINGS MAX_FRAME_SIZE 1", "SETTINGS length 5", "PING length 7",
        "PRIORITY self-dependency", "uppercase header name", "missing :path", "pseudo-header after regular", "connection header",
        "CONTINUATION flood", "rapid reset 300 streams", "200 concurrent streams", "random bytes after preface", "HTTP/1.1 request",
        "DATA after END_STREAM", "RST_STREAM on idle stream", "padding longer than payload", "64 KiB header via CONTINUATION", "non-ASCII header values",
        "mutated request",
    ];

    private async Task<(string Name, RawOutcome Outcome, string Detail, byte[] Input, bool Ok)> RunRawCaseAsync(int index)
    {
        var name = index < s_rawCases.Length ? s_rawCases[index] : (index % 4 == 0 ? s_rawCases[index / 4 % s_rawCases.Length] : "mutated request");
        var authority = _server.GrpcAddress.Authority;
        var health = RpcMethods.HealthCheck.Path;
        var valid = RawHttp2Connection.HeaderBlock(RawHttp2Connection.GrpcRequestHeaders(authority, health));
        var validBody = RawHttp2Connection.GrpcMessage([]);
        var sent = new List<byte>();
        var timeout = TimeSpan.FromSeconds(10);
        await using var connection = await RawHttp2Connection.ConnectAsync(_server.GrpcAddress, preface: name != "HTTP/1.1 request");

        async Task Send(FrameType type, byte flags, int stream, byte[] payload, int? lengthOverride = null)
        {
            var frame = RawHttp2Connection.Frame((byte)type, flags, stream, payload, lengthOverride);
            sent.AddRange(frame);
            await connection.WriteRawAsync(frame);
        }

        async Task SendRequest(int stream)
        {
            await Send(FrameType.Headers, 0x04, stream, valid);
            await Send(FrameType.Data, 0x01, stream, validBody);
        }

        var streamId = 1;
        Task? background = null;
        switch (name)
        {
            case "valid request":
                await SendRequest(1);
                break;
            case "DATA on stream 0":
                await Send(FrameType.Data, 0, 0, [1, 2, 3]);
                break;
            case "HEADERS on stream 0":
                await Send(FrameType.Headers, 0x05, 0, valid);
                break;
            case "even stream id":
                await SendRequest(2);
                streamId = 2;
                break;
            case "unknown frame type then request":
                sent.AddRange(RawHttp2Connection.Frame(0xFA, 0xFF, 0, [1, 2, 3, 4]));
                await connection.WriteRawAsync(RawHttp2Connection.Frame(0xFA, 0xFF, 0, [1, 2, 3, 4]));
                await SendRequest(1);
                break;
            case "garbage HPACK block":
                var garbage = new byte[64];
                _random.NextBytes(garbage);
                await Send(FrameType.Headers, 0x05, 1, garbage);
                break;
            case "HPACK index 1000":
                await Send(FrameType.Headers, 0x05, 1, [0xFF, 0xE9, 0x07]);
                break;
            case "frame over max size":
                await Send(FrameType.Headers, 0x04, 1, valid);
                await Send(FrameType.Data, 0x01, 1, new byte[16_385]);
                break;
            case "truncated frame then EOF":
                await Send(FrameType.Headers, 0x04, 1, valid);
                sent.AddRange(RawHttp2Connection.Frame((byte)FrameType.Data, 1, 1, [0, 0], lengthOverride: 100));
                await connection.WriteRawAsync(RawHttp2Connection.Frame((byte)FrameType.Data, 1, 1, [0, 0], lengthOverride: 100));
                connection.ShutdownSend();
                break;
            case "WINDOW_UPDATE 0 on connection":
                await Send(FrameType.WindowUpdate, 0, 0, [0, 0, 0, 0]);
                break;
            case "WINDOW_UPDATE 0 on stream":
                await Send(FrameType.Headers, 0x04, 1, valid);
                await Send(FrameType.WindowUpdate, 0, 1, [0, 0, 0, 0]);
                break;
            case "SETTINGS ENABLE_PUSH 2":
                await Send(FrameType.Settings, 0, 0, [0, 2, 0, 0, 0, 2]);
                break;
            case "SETTINGS INITIAL_WINDOW_SIZE 2^31":
                await Send(FrameType.Settings, 0, 0, [0, 4, 0x80, 0, 0, 0]);
                break;
            case "SETTINGS MAX_FRAME_SIZE 1":
                await Send(FrameType.Settings, 0, 0, [0, 5, 0, 0, 0, 1]);
                break;
            case "SETTINGS length 5":
                await Send(FrameType.Settings, 0, 0, [0, 1, 0, 0, 0]);
                break;
            case "PING length 7":
                await Send(FrameType.Ping, 0, 0, [1, 2, 3, 4, 5, 6, 7]);
                break;
            case "PRIORITY self-dependency":
                await Send(FrameType.Priority, 0, 1, [0, 0, 0, 1, 16]);
                break;
            case "uppercase header name":
                await Send(FrameType.Headers, 0x05, 1, RawHttp2Connection.HeaderBlock([.. RawHttp2Connection.GrpcRequestHeaders(authority, health), new("X-Upper", "1")]));
                break;
            case "missing :path":
                var noPath = RawHttp2Connection.GrpcRequestHeaders(authority, health);
                noPath.RemoveAll(h => h.Key == ":path");
                await Send(FrameType.Headers, 0x05, 1, RawHttp2Connection.HeaderBlock(noPath));
                break;
            case "pseudo-header after regular":
                await Send(FrameType.Headers, 0x05, 1, RawHttp2Connection.HeaderBlock([.. RawHttp2Connection.GrpcRequestHeaders(authority, health), new(":status", "200")]));
                break;
            case "connection header":
                await Send(FrameType.Headers, 0x05, 1, RawHttp2Connection.HeaderBlock([.. RawHttp2Connection.GrpcRequestHeaders(authority, health), new("connection", "keep-alive")]));
                break;
            case "CONTINUATION flood":
            {
                var frames = new List<byte>(RawHttp2Connection.Frame((byte)FrameType.Headers, 0, 1, valid));
                var small = RawHttp2Connection.HeaderBlock([new("x-flood", "0123456789")]);
                for (var i = 0; i < 20_000; i++)
                {
                    frames.AddRange(RawHttp2Connection.Frame((byte)FrameType.Continuation, 0, 1, small));
                }

                sent.AddRange(frames.GetRange(0, 256));
                background = connection.WriteRawAsync([.. frames]);
                break;
            }

            case "rapid reset 300 streams":
                for (var s = 1; s < 600; s += 2)
                {
                    await Send(FrameType.Headers, 0x04, s, valid);
                    await Send(FrameType.RstStream, 0, s, [0, 0, 0, 8]);
                }

                await SendRequest(601);
                streamId = 601;
                break;
            case "200 concurrent streams":
                for (var s = 1; s < 400; s += 2)
                {
                    await Send(FrameType.Headers, 0x04, s, valid);
                }

                streamId = 0;
                break;
            case "random bytes after preface":
                var random = new byte[_random.Next(1, 2000)];
                _random.NextBytes(random);
                sent.AddRange(random);
                await connection.WriteRawAsync(random);
                connection.ShutdownSend();
                break;
            case "HTTP/1.1 request":
                var http1 = Encoding.ASCII.GetBytes($"POST {health} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0");
                sent.AddRange(http1);
                await connection.WriteRawAsync(http1);
                connection.ShutdownSend();
                break;
            case "DATA after END_STREAM":
                await SendRequest(1);
                await Send(FrameType.Data, 0x01, 1, validBody);
                break;
            case "RST_STREAM on idle stream":
                await Send(FrameType.RstStream, 0, 5, [0, 0, 0, 8]);
                streamId = 5;
                break;
            case "padding longer than payload":
                await Send(FrameType.Headers, 0x0D, 1, [200, .. valid]);
                break;
            case "64 KiB header via CONTINUATION":
            {
                var big = RawHttp2Connection.HeaderBlock([.. RawHttp2Connection.GrpcRequestHeaders(authority, health), new("x-big", new string('v', 64 * 1024))]);
                await Send(FrameType.Headers, 0, 1, big[..16_000]);
                for (var at = 16_000; at < big.Length; at += 16_000)
                {
                    var end = Math.Min(big.Length, at + 16_000);
                    await Send(FrameType.Continuation, end == big.Length ? (byte)0x04 : (byte)0, 1, big[at..end]);
                }

                break;
            }

            case "non-ASCII header values":
            {
                // Latin-1 and UTF-8 bytes in authorization, grpc-timeout, grpc-encoding and a custom key: the server
                // must answer (a status or a reset), whatever it makes of them.
                List<KeyValuePair<string, string>> headers =
                [
                    .. RawHttp2Connection.GrpcRequestHeaders(authority, "/optout.v1.Registry/GetHolder"),
                    new("authorization", "Bearer \u00ff\u00fe\u0080k\u00e9y"), new("grpc-timeout", "1\u00b5S"), new("grpc-encoding", "gz\u00efp"),
                    new("x-caf\u00e9", "\u00c3\u00a9"),
                ];
                await Send(FrameType.Headers, 0x04, 1, RawHttp2Connection.HeaderBlock(headers));
                await Send(FrameType.Data, 0x01, 1, validBody);
                break;
            }

            default:
            {
                // Mutated request: the bytes of a valid HEADERS+DATA exchange, mutated.
                var bytes = new List<byte>(RawHttp2Connection.Frame((byte)FrameType.Headers, 0x04, 1, valid));
                bytes.AddRange(RawHttp2Connection.Frame((byte)FrameType.Data, 0x01, 1, RawHttp2Connection.GrpcMessage(_generator.Message(RpcMethods.All[_random.Next(RpcMethods.All.Count)].Method.InputType))));
                var mutations = 1 + _random.Next(6);
                for (var i = 0; i < mutations; i++)
                {
                    _mutator.Mutate(bytes, []);
                }

                sent.AddRange(bytes);
                await connection.WriteRawAsync([.. bytes]);

                // A mutation may leave a frame waiting for bytes that never come: end the sending side like a client would.
                connection.ShutdownSend();
                break;
            }
        }

        var (outcome, detail) = await connection.ReadAnswerAsync(streamId, timeout);
        if (background is not null)
        {
            await Task.WhenAny(background, Task.Delay(TimeSpan.FromSeconds(5)));
        }

        // A valid request must get its response (after a rapid reset, Kestrel's CVE-2023-44487 defence may refuse it with
        // ENHANCE_YOUR_CALM or drop the connection instead); anything else must get a response, a reset, GOAWAY or a close, never silence.
        var ok = name is "valid request" or "unknown frame type then request" or "rapid reset 300 streams"
            ? outcome is RawOutcome.Headers || (name == "rapid reset 300 streams" && outcome is RawOutcome.GoAway or RawOutcome.Closed or RawOutcome.Reset)
            : outcome != RawOutcome.Timeout;
        return (name, outcome, detail, [.. sent.Take(4096)], ok);
    }

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();
}
