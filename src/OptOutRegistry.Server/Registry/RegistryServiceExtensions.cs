using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Registry;

/// <summary>Registers and maps the Registry service (one line each in ServerHost).</summary>
public static class RegistryServiceExtensions
{
    /// <summary>
    /// Adds the store (<see cref="OptOutRegistry.Server.Storage.RegistryStoreExtensions.AddRegistryStore"/>), authentication
    /// (<see cref="CallerResolver"/>, <see cref="AdminKey"/>) and the Registry service with its options.
    /// </summary>
    public static IServiceCollection AddRegistry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddRegistryStoreOnce(configuration);
        services.AddSingleton(RegistryOptions.FromConfiguration(configuration));
        services.AddSingleton(sp => AdminKey.Load(sp.GetRequiredService<ServerPaths>().DataDirectory, Environment.GetEnvironmentVariable(AdminKey.EnvironmentVariable)));
        services.AddSingleton<CallerResolver>();
        services.AddSingleton<ReceiptIssuer>();
        services.AddSingleton<HostVerifier>();
        services.AddSingleton<RegistryService>();
        return services;
    }

    private static void AddRegistryStoreOnce(this IServiceCollection services, IConfiguration configuration)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(OptOutRegistry.Storage.IRegistryStore))
            {
                return;
            }
        }

        Server.Storage.RegistryStoreExtensions.AddRegistryStore(services, configuration);
    }

    /// <summary>Maps every method of <c>optout.v1.Registry</c>.</summary>
    public static IEndpointConventionBuilder MapRegistry(this IEndpointRouteBuilder endpoints)
    {
        var service = endpoints.ServiceProvider.GetRequiredService<RegistryService>();
        // Resolve the admin key at start, so a bad key file stops the server now rather than at the first call.
        _ = endpoints.ServiceProvider.GetRequiredService<AdminKey>();
        return endpoints.MapGrpcService(Pb.RegistryReflection.Descriptor.Services[0], binder => binder
            .Unary<Pb.CreateHolderRequest, Pb.CreateHolderResponse>("CreateHolder", service.CreateHolder)
            .Unary<Pb.GetHolderRequest, Pb.Holder>("GetHolder", service.GetHolder)
            .Unary<Pb.CreateApiKeyRequest, Pb.CreateApiKeyResponse>("CreateApiKey", service.CreateApiKey)
            .Unary<Pb.ListApiKeysRequest, Pb.ListApiKeysResponse>("ListApiKeys", service.ListApiKeys)
            .Unary<Pb.RevokeApiKeyRequest, Pb.RevokeApiKeyResponse>("RevokeApiKey", service.RevokeApiKey)
            .Unary<Pb.StartHostVerificationRequest, Pb.StartHostVerificationResponse>("StartHostVerification", service.StartHostVerification)
            .Unary<Pb.CompleteHostVerificationRequest, Pb.CompleteHostVerificationResponse>("CompleteHostVerification", service.CompleteHostVerification)
            .Unary<Pb.RecordVerifiedHostRequest, Pb.CompleteHostVerificationResponse>("RecordVerifiedHost", service.RecordVerifiedHost)
            .Unary<Pb.ListVerifiedHostsRequest, Pb.ListVerifiedHostsResponse>("ListVerifiedHosts", service.ListVerifiedHosts)
            .Unary<Pb.CreateReservationRequest, Pb.ReservationResponse>("CreateReservation", service.CreateReservation)
            .Unary<Pb.AmendReservationRequest, Pb.ReservationResponse>("AmendReservation", service.AmendReservation)
            .Unary<Pb.RevokeReservationRequest, Pb.ReservationResponse>("RevokeReservation", service.RevokeReservation)
            .Unary<Pb.GetReservationRequest, Pb.Reservation>("GetReservation", service.GetReservation)
            .Unary<Pb.ListReservationsRequest, Pb.ListReservationsResponse>("ListReservations", service.ListReservations)
            .Unary<Pb.SearchWorksRequest, Pb.SearchWorksResponse>("SearchWorks", service.SearchWorks)
            .Unary<Pb.GetReservationHistoryRequest, Pb.GetReservationHistoryResponse>("GetReservationHistory", service.GetReservationHistory)
            .Unary<Pb.GetReceiptRequest, Pb.Receipt>("GetReceipt", service.GetReceipt)
            .DuplexStreaming<Pb.ImportReservationsRequest, Pb.ImportReservationsResponse>("ImportReservations", service.ImportReservations));
    }
}
