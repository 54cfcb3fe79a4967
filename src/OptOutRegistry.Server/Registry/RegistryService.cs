using System.Security.Cryptography;
using Google.Protobuf;
using OptOutRegistry.Core.Domains;
using OptOutRegistry.Core.Identifiers;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Auth;
using OptOutRegistry.Server.Mapping;
using OptOutRegistry.Storage;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Server.Registry;

/// <summary>
/// The <c>optout.v1.Registry</c> service (protos/optout/v1/registry.proto, issue 6): holder accounts and keys, host
/// verification, reservations with receipts, search, history and bulk import. Authorisation (issue 6 item 2): a holder
/// reads and changes only its own data; another holder's data and data that does not exist get the same
/// PERMISSION_DENIED answer, so nothing is learnt about what exists; the admin key may do everything.
/// </summary>
public sealed partial class RegistryService
{
    /// <summary>Longest idempotency key.</summary>
    public const int MaxIdempotencyKeyLength = 200;

    private const int MaxDisplayNameLength = 200;
    private const int MaxContactLength = 254;
    private const int MaxLabelLength = 100;
    private const int MaxNoteLength = 500;
    private const int MaxReasonLength = 500;
    private const int MaxQueryLength = 500;

    private readonly IRegistryStore _store;
    private readonly CallerResolver _callers;
    private readonly ReceiptIssuer _receipts;
    private readonly HostVerifier _verifier;
    private readonly RegistryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<RegistryService> _log;

    /// <summary>Creates the service.</summary>
    public RegistryService(IRegistryStore store, CallerResolver callers, ReceiptIssuer receipts, HostVerifier verifier,
        RegistryOptions options, ILogger<RegistryService> log, TimeProvider? time = null)
    {
        _store = store;
        _callers = callers;
        _receipts = receipts;
        _verifier = verifier;
        _options = options;
        _log = log;
        _time = time ?? TimeProvider.System;
    }

    private DateTimeOffset Now() => ReservationSpecValidator.TruncateToMicroseconds(_time.GetUtcNow());

    // ---------------------------------------------------------------- holders and keys

