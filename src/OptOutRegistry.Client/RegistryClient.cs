using System.Runtime.CompilerServices;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client;

/// <summary>
/// Typed client of the <c>optout.v1.Registry</c> service (protos/optout/v1/registry.proto) over <see cref="GrpcChannel"/>.
/// Every call sends <c>authorization: Bearer KEY</c> when a key is set. Errors surface as <see cref="RpcException"/>
/// with the server's status (INVALID_ARGUMENT names the field).
/// </summary>
public sealed class RegistryClient : IDisposable
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_service = Pb.RegistryReflection.Descriptor.Services[0];
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor s_feed = Pb.FeedReflection.Descriptor.Services[0];
    private static readonly Method<Pb.CreateHolderRequest, Pb.CreateHolderResponse> s_createHolder = Method<Pb.CreateHolderRequest, Pb.CreateHolderResponse>.Create(s_service, "CreateHolder");
    private static readonly Method<Pb.GetHolderRequest, Pb.Holder> s_getHolder = Method<Pb.GetHolderRequest, Pb.Holder>.Create(s_service, "GetHolder");
    private static readonly Method<Pb.CreateApiKeyRequest, Pb.CreateApiKeyResponse> s_createApiKey = Method<Pb.CreateApiKeyRequest, Pb.CreateApiKeyResponse>.Create(s_service, "CreateApiKey");
    private static readonly Method<Pb.ListApiKeysRequest, Pb.ListApiKeysResponse> s_listApiKeys = Method<Pb.ListApiKeysRequest, Pb.ListApiKeysResponse>.Create(s_service, "ListApiKeys");
    private static readonly Method<Pb.RevokeApiKeyRequest, Pb.RevokeApiKeyResponse> s_revokeApiKey = Method<Pb.RevokeApiKeyRequest, Pb.RevokeApiKeyResponse>.Create(s_service, "RevokeApiKey");
    private static readonly Method<Pb.StartHostVerificationRequest, Pb.StartHostVerificationResponse> s_startVerification = Method<Pb.StartHostVerificationRequest, Pb.StartHostVerificationResponse>.Create(s_service, "StartHostVerification");
    private static readonly Method<Pb.CompleteHostVerificationRequest, Pb.CompleteHostVerificationResponse> s_completeVerification = Method<Pb.CompleteHostVerificationRequest, Pb.CompleteHostVerificationResponse>.Create(s_service, "CompleteHostVerification");
    private static readonly Method<Pb.RecordVerifiedHostRequest, Pb.CompleteHostVerificationResponse> s_recordVerifiedHost = Method<Pb.RecordVerifiedHostRequest, Pb.CompleteHostVerificationResponse>.Create(s_service, "RecordVerifiedHost");
    private static readonly Method<Pb.ListVerifiedHostsRequest, Pb.ListVerifiedHostsResponse> s_listVerifiedHosts = Method<Pb.ListVerifiedHostsRequest, Pb.ListVerifiedHostsResponse>.Create(s_service, "ListVerifiedHosts");
    private static readonly Method<Pb.CreateReservationRequest, Pb.ReservationResponse> s_createReservation = Method<Pb.CreateReservationRequest, Pb.ReservationResponse>.Create(s_service, "CreateReservation");
    private static readonly Method<Pb.AmendReservationRequest, Pb.ReservationResponse> s_amendReservation = Method<Pb.AmendReservationRequest, Pb.ReservationResponse>.Create(s_service, "AmendReservation");
    private static readonly Method<Pb.RevokeReservationRequest, Pb.ReservationResponse> s_revokeReservation = Method<Pb.RevokeReservationRequest, Pb.ReservationResponse>.Create(s_service, "RevokeReservation");
    private static readonly Method<Pb.GetReservationRequest, Pb.Reservation> s_getReservation = Method<Pb.GetReservationRequest, Pb.Reservation>.Create(s_service, "GetReservation");
    private static readonly Method<Pb.ListReservationsRequest, Pb.ListReservationsResponse> s_listReservations = Method<Pb.ListReservationsRequest, Pb.ListReservationsResponse>.Create(s_service, "ListReservations");
    private static readonly Method<Pb.SearchWorksRequest, Pb.SearchWorksResponse> s_searchWorks = Method<Pb.SearchWorksRequest, Pb.SearchWorksResponse>.Create(s_service, "SearchWorks");
    private static readonly Method<Pb.GetReservationHistoryRequest, Pb.GetReservationHistoryResponse> s_history = Method<Pb.GetReservationHistoryRequest, Pb.GetReservationHistoryResponse>.Create(s_service, "GetReservationHistory");
    private static readonly Method<Pb.GetReceiptRequest, Pb.Receipt> s_getReceipt = Method<Pb.GetReceiptRequest, Pb.Receipt>.Create(s_service, "GetReceipt");
    private static readonly Method<Pb.ImportReservationsRequest, Pb.ImportReservationsResponse> s_import = Method<Pb.ImportReservationsRequest, Pb.ImportReservationsResponse>.Create(s_service, "ImportReservations");
    private static readonly Method<Pb.GetPublicKeyRequest, Pb.PublicKey> s_getPublicKey = Method<Pb.GetPublicKeyRequest, Pb.PublicKey>.Create(s_feed, "GetPublicKey");

    private readonly GrpcChannel _channel;
    private readonly bool _ownsChannel;
    private readonly string? _apiKey;

    /// <summary>A client over an existing channel (not disposed with the client).</summary>
    public RegistryClient(GrpcChannel channel, string? apiKey = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _channel = channel;
        _apiKey = string.IsNullOrEmpty(apiKey) ? null : apiKey;
    }

    private RegistryClient(GrpcChannel channel, string? apiKey, bool ownsChannel)
        : this(channel, apiKey) => _ownsChannel = ownsChannel;

    /// <summary>A client with its own channel to <paramref name="address"/> (e.g. <c>http://localhost:50051</c>).</summary>
    public static RegistryClient Create(string address, string? apiKey = null) => new(GrpcChannel.ForAddress(address), apiKey, ownsChannel: true);

    /// <summary>A client for the same server with another key (shares the channel).</summary>
    public RegistryClient WithKey(string? apiKey) => new(_channel, apiKey);

    /// <summary>CreateHolder: a new holder account and its first API key (shown once).</summary>
    public Task<Pb.CreateHolderResponse> CreateHolderAsync(Pb.CreateHolderRequest request, CancellationToken cancellationToken = default) => Unary(s_createHolder, request, cancellationToken);

    /// <summary>GetHolder: the caller's account (empty id) or, with the admin key, any.</summary>
    public Task<Pb.Holder> GetHolderAsync(string? holderId = null, CancellationToken cancellationToken = default) =>
        Unary(s_getHolder, new Pb.GetHolderRequest { HolderId = holderId ?? string.Empty }, cancellationToken);

    /// <summary>CreateApiKey.</summary>
    public Task<Pb.CreateApiKeyResponse> CreateApiKeyAsync(string? label = null, CancellationToken cancellationToken = default) =>
        Unary(s_createApiKey, new Pb.CreateApiKeyRequest { Label = label ?? string.Empty }, cancellationToken);

    /// <summary>ListApiKeys.</summary>
    public Task<Pb.ListApiKeysResponse> ListApiKeysAsync(CancellationToken cancellationToken = default) => Unary(s_listApiKeys, new Pb.ListApiKeysRequest(), cancellationToken);

    /// <summary>ListApiKeys of another holder (admin key only; null or empty: the caller's own).</summary>
    public Task<Pb.ListApiKeysResponse> ListApiKeysAsync(string? holderId, CancellationToken cancellationToken = default) =>
        Unary(s_listApiKeys, new Pb.ListApiKeysRequest { HolderId = holderId ?? string.Empty }, cancellationToken);

    /// <summary>RevokeApiKey.</summary>
    public Task<Pb.RevokeApiKeyResponse> RevokeApiKeyAsync(string keyId, CancellationToken cancellationToken = default) =>
        Unary(s_revokeApiKey, new Pb.RevokeApiKeyRequest { KeyId = keyId }, cancellationToken);

    /// <summary>RevokeApiKey of another holder's key (admin key only; null or empty: the caller's own).</summary>
    public Task<Pb.RevokeApiKeyResponse> RevokeApiKeyAsync(string keyId, string? holderId, CancellationToken cancellationToken = default) =>
        Unary(s_revokeApiKey, new Pb.RevokeApiKeyRequest { KeyId = keyId, HolderId = holderId ?? string.Empty }, cancellationToken);

    /// <summary>StartHostVerification: the token to publish.</summary>
    public Task<Pb.StartHostVerificationResponse> StartHostVerificationAsync(string host, CancellationToken cancellationToken = default) =>
        Unary(s_startVerification, new Pb.StartHostVerificationRequest { Host = host }, cancellationToken);

    /// <summary>CompleteHostVerification.</summary>
    public Task<Pb.CompleteHostVerificationResponse> CompleteHostVerificationAsync(string host, Pb.VerificationMethod method = Pb.VerificationMethod.Unspecified,
        CancellationToken cancellationToken = default) =>
        Unary(s_completeVerification, new Pb.CompleteHostVerificationRequest { Host = host, Method = method }, cancellationToken);

    /// <summary>RecordVerifiedHost (admin key).</summary>
    public Task<Pb.CompleteHostVerificationResponse> RecordVerifiedHostAsync(string holderId, string host, string? note = null, CancellationToken cancellationToken = default) =>
        Unary(s_recordVerifiedHost, new Pb.RecordVerifiedHostRequest { HolderId = holderId, Host = host, Note = note ?? string.Empty }, cancellationToken);

    /// <summary>ListVerifiedHosts.</summary>
    public Task<Pb.ListVerifiedHostsResponse> ListVerifiedHostsAsync(string? holderId = null, CancellationToken cancellationToken = default) =>
        Unary(s_listVerifiedHosts, new Pb.ListVerifiedHostsRequest { HolderId = holderId ?? string.Empty }, cancellationToken);

    /// <summary>CreateReservation.</summary>
    public Task<Pb.ReservationResponse> CreateReservationAsync(Pb.ReservationSpec spec, string? idempotencyKey = null, CancellationToken cancellationToken = default) =>
        Unary(s_createReservation, new Pb.CreateReservationRequest { Spec = spec, IdempotencyKey = idempotencyKey ?? string.Empty }, cancellationToken);

    /// <summary>AmendReservation.</summary>
    public Task<Pb.ReservationResponse> AmendReservationAsync(string reservationId, Pb.ReservationSpec spec, CancellationToken cancellationToken = default) =>
        Unary(s_amendReservation, new Pb.AmendReservationRequest { ReservationId = reservationId, Spec = spec }, cancellationToken);

    /// <summary>RevokeReservation.</summary>
    public Task<Pb.ReservationResponse> RevokeReservationAsync(string reservationId, string? reason = null, CancellationToken cancellationToken = default) =>
        Unary(s_revokeReservation, new Pb.RevokeReservationRequest { ReservationId = reservationId, Reason = reason ?? string.Empty }, cancellationToken);

    /// <summary>GetReservation.</summary>
    public Task<Pb.Reservation> GetReservationAsync(string reservationId, CancellationToken cancellationToken = default) =>
        Unary(s_getReservation, new Pb.GetReservationRequest { ReservationId = reservationId }, cancellationToken);

    /// <summary>ListReservations (one page).</summary>
    public Task<Pb.ListReservationsResponse> ListReservationsAsync(int pageSize = 0, string? pageToken = null, string? holderId = null, CancellationToken cancellationToken = default) =>
        Unary(s_listReservations, new Pb.ListReservationsRequest { PageSize = pageSize, PageToken = pageToken ?? string.Empty, HolderId = holderId ?? string.Empty }, cancellationToken);

    /// <summary>SearchWorks.</summary>
    public Task<Pb.SearchWorksResponse> SearchWorksAsync(string query, int limit = 0, CancellationToken cancellationToken = default) =>
        Unary(s_searchWorks, new Pb.SearchWorksRequest { Query = query, Limit = limit }, cancellationToken);

    /// <summary>GetReservationHistory.</summary>
    public Task<Pb.GetReservationHistoryResponse> GetReservationHistoryAsync(string reservationId, CancellationToken cancellationToken = default) =>
        Unary(s_history, new Pb.GetReservationHistoryRequest { ReservationId = reservationId }, cancellationToken);

    /// <summary>GetReceipt: a fresh receipt for the event at <paramref name="sequence"/>.</summary>
    public Task<Pb.Receipt> GetReceiptAsync(long sequence, CancellationToken cancellationToken = default) =>
        Unary(s_getReceipt, new Pb.GetReceiptRequest { Sequence = sequence }, cancellationToken);

    /// <summary>The registry's signing public key (Feed.GetPublicKey).</summary>
    public Task<Pb.PublicKey> GetPublicKeyAsync(CancellationToken cancellationToken = default) => Unary(s_getPublicKey, new Pb.GetPublicKeyRequest(), cancellationToken);

    /// <summary>
    /// ImportReservations: streams <paramref name="items"/> and yields one result per item, in order, while sending.
    /// </summary>
    public async IAsyncEnumerable<Pb.ImportReservationsResponse> ImportAsync(IAsyncEnumerable<Pb.ImportReservationsRequest> items,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var call = _channel.DuplexStreaming(s_import, Options(cancellationToken));
        var send = SendAllAsync(call.RequestStream, items, cancellationToken);
        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return call.ResponseStream.Current;
        }

        await send.ConfigureAwait(false);
    }

    private static async Task SendAllAsync(IClientStreamWriter<Pb.ImportReservationsRequest> writer, IAsyncEnumerable<Pb.ImportReservationsRequest> items, CancellationToken cancellationToken)
    {
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            await writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        }

        await writer.CompleteAsync().ConfigureAwait(false);
    }

    private Task<TResponse> Unary<TRequest, TResponse>(Method<TRequest, TResponse> method, TRequest request, CancellationToken cancellationToken)
        where TRequest : class, Google.Protobuf.IMessage<TRequest>, new()
        where TResponse : class, Google.Protobuf.IMessage<TResponse>, new() =>
        _channel.UnaryAsync(method, request, Options(cancellationToken));

    private CallOptions Options(CancellationToken cancellationToken)
    {
        if (_apiKey is null)
        {
            return new CallOptions(CancellationToken: cancellationToken);
        }

        var headers = new Metadata { { "authorization", "Bearer " + _apiKey } };
        return new CallOptions(headers, null, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsChannel)
        {
            _channel.Dispose();
        }
    }
}
