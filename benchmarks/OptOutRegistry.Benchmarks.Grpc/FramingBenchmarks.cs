using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using OptOutRegistry.Grpc.Internal;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>
/// Framing of one message over an in-memory pipe, the work the server does per message outside Kestrel:
/// write (prefix + serialize into the pipe's memory), read (prefix check + parse from the sequence).
/// </summary>
[MemoryDiagnoser]
public class FramingBenchmarks
{
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private EchoRequest _message = null!;
    private byte[] _framed = null!;
    private byte[] _framedPacked = null!;
    private static readonly MessageParser<EchoRequest> s_parser = EchoRequest.Parser;

    [Params(32, 1024)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _message = new EchoRequest { Message = "https://example.com/a/b.jpg", Payload = ByteString.CopyFrom(new byte[PayloadSize]) };
        var writer = new ArrayBufferWriter<byte>();
        MessageFraming.WriteMessage(writer, _message, null, gzip: false);
        _framed = writer.WrittenSpan.ToArray();
        _framedPacked = Enumerable.Repeat(_framed, 16).SelectMany(b => b).ToArray();
    }

    [Benchmark(Description = "write 1 message into a pipe")]
    public void WriteMessage()
    {
        MessageFraming.WriteMessage(_pipe.Writer, _message, null, gzip: false);
        _pipe.Writer.FlushAsync().GetAwaiter().GetResult();
        var result = _pipe.Reader.ReadAsync().GetAwaiter().GetResult();
        _pipe.Reader.AdvanceTo(result.Buffer.End);
    }

    [Benchmark(Description = "read+parse 1 message from a pipe")]
    public EchoRequest ReadMessage()
    {
        _pipe.Writer.Write(_framed);
        _pipe.Writer.FlushAsync().GetAwaiter().GetResult();
        var result = _pipe.Reader.ReadAsync().GetAwaiter().GetResult();
        var buffer = result.Buffer;
        MessageFraming.TryReadMessage(ref buffer, int.MaxValue, out var compressed, out var payload);
        var message = MessageFraming.Deserialize(s_parser, payload, compressed, null, int.MaxValue, "request");
        _pipe.Reader.AdvanceTo(buffer.Start);
        return message;
    }

    [Benchmark(Description = "read+parse 16 messages packed in one segment (per call)", OperationsPerInvoke = 16)]
    public int ReadPackedMessages()
    {
        _pipe.Writer.Write(_framedPacked);
        _pipe.Writer.FlushAsync().GetAwaiter().GetResult();
        var result = _pipe.Reader.ReadAsync().GetAwaiter().GetResult();
        var buffer = result.Buffer;
        var n = 0;
        while (MessageFraming.TryReadMessage(ref buffer, int.MaxValue, out var compressed, out var payload))
        {
            n += MessageFraming.Deserialize(s_parser, payload, compressed, null, int.MaxValue, "request").Message.Length;
        }
        _pipe.Reader.AdvanceTo(buffer.Start);
        return n;
    }

    [Benchmark(Description = "prefix only: TryReadHeader")]
    public uint ReadHeaderOnly()
    {
        var sequence = new ReadOnlySequence<byte>(_framed);
        MessageFraming.TryReadHeader(sequence, out _, out var length);
        return length;
    }
}
