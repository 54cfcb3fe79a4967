namespace OptOutRegistry.Server;

/// <summary>Defaults a new user gets with no configuration at all.</summary>
public static class ServerDefaults
{
    /// <summary>gRPC addresses (cleartext HTTP/2 with prior knowledge). 50051 is the conventional gRPC port.</summary>
    public const string GrpcUrls = "http://localhost:50051";

    /// <summary>HTTP/1.1 addresses of the JSON and Spawning-compatible gateways (cleartext h2c cannot share a port with HTTP/1.1).</summary>
    public const string HttpUrls = "http://localhost:50052";

    /// <summary>The data directory: database, signing key, admin key.</summary>
    public const string DataDirectory = "./data";

    /// <summary>
    /// Seconds a request stream may go without a message before the server ends it with UNAVAILABLE (0: never).
    /// Five minutes, as Envoy's default stream idle timeout: long enough for a crawler's pauses, short enough that
    /// abandoned streams do not pin server resources for ever.
    /// </summary>
    public const int StreamIdleTimeoutSeconds = 300;
}
