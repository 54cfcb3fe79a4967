using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// CheckClient with <see cref="CheckClientOptions.Hedging"/> against the real registry server: a handler in the channel
/// holds the first call it sees until that call is cancelled, so "the first attempt is stuck" is a state the test sets
/// up. The hedge answers, every caller gets exactly its own result, and the stuck call is cancelled.
/// </summary>
public sealed class CheckClientHedgingTests(CheckRegistryFixture fixture) : IClassFixture<CheckRegistryFixture>
{
    private const string Book = "https://example.kz/books/abai.pdf";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StuckFirstCall_TheHedgeAnswersTheCheck_TheStuckCallIsCancelled()
    {
        using var hold = new HoldFirstCall();
        await using var client = Client(hold, new CheckClientOptions { Hedging = new HedgingPolicy { MaxAttempts = 2, Delay = TimeSpan.Zero } });

        var result = await client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask().WaitAsync(Patience);

        Assert.Equal(Pb.Verdict.Disallowed, result.Verdict);
        Assert.Equal(fixture.BookReservation, result.Matches[0].ReservationId);
        await hold.FirstCancelled.WaitAsync(Patience);
        Assert.Equal(2, hold.Calls);
    }

    [Fact]
    public async Task HedgedBatch_EachSubjectGetsExactlyOneResult_InOrder()
    {
        using var hold = new HoldFirstCall();
        await using var client = Client(hold, new CheckClientOptions { Hedging = new HedgingPolicy { MaxAttempts = 3, Delay = TimeSpan.Zero } });
        var request = new Pb.CheckBatchRequest { Purpose = Pb.UsageCategory.TrainAi, IncludeMatches = true };
        for (var i = 0; i < 50; i++)
        {
            request.Subjects.Add(new Pb.Subject { Url = i % 5 == 0 ? Book : $"https://hedged{i}.example/page" });
        }

        var response = await client.CheckBatchAsync(request).WaitAsync(Patience);

        // One answer per subject, from one attempt: two answers merged or counted twice would show in the count or order.
        Assert.Equal(50, response.Results.Count);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(i % 5 == 0 ? Pb.Verdict.Disallowed : Pb.Verdict.Unknown, response.Results[i].Verdict);
        }

        await hold.FirstCancelled.WaitAsync(Patience);
    }

    [Theory]
    [InlineData(1, 0, "MaxAttempts")]
    [InlineData(9, 0, "MaxAttempts")]
    [InlineData(2, -5, "Delay")]
    public void InvalidHedgingPolicy_IsRefusedWhenTheClientIsCreated(int maxAttempts, int delayMs, string field)
    {
        using var channel = GrpcChannel.ForAddress(fixture.Server.GrpcAddress);
        var options = new CheckClientOptions { Hedging = new HedgingPolicy { MaxAttempts = maxAttempts, Delay = TimeSpan.FromMilliseconds(delayMs) } };

        var ex = Assert.Throws<ArgumentException>(() => new CheckClient(channel, options));

        Assert.Equal(field, ex.ParamName);
        Assert.Contains("HedgingPolicy." + field, ex.Message, StringComparison.Ordinal);
    }

    private CheckClient Client(HoldFirstCall hold, CheckClientOptions options)
    {
        var channel = GrpcChannel.ForAddress(fixture.Server.GrpcAddress, new GrpcChannelOptions { HttpHandler = hold, DisposeHttpHandler = false });
        return new CheckClient(channel, options);
    }

    /// <summary>Holds the first call until its token is cancelled (then records that); lets every later call through.</summary>
    private sealed class HoldFirstCall() : DelegatingHandler(new SocketsHttpHandler())
    {
        private readonly TaskCompletionSource _firstCancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task FirstCancelled => _firstCancelled.Task;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _firstCancelled.TrySetResult();
                    throw;
                }
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
