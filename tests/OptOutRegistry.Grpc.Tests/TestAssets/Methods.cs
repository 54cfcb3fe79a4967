using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>Client-side method definitions of the interop test service, validated against its descriptor.</summary>
public static class Methods
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_service = InteropTestReflection.Descriptor.Services[0];

    public static readonly Method<EchoRequest, EchoResponse> UnaryEcho = Method<EchoRequest, EchoResponse>.Create(s_service, "UnaryEcho");
    public static readonly Method<StreamRequest, EchoResponse> ServerStream = Method<StreamRequest, EchoResponse>.Create(s_service, "ServerStream");
    public static readonly Method<EchoRequest, Summary> ClientStream = Method<EchoRequest, Summary>.Create(s_service, "ClientStream");
    public static readonly Method<EchoRequest, EchoResponse> Bidi = Method<EchoRequest, EchoResponse>.Create(s_service, "Bidi");
    public static readonly Method<SleepRequest, EchoResponse> Sleep = Method<SleepRequest, EchoResponse>.Create(s_service, "Sleep");
    public static readonly Method<FailRequest, EchoResponse> Fail = Method<FailRequest, EchoResponse>.Create(s_service, "Fail");
    public static readonly Method<EchoRequest, EchoResponse> Throw = Method<EchoRequest, EchoResponse>.Create(s_service, "Throw");
    public static readonly Method<EchoRequest, MetadataResponse> EchoMetadata = Method<EchoRequest, MetadataResponse>.Create(s_service, "EchoMetadata");
    public static readonly Method<OutcomeQuery, OutcomeResult> SleepOutcome = Method<OutcomeQuery, OutcomeResult>.Create(s_service, "SleepOutcome");
    public static readonly Method<EchoRequest, EchoResponse> NotBound = Method<EchoRequest, EchoResponse>.Create(s_service, "NotBound");
    public static readonly Method<EchoRequest, EchoResponse> UnknownService = Method<EchoRequest, EchoResponse>.Create("optout.interop.v1.NoSuchService", "UnaryEcho", MethodType.Unary);
    public static readonly Method<EchoRequest, EchoResponse> UnknownMethod = Method<EchoRequest, EchoResponse>.Create("optout.interop.v1.InteropTest", "NoSuchMethod", MethodType.Unary);
}
