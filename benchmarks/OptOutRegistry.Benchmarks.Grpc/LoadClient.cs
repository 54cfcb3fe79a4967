using System.Buffers.Binary;
using Google.Protobuf;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Benchmarks.Grpc;

/// <summary>The load runs' request message, and the request bodies for h2load.</summary>
public static class LoadClient
{
    public static EchoRequest SmallRequest() => new() { Message = "https://example.com/gallery/photo-001.jpg" };

    /// <summary>Writes unary.bin (one framed EchoRequest) and bidi.bin (100 framed EchoRequests) for h2load -d.</summary>
    public static void WriteBodies(string directory)
    {
        Directory.CreateDirectory(directory);
        var body = SmallRequest().ToByteArray();
        var framed = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)body.Length);
        body.CopyTo(framed, 5);
        File.WriteAllBytes(Path.Combine(directory, "unary.bin"), framed);
        File.WriteAllBytes(Path.Combine(directory, "bidi.bin"), Enumerable.Repeat(framed, 100).SelectMany(b => b).ToArray());
        Console.WriteLine($"wrote {directory}/unary.bin ({framed.Length} bytes) and bidi.bin ({framed.Length * 100} bytes)");
    }
}
