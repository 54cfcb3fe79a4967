using System.Buffers;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Core.Matching;
using OptOutRegistry.Core.Model;
using OptOutRegistry.Core.Urls;
using OptOutRegistry.Snapshots;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Filtering;

/// <summary>
/// Checks against a live registry over one <c>Check.CheckStream</c> call: each pipeline batch goes out as one request
/// (split at the server's 10,000-subject limit) without waiting for earlier answers, so many batches are on the wire at
/// once and a run is not one round trip per record. URLs are canonicalised here first, so an uncheckable URL gets the
/// same rejection reason as with a snapshot.
/// </summary>
public sealed class ServerFilterChecker : IFilterChecker, IAsyncDisposable
{
    private const int MaxSubjectsPerRequest = 10_000;
    private readonly CheckClient _client;
    private readonly CheckStreamPipeline _stream;
    private readonly RegistryState _start;

    private ServerFilterChecker(CheckClient client, CheckStreamPipeline stream, RegistryState start, int concurrency)
    {
        _client = client;
        _stream = stream;
        _start = start;
        Concurrency = concurrency;
    }

    /// <summary>
    /// Connects, records the registry's signed tree head and the matcher's sequence (the state the run starts from, so
    /// it can be proven later) and opens the Check stream.
    /// </summary>
    /// <param name="address">The registry's gRPC address, e.g. <c>http://localhost:50051</c>.</param>
    /// <param name="apiKey">API key, when the registry requires one for checks.</param>
    /// <param name="concurrency">Batches on the wire at once.</param>
    /// <param name="cancellationToken">Cancels connecting and, later, the stream.</param>
    /// <exception cref="OptOutRegistry.Grpc.RpcException">The server refused or could not be reached.</exception>
    public static async Task<ServerFilterChecker> ConnectAsync(string address, string? apiKey = null, int concurrency = 8, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var client = CheckClient.Create(address, new CheckClientOptions { ApiKey = apiKey });
        try
        {
            Pb.SignedTreeHead head;
            using (var feed = FeedClient.Create(address))
            {
                head = await feed.GetTreeHeadAsync(cancellationToken).ConfigureAwait(false);
            }

            var stream = new CheckStreamPipeline(client, Math.Max(2, concurrency), cancellationToken);
            // An empty request answers with the matcher's applied sequence, and fails now on a refused key.
            var probe = await stream.SendAsync(new Pb.CheckBatchRequest(), cancellationToken).ConfigureAwait(false);
            var state = new RegistryState("server", address, probe.AsOfSequence, head.Timestamp?.ToDateTimeOffset(), head.KeyFingerprint, null,
                Convert.ToHexStringLower(head.RootHash.Span), head.TreeSize);
            return new ServerFilterChecker(client, stream, state, Math.Max(2, concurrency));
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>The sequence and tree head are those at the start; <see cref="RegistryState.LastSequence"/> is the highest
    /// sequence any answer of the run came from (equal to the start unless the registry changed during the run).</remarks>
    public RegistryState State => _start with { LastSequence = Math.Max(_start.Sequence, _stream.LastSequence) };

    /// <inheritdoc />
    public int Concurrency { get; }

    /// <inheritdoc />
    public async ValueTask CheckAsync(FilterCheckBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var purpose = ProtoConvert.ToProto(batch.Purpose);
        var asOf = batch.AsOf is { } t ? ProtoConvert.ToTimestamp(t) : null;
        var requests = new List<(Pb.CheckBatchRequest Request, List<int> Index)>();
        Pb.CheckBatchRequest? current = null;
        List<int>? index = null;
        for (var i = 0; i < batch.Count; i++)
        {
            var kind = batch.Kind(i);
            var subject = batch.Subject(i);
            if (kind == SubjectKind.Url && !IsCheckableUrl(subject, out var error))
            {
                batch.SetError(i, "url: " + UrlErrors.Describe(error));
                continue;
            }

            if (current is null || current.Subjects.Count == MaxSubjectsPerRequest)
            {
                current = new Pb.CheckBatchRequest { Purpose = purpose, AsOf = asOf, IncludeMatches = true };
                index = [];
                requests.Add((current, index));
            }

            var text = subject.ToString();
            current.Subjects.Add(kind switch
            {
                SubjectKind.Url => new Pb.Subject { Url = text },
                SubjectKind.Sha256 => new Pb.Subject { Sha256 = text },
                SubjectKind.Iscc => new Pb.Subject { Iscc = text },
                _ => new Pb.Subject { Identifier = text },
            });
            index!.Add(i);
        }

        // All requests of the batch go out before any answer is awaited (the stream pipelines them).
        var answers = new Task<Pb.CheckBatchResponse>[requests.Count];
        for (var r = 0; r < requests.Count; r++)
        {
            answers[r] = _stream.SendAsync(requests[r].Request, cancellationToken);
        }

        for (var r = 0; r < requests.Count; r++)
        {
            var response = await answers[r].ConfigureAwait(false);
            var map = requests[r].Index;
            if (response.Results.Count != map.Count)
            {
                throw new OptOutRegistry.Grpc.RpcException(new OptOutRegistry.Grpc.Status(OptOutRegistry.Grpc.StatusCode.Internal,
                    $"CheckStream: {response.Results.Count} results for {map.Count} subjects"));
            }

            for (var k = 0; k < map.Count; k++)
            {
                var result = response.Results[k];
                var i = map[k];
                if (result.Error.Length > 0)
                {
                    batch.SetError(i, result.Error);
                    continue;
                }

                var verdict = result.Verdict switch
                {
                    Pb.Verdict.Disallowed => Verdict.Disallowed,
                    Pb.Verdict.Allowed => Verdict.Allowed,
                    _ => Verdict.Unknown,
                };
                batch.SetVerdict(i, verdict);
                if (verdict != Verdict.Disallowed)
                {
                    continue;
                }

                foreach (var match in result.Matches)
                {
                    // The server lists the deciding matches whose answer is the verdict (check.proto CheckResult.matches).
                    if (match.Verdict == Pb.Verdict.Disallowed)
                    {
                        batch.Matches.Add(new FilterMatch(i, match.HolderId, match.HolderName.Length > 0 ? match.HolderName : null, (SelectorKind)((int)match.SelectorKind - 1)));
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static bool IsCheckableUrl(ReadOnlySpan<char> url, out UrlError error)
    {
        Span<char> buffer = stackalloc char[1024];
        if (UrlCanonicalizer.TryWriteMatchKey(url, buffer, out _, out _, out error))
        {
            return true;
        }

        if (error != UrlError.DestinationTooSmall)
        {
            return false;
        }

        // Long URLs: the same buffer size Core's matcher retries with, so both sides accept and refuse the same URLs.
        var rented = ArrayPool<char>.Shared.Rent((UrlCanonicalizer.MaxUrlLength * 9) + 256);
        try
        {
            return UrlCanonicalizer.TryWriteMatchKey(url, rented, out _, out _, out error);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }
}
