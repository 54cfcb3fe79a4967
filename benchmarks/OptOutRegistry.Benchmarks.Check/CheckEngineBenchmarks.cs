using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Server.Check;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Benchmarks.Check;

/// <summary>
/// The check engine without the transport: one 1,000-URL CheckBatch against 100,000 url selectors, 50% covered,
/// stage by stage — what the server spends per batch (and allocates) on parsing the request message, answering it,
/// and writing the response message, and what the client spends parsing the answer. HTTP/2 framing is not included.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class CheckEngineBenchmarks
{
    private CheckEngine _engine = null!;
    private Pb.CheckBatchRequest _request = null!;
    private byte[] _requestBytes = null!;
    private byte[] _responseBytes = null!;
    private Pb.CheckBatchResponse _response = null!;
    private byte[] _writeBuffer = null!;
    private readonly System.Buffers.ArrayBufferWriter<byte> _fastOutput = new(64 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        var mirror = new RegistryMirror();
        var at = DateTimeOffset.UtcNow.AddDays(-1);
        for (var r = 0; r < 100; r++)
        {
            var reservation = new Pb.Reservation
            {
                Id = "rsv_" + r,
                HolderId = "hld_bench",
                RegisteredAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(at),
                State = Pb.ReservationState.Active,
            };
            reservation.Statements.Add(new Pb.UsageStatement { Category = Pb.UsageCategory.TrainAi, Permission = Pb.Permission.Disallow });
            for (var i = r * 1000; i < (r + 1) * 1000; i++)
            {
                reservation.Selectors.Add(new Pb.Selector { Url = Seed.Covered(i) });
            }

            mirror.Apply(new Pb.Event { Sequence = r, ReservationCreated = reservation });
        }

        _engine = new CheckEngine(mirror);
        _request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi };
        var random = new Random(7);
        for (var i = 0; i < 1000; i++)
        {
            var n = random.Next(100_000);
            _request.Subjects.Add(new Pb.Subject { Url = (i & 1) == 0 ? Seed.Covered(n) : Seed.Uncovered(n) });
        }
    }

    [GlobalSetup(Targets = [nameof(ParseRequest), nameof(WriteResponse), nameof(ClientParseResponse), nameof(FastPath)])]
    public void SetupMessages()
    {
        Setup();
        _requestBytes = _request.ToByteArray();
        _response = _engine.CheckBatch(_request);
        _responseBytes = _response.ToByteArray();
        _writeBuffer = new byte[_responseBytes.Length];
    }

    [Benchmark(Description = "server: parse a 1,000-URL CheckBatchRequest (Google.Protobuf)")]
    public int ParseRequest() => Pb.CheckBatchRequest.Parser.ParseFrom(_requestBytes).Subjects.Count;

    [Benchmark(Description = "server: write the 1,000-result CheckBatchResponse")]
    public int WriteResponse()
    {
        _response.WriteTo(_writeBuffer.AsSpan());
        return _writeBuffer.Length;
    }

    [Benchmark(Description = "server: fast path, read + answer + write 1,000 URLs (CheckBatchFastPath)")]
    public int FastPath()
    {
        using var answer = new CheckBatchAnswer();
        CheckBatchWire.TryRead(new System.Buffers.ReadOnlySequence<byte>(_requestBytes), answer);
        CheckBatchFastPath.Answer(_engine, answer);
        _fastOutput.ResetWrittenCount();
        answer.WriteTo(_fastOutput);
        return _fastOutput.WrittenCount;
    }

    [Benchmark(Description = "client: parse the 1,000-result CheckBatchResponse")]
    public int ClientParseResponse() => Pb.CheckBatchResponse.Parser.ParseFrom(_responseBytes).Results.Count;

    [Benchmark(Description = "CheckBatch 1,000 URLs (engine only)")]
    public int CheckBatch1000() => _engine.CheckBatch(_request).Results.Count;

    [Benchmark(Description = "1,000 URLs through the matcher fast path")]
    public int MatcherOnly()
    {
        var matcher = _engine.Mirror.Matcher;
        var n = 0;
        foreach (var s in _request.Subjects)
        {
            n += matcher.CheckUrl(s.Url, UsageCategory.TrainAi) == Verdict.Disallowed ? 1 : 0;
        }

        return n;
    }
}
