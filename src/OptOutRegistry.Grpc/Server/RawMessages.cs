using System.Buffers;

namespace OptOutRegistry.Grpc;

/// <summary>
/// A response message that serialises itself straight into the output, without building the generated message object:
/// what a method's fast path (<see cref="RawUnaryServerMethod"/>) answers with. It must write exactly the protobuf
/// encoding of one message of the method's response type, <see cref="CalculateSize"/> bytes (the gRPC length prefix is
/// written by the transport). Disposed once written or abandoned, so it may hold pooled buffers.
/// </summary>
public interface IRawMessage : IDisposable
{
    /// <summary>The size of the serialised message in bytes.</summary>
    int CalculateSize();

    /// <summary>Writes the serialised message, exactly <see cref="CalculateSize"/> bytes.</summary>
    void WriteTo(IBufferWriter<byte> output);
}

/// <summary>
/// The fast path of a method over the serialised bytes of one request message, for hot methods whose generated parser
/// costs more than their work (one object and one string per item of a large repeated field). Return false to decline
/// — the request is then parsed by the generated parser and given to the method's typed handler — so the fast path need
/// only understand the common shape of the message. <paramref name="request"/> is valid only until the method returns:
/// copy what the answer needs. Exceptions are the call's status, as from a typed handler.
/// </summary>
/// <param name="request">The message bytes (uncompressed, without the gRPC prefix).</param>
/// <param name="context">The call.</param>
/// <param name="response">On true: the answer, possibly still being computed.</param>
public delegate bool RawUnaryServerMethod(in ReadOnlySequence<byte> request, ServerCallContext context, out ValueTask<IRawMessage> response);