    /// <summary>CreateHolder.</summary>
    public Task<Pb.CreateHolderResponse> CreateHolder(Pb.CreateHolderRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await _callers.ResolveAsync(context).ConfigureAwait(false);
        if (!_options.OpenSignup && !caller.IsAdmin)
        {
            throw caller.Kind == CallerKind.Anonymous
                ? new RpcException(new Status(StatusCode.Unauthenticated, "This registry creates holder accounts with the operator's admin key only."))
                : new RpcException(new Status(StatusCode.PermissionDenied, "This registry creates holder accounts with the operator's admin key only."));
        }

        var name = (request.DisplayName ?? string.Empty).Trim();
        if (name.Length == 0)
        {
            throw new ModelValidationException("display_name", "is required");
        }

        ReservationSpecValidator.CheckText(name, "display_name", MaxDisplayNameLength);
        var email = (request.ContactEmail ?? string.Empty).Trim();
        if (email.Length == 0)
        {
            throw new ModelValidationException("contact_email", "is required (it stays private: only the holder and the operator see it)");
        }

        ReservationSpecValidator.CheckText(email, "contact_email", MaxContactLength);
        var at = email.IndexOf('@');
        if (at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1 || email.Contains(' ') || !email[(at + 1)..].Contains('.'))
        {
            // The value is not echoed: error details are logged (GrpcServerLog.RpcConnectionError), and a mistyped
            // address is still personal data (SECURITY.md "Never logged").
            throw new ModelValidationException("contact_email", "is not an e-mail address (one '@', a domain with a dot, no spaces)");
        }

        var publicContact = (request.PublicContact ?? string.Empty).Trim();
        ReservationSpecValidator.CheckText(publicContact, "public_contact", MaxContactLength);

        var now = Now();
        var holderId = ApiKeys.NewId("hld_", now);
        var key = ApiKeys.Generate();
        var keyId = ApiKeys.NewId("key_", now);
        var @event = new Pb.Event
        {
            Actor = caller.Actor,
            HolderCreated = new Pb.HolderCreated { HolderId = holderId, DisplayName = name, PublicContact = publicContact },
        };
        var committed = await _store.AppendAsync(
            new Mutation(EventMapping.ToDraft(@event),
            [
                new CreateHolder(holderId, name, email),
                new AddApiKey(keyId, holderId, ApiKeys.Hash(key), ApiKeys.Prefix(key), "initial"),
            ]),
            context.CancellationToken).ConfigureAwait(false);
        RegistryLog.HolderCreated(_log, holderId, committed.Sequence);
        return new Pb.CreateHolderResponse
        {
            Holder = new Pb.Holder
            {
                Id = holderId,
                DisplayName = name,
                ContactEmail = email,
                PublicContact = publicContact,
                CreatedAt = ReservationMapping.ToTimestamp(committed.Time),
            },
            ApiKey = key,
        };
    });

    /// <summary>GetHolder.</summary>
    public Task<Pb.Holder> GetHolder(Pb.GetHolderRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var holderId = await ResolveHolderArgumentAsync(caller, request.HolderId, "holder_id", context.CancellationToken).ConfigureAwait(false);
        var holder = await _store.GetHolderAsync(holderId, context.CancellationToken).ConfigureAwait(false)
            ?? throw NotFoundFor(caller, $"holder '{holderId}' does not exist");
        var result = new Pb.Holder
        {
            Id = holder.Id,
            DisplayName = holder.DisplayName,
            ContactEmail = holder.ContactEmail ?? string.Empty,
            PublicContact = await GetPublicContactAsync(holder, context.CancellationToken).ConfigureAwait(false),
            CreatedAt = ReservationMapping.ToTimestamp(holder.CreatedAt),
        };
        foreach (var host in await _store.ListVerifiedHostsAsync(holder.Id, context.CancellationToken).ConfigureAwait(false))
        {
            result.VerifiedHosts.Add(host.Host);
        }

        return result;
    });

    /// <summary>CreateApiKey.</summary>
    public Task<Pb.CreateApiKeyResponse> CreateApiKey(Pb.CreateApiKeyRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireHolderAsync(context).ConfigureAwait(false);
        var label = (request.Label ?? string.Empty).Trim();
        ReservationSpecValidator.CheckText(label, "label", MaxLabelLength);
        var now = Now();
        var key = ApiKeys.Generate();
        var keyId = ApiKeys.NewId("key_", now);
        var @event = new Pb.Event { Actor = caller.Actor, ApiKeyCreated = new Pb.ApiKeyCreated { HolderId = caller.HolderId, KeyId = keyId } };
        var committed = await _store.AppendAsync(
            new Mutation(EventMapping.ToDraft(@event), new AddApiKey(keyId, caller.HolderId!, ApiKeys.Hash(key), ApiKeys.Prefix(key), label.Length == 0 ? null : label)),
            context.CancellationToken).ConfigureAwait(false);
        return new Pb.CreateApiKeyResponse
        {
            Info = new Pb.ApiKeyInfo { Id = keyId, Label = label, Prefix = ApiKeys.Prefix(key), CreatedAt = ReservationMapping.ToTimestamp(committed.Time) },
            ApiKey = key,
        };
    });

    /// <summary>ListApiKeys.</summary>
    public Task<Pb.ListApiKeysResponse> ListApiKeys(Pb.ListApiKeysRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var holderId = await ResolveHolderArgumentAsync(caller, request.HolderId, "holder_id", context.CancellationToken).ConfigureAwait(false);
        var keys = await _store.ListApiKeysAsync(holderId, context.CancellationToken).ConfigureAwait(false);
        var response = new Pb.ListApiKeysResponse();
        for (var i = keys.Count - 1; i >= 0; i--)
        {
            response.Keys.Add(ToApi(keys[i]));
        }

        return response;
    });

    /// <summary>RevokeApiKey.</summary>
    public Task<Pb.RevokeApiKeyResponse> RevokeApiKey(Pb.RevokeApiKeyRequest request, ServerCallContext context) => Guard(async () =>
    {
        // The admin key names the holder (an operator revokes a leaked key without waiting for its holder); a holder
        // key may only name its own account. Either way the key must belong to that holder.
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var keyId = (request.KeyId ?? string.Empty).Trim();
        if (keyId.Length == 0)
        {
            throw new ModelValidationException("key_id", "is required");
        }

        var holderId = await ResolveHolderArgumentAsync(caller, request.HolderId, "holder_id", context.CancellationToken).ConfigureAwait(false);
        var keys = await _store.ListApiKeysAsync(holderId, context.CancellationToken).ConfigureAwait(false);
        var key = keys.FirstOrDefault(k => string.Equals(k.KeyId, keyId, StringComparison.Ordinal))
            ?? throw (caller.IsAdmin
                ? new RpcException(new Status(StatusCode.NotFound, $"key_id: '{Shorten(keyId)}' is not a key of holder '{holderId}'"))
                : new RpcException(new Status(StatusCode.PermissionDenied, $"key_id: '{Shorten(keyId)}' is not one of your API keys")));
        if (key.IsActive)
        {
            var @event = new Pb.Event { Actor = caller.Actor, ApiKeyRevoked = new Pb.ApiKeyRevoked { HolderId = holderId, KeyId = keyId } };
            await _store.AppendAsync(new Mutation(EventMapping.ToDraft(@event), new RevokeApiKey(keyId, holderId)), context.CancellationToken)
                .ConfigureAwait(false);
            _callers.Evict(keyId);
            keys = await _store.ListApiKeysAsync(holderId, context.CancellationToken).ConfigureAwait(false);
            key = keys.First(k => string.Equals(k.KeyId, keyId, StringComparison.Ordinal));
        }

        return new Pb.RevokeApiKeyResponse { Info = ToApi(key) };
    });

    // ---------------------------------------------------------------- host verification

    /// <summary>StartHostVerification.</summary>
    public Task<Pb.StartHostVerificationResponse> StartHostVerification(Pb.StartHostVerificationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireHolderAsync(context).ConfigureAwait(false);
        var host = NormalizeVerifiableHost(request.Host, "host");
        var now = Now();
        var token = "oorv-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var expires = now + _options.TokenLifetime;
        await _store.PutVerificationChallengeAsync(new VerificationChallenge(caller.HolderId!, host, token, now, expires), context.CancellationToken)
            .ConfigureAwait(false);
        var response = new Pb.StartHostVerificationResponse { Host = host, Token = token, ExpiresAt = ReservationMapping.ToTimestamp(expires) };
        response.Instructions.AddRange(HostVerifier.Instructions(host, token));
        return response;
    });

    /// <summary>CompleteHostVerification.</summary>
    public Task<Pb.CompleteHostVerificationResponse> CompleteHostVerification(Pb.CompleteHostVerificationRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireHolderAsync(context).ConfigureAwait(false);
        var host = NormalizeVerifiableHost(request.Host, "host");
        if (request.Method is not (Pb.VerificationMethod.Unspecified or Pb.VerificationMethod.WellKnown or Pb.VerificationMethod.HtmlMeta or Pb.VerificationMethod.DnsTxt))
        {
            throw new ModelValidationException("method", $"{request.Method} cannot be completed by a holder; use well-known, html-meta, dns-txt or leave it unspecified");
        }

        var challenge = await _store.GetVerificationChallengeAsync(caller.HolderId!, host, context.CancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.FailedPrecondition, $"host: no verification of '{host}' was started; call StartHostVerification first (optout verify-host {host})"));
        if (challenge.ExpiresAt <= _time.GetUtcNow())
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"host: the verification token for '{host}' expired at {challenge.ExpiresAt:O}; start a new verification"));
        }

        Pb.VerificationMethod[] methods = request.Method == Pb.VerificationMethod.Unspecified
            ? [Pb.VerificationMethod.WellKnown, Pb.VerificationMethod.HtmlMeta, Pb.VerificationMethod.DnsTxt]
            : [request.Method];
        var failures = new List<string>();
        foreach (var method in methods)
        {
            var attempt = await _verifier.CheckAsync(method, host, challenge.Token, context.CancellationToken).ConfigureAwait(false);
            if (!attempt.Success)
            {
                failures.Add(attempt.Detail);
                continue;
            }

            var receipt = await RecordHostAsync(caller.HolderId!, host, method, null, caller, context.CancellationToken).ConfigureAwait(false);
            await _store.DeleteVerificationChallengeAsync(caller.HolderId!, host, context.CancellationToken).ConfigureAwait(false);
            return new Pb.CompleteHostVerificationResponse { Host = host, Method = method, Receipt = receipt };
        }

        throw new RpcException(new Status(StatusCode.FailedPrecondition, $"host: control of '{host}' could not be verified: {string.Join("; ", failures)}"));
    });

    /// <summary>RecordVerifiedHost (admin only).</summary>
    public Task<Pb.CompleteHostVerificationResponse> RecordVerifiedHost(Pb.RecordVerifiedHostRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        if (!caller.IsAdmin)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the operator's admin key may record a verified host; holders use StartHostVerification/CompleteHostVerification."));
        }

        var holderId = (request.HolderId ?? string.Empty).Trim();
        if (holderId.Length == 0)
        {
            throw new ModelValidationException("holder_id", "is required");
        }

        var host = NormalizeVerifiableHost(request.Host, "host");
        ReservationSpecValidator.CheckText(request.Note, "note", MaxNoteLength);
        _ = await _store.GetHolderAsync(holderId, context.CancellationToken).ConfigureAwait(false)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"holder_id: holder '{holderId}' does not exist"));
        var receipt = await RecordHostAsync(holderId, host, Pb.VerificationMethod.Operator, request.Note, caller, context.CancellationToken).ConfigureAwait(false);
        return new Pb.CompleteHostVerificationResponse { Host = host, Method = Pb.VerificationMethod.Operator, Receipt = receipt };
    });

    /// <summary>ListVerifiedHosts.</summary>
    public Task<Pb.ListVerifiedHostsResponse> ListVerifiedHosts(Pb.ListVerifiedHostsRequest request, ServerCallContext context) => Guard(async () =>
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        var holderId = await ResolveHolderArgumentAsync(caller, request.HolderId, "holder_id", context.CancellationToken).ConfigureAwait(false);
        var response = new Pb.ListVerifiedHostsResponse();
        foreach (var host in await _store.ListVerifiedHostsAsync(holderId, context.CancellationToken).ConfigureAwait(false))
        {
            response.Hosts.Add(host.Host);
        }

        return response;
    });

    private async Task<Pb.Receipt> RecordHostAsync(string holderId, string host, Pb.VerificationMethod method, string? note, Caller caller, CancellationToken cancellationToken)
    {
        var name = EnumMapping.ToEventName(method);
        var @event = new Pb.Event
        {
            Actor = caller.Actor,
            HostVerified = new Pb.HostVerified { HolderId = holderId, Host = host, Method = name, Note = note ?? string.Empty },
        };
        var committed = await _store.AppendAsync(new Mutation(EventMapping.ToDraft(@event), new AddVerifiedHost(holderId, host, name)), cancellationToken)
            .ConfigureAwait(false);
        RegistryLog.HostVerified(_log, holderId, host, name);
        return await _receipts.IssueAsync(committed, cancellationToken).ConfigureAwait(false);
    }

    private static string NormalizeVerifiableHost(string? value, string field)
    {
        var raw = (value ?? string.Empty).Trim().TrimEnd('.');
        if (raw.Length == 0)
        {
            throw new ModelValidationException(field, "is required");
        }

        if (raw.Contains('/') || raw.Contains(':') || raw.Contains('@'))
        {
            throw new ModelValidationException(field, $"'{raw}' must be a bare host name, without scheme, port or path");
        }

        string host;
        try
        {
            host = UrlCanonicalizer.NormalizeHost(raw);
        }
        catch (UrlFormatException ex)
        {
            throw new ModelValidationException(field, $"'{raw}' is not a valid host: {ex.Message}");
        }

        if (PublicSuffixList.Default.IsPublicSuffix(host))
        {
            throw new ModelValidationException(field, $"'{host}' is a public suffix; verify a registrable domain such as 'example.{host}' or a host under it");
        }

        return host;
    }

    // ---------------------------------------------------------------- helpers shared by the partial files

    private async Task<Caller> RequireKeyAsync(ServerCallContext context)
    {
        var caller = await _callers.ResolveAsync(context).ConfigureAwait(false);
        if (caller.Kind == CallerKind.Anonymous)
        {
            throw new RpcException(CallerResolver.InvalidKeyStatus);
        }

        return caller;
    }

    private async Task<Caller> RequireHolderAsync(ServerCallContext context)
    {
        var caller = await RequireKeyAsync(context).ConfigureAwait(false);
        if (caller.Kind != CallerKind.Holder)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "The admin key has no holder account; call this with a holder's API key."));
        }

        return caller;
    }

    /// <summary>An empty holder id means the caller's own; another holder's id is for the admin key only.</summary>
    private async Task<string> ResolveHolderArgumentAsync(Caller caller, string? requested, string field, CancellationToken cancellationToken)
    {
        var id = (requested ?? string.Empty).Trim();
        if (caller.IsAdmin)
        {
            if (id.Length == 0)
            {
                throw new ModelValidationException(field, "is required with the admin key");
            }

            _ = await _store.GetHolderAsync(id, cancellationToken).ConfigureAwait(false)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"{field}: holder '{id}' does not exist"));
            return id;
        }

        if (id.Length == 0 || string.Equals(id, caller.HolderId, StringComparison.Ordinal))
        {
            return caller.HolderId!;
        }

        throw new RpcException(new Status(StatusCode.PermissionDenied, $"{field}: '{Shorten(id)}' is not your account"));
    }

    private static RpcException NotFoundFor(Caller caller, string detail) =>
        caller.IsAdmin ? new RpcException(new Status(StatusCode.NotFound, detail)) : new RpcException(new Status(StatusCode.PermissionDenied, "not your data"));

    private async Task<string> GetPublicContactAsync(HolderRecord holder, CancellationToken cancellationToken)
    {
        // The public contact is public data, so it lives in the HolderCreated event, not in a private column.
        var events = await _store.ReadEventsAsync(holder.CreatedSequence, 1, cancellationToken).ConfigureAwait(false);
        if (events.Count == 1)
        {
            var @event = EventMapping.ToApi(events[0]);
            if (@event.ChangeCase == Pb.Event.ChangeOneofCase.HolderCreated && @event.HolderCreated.HolderId == holder.Id)
            {
                return @event.HolderCreated.PublicContact;
            }
        }

        return string.Empty;
    }

    private static Pb.ApiKeyInfo ToApi(ApiKeyRecord key)
    {
        var info = new Pb.ApiKeyInfo { Id = key.KeyId, Label = key.Label ?? string.Empty, Prefix = key.Prefix, CreatedAt = ReservationMapping.ToTimestamp(key.CreatedAt) };
        if (key.RevokedAt is { } revoked)
        {
            info.RevokedAt = ReservationMapping.ToTimestamp(revoked);
        }

        return info;
    }

    private static string Shorten(string value) => value.Length <= 80 ? value : value[..80] + "…";

    /// <summary>
    /// The service's one choke point for expected failures (STYLE.md "Errors"): validation errors become
    /// INVALID_ARGUMENT naming the field, store refusals their matching code; anything else goes to the transport's
    /// handler, which answers UNKNOWN without internals.
    /// </summary>
    private static async Task<T> Guard<T>(Func<Task<T>> handler)
    {
        try
        {
            return await handler().ConfigureAwait(false);
        }
        catch (ModelValidationException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        catch (StoreException ex)
        {
            throw ToRpc(ex);
        }
    }

    private static RpcException ToRpc(StoreException ex) => new(new Status(ex.Kind switch
    {
        StoreErrorKind.Invalid => StatusCode.InvalidArgument,
        StoreErrorKind.NotFound => StatusCode.FailedPrecondition,
        _ => StatusCode.AlreadyExists,
    }, ex.Field + ": " + ex.Reason));
}
