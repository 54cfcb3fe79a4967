using System.Runtime.CompilerServices;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Checking;

/// <summary>
/// What <see cref="CheckClient"/> reads a <c>CheckBatch</c> response into: a <see cref="Pb.CheckBatchResponse"/> parsed
/// field by field as the generated parser does (same fields, unknown fields kept, end-group tags end the message), but
/// each result is created and read directly instead of through <c>RepeatedField.AddEntriesFrom</c> and the codec's
/// factory and read delegates.
/// </summary>
internal sealed class CheckBatchResponseReader : IMessage<CheckBatchResponseReader>, IBufferMessage
{
    // Field tags of optout.v1.CheckBatchResponse (check.proto): (field << 3) | wire type.
    private const uint ResultsTag = (1 << 3) | 2;
    private const uint AsOfSequenceTag = 2 << 3;
    private const uint RequestIdTag = (3 << 3) | 2;

    /// <summary>The response read.</summary>
    public Pb.CheckBatchResponse Response { get; } = new();

    /// <inheritdoc />
    public MessageDescriptor Descriptor => Pb.CheckBatchResponse.Descriptor;

    /// <inheritdoc />
    void IBufferMessage.InternalMergeFrom(ref ParseContext input)
    {
        var response = Response;
        var results = response.Results;
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if ((tag & 7) == 4)
            {
                // An end-group tag ends the message, as in the generated parser.
                return;
            }

            switch (tag)
            {
                case ResultsTag:
                    var result = new Pb.CheckResult();
                    input.ReadMessage(result);
                    results.Add(result);
                    break;
                case AsOfSequenceTag:
                    response.AsOfSequence = input.ReadInt64();
                    break;
                case RequestIdTag:
                    response.RequestId = input.ReadString();
                    break;
                default:
                    ref var unknown = ref UnknownFields(response);
                    unknown = UnknownFieldSet.MergeFieldFrom(unknown, ref input);
                    break;
            }
        }
    }

    /// <inheritdoc />
    void IBufferMessage.InternalWriteTo(ref WriteContext output) => ((IBufferMessage)Response).InternalWriteTo(ref output);

    /// <inheritdoc />
    public int CalculateSize() => Response.CalculateSize();

    /// <inheritdoc />
    public void WriteTo(CodedOutputStream output) => output.WriteRawMessage(this);

    /// <inheritdoc />
    public void MergeFrom(CheckBatchResponseReader message) => Response.MergeFrom(message.Response);

    /// <inheritdoc />
    public void MergeFrom(CodedInputStream input) => input.ReadRawMessage(this);

    /// <inheritdoc />
    public CheckBatchResponseReader Clone()
    {
        var clone = new CheckBatchResponseReader();
        clone.Response.MergeFrom(Response);
        return clone;
    }

    /// <inheritdoc />
    public bool Equals(CheckBatchResponseReader? other) => other is not null && Response.Equals(other.Response);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as CheckBatchResponseReader);

    /// <inheritdoc />
    public override int GetHashCode() => Response.GetHashCode();

    /// <inheritdoc />
    public override string ToString() => Response.ToString();

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(Pb.CheckBatchResponse response);
}
