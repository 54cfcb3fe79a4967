using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Integration.Tests.Check;

/// <summary>
/// CheckClient's adaptive batching of single checks, observed from the wire: a gate in the channel's HTTP handler counts
/// the calls and can hold them, so "every batch slot is busy" is a state the test sets up, not a race it hopes for.
/// </summary>
public sealed class CheckClientBatchingTests(CheckRegistryFixture fixture) : IClassFixture<CheckRegistryFixture>
{
    private const string Book = "https://example.kz/books/abai.pdf";
    private const string GenAi = "https://example.kz/books/genai.pdf";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task LoneCheck_GoesOutAtOnceInItsOwnCall_WhateverTheBatchDelay()
    {
        // An hour of MaxBatchDelay: a client that lingered for companions would not answer within the test's patience.
        using var gate = new CallGate(open: true);
        await using var client = Client(gate, new CheckClientOptions { MaxBatchDelay = TimeSpan.FromHours(1) });

        var first = await client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask().WaitAsync(Patience);
        Assert.Equal(Pb.Verdict.Disallowed, first.Verdict);
        Assert.Equal(fixture.BookReservation, first.Matches[0].ReservationId);
        Assert.Equal(1, gate.Calls);

        var second = await client.CheckUrlAsync("https://lone.example/", Pb.UsageCategory.TrainAi).AsTask().WaitAsync(Patience);
        Assert.Equal(Pb.Verdict.Unknown, second.Verdict);
        Assert.Equal(2, gate.Calls);
    }

    [Theory]
    // slots, checks queued behind the busy slots, MaxBatchSize, purposes cycled through, calls expected after the slots' own
    [InlineData(1, 100, 1000, 1, 1)]
    [InlineData(4, 100, 1000, 1, 1)]
    [InlineData(1, 100, 30, 1, 4)]
    [InlineData(1, 99, 1000, 3, 3)]
    [InlineData(2, 10, 1, 1, 10)]
    public async Task ChecksArrivingWhileEverySlotIsBusy_LeaveTogetherWhenOneFrees_EachWithItsOwnAnswer(
        int slots, int queued, int maxBatchSize, int purposes, int expectedLaterCalls)
    {
        using var gate = new CallGate(open: false);
        await using var client = Client(gate, new CheckClientOptions { MaxConcurrentBatches = slots, MaxBatchSize = maxBatchSize });
        var purposeOf = new[] { Pb.UsageCategory.TrainAi, Pb.UsageCategory.TrainGenai, Pb.UsageCategory.Search };
        var urls = new List<string>();
        var asked = new List<Pb.UsageCategory>();
        var tasks = new List<Task<Pb.CheckResult>>();
        for (var i = 0; i < slots + queued; i++)
        {
            var url = (i % 7) switch { 0 => Book, 3 => GenAi, _ => $"https://queued{i}.example/page" };
            var purpose = purposeOf[i % purposes];
            urls.Add(url);
            asked.Add(purpose);
            tasks.Add(client.CheckAsync(new Pb.Subject { Url = url }, purpose));
            if (i == slots - 1)
            {
                // The first `slots` checks found a free slot each and are on the wire, held by the gate.
                await gate.WaitForCallsAsync(slots);
            }
        }

        Assert.Equal(slots, gate.Calls);
        gate.Open();
        var results = await Task.WhenAll(tasks).WaitAsync(Patience);

        Assert.Equal(slots + expectedLaterCalls, gate.Calls);
        // Each caller got the answer to its own subject and purpose: the server's answer to that check alone.
        await using var reference = CheckClient.Create(fixture.Server.GrpcAddress);
        var disallowed = 0;
        for (var i = 0; i < results.Length; i++)
        {
            var alone = await reference.CheckBatchAsync(new Pb.CheckBatchRequest
            {
                Purpose = asked[i],
                IncludeMatches = true,
                Subjects = { new Pb.Subject { Url = urls[i] } },
            });
            Assert.True(alone.Results[0].Equals(results[i]), $"check {i} ({urls[i]}, {asked[i]}): {results[i]}, alone: {alone.Results[0]}");
            disallowed += results[i].Verdict == Pb.Verdict.Disallowed ? 1 : 0;
        }

        // The table mixes verdicts, so an answer handed to the wrong caller would show.
        Assert.InRange(disallowed, 1, results.Length - 1);
    }

    [Fact]
    public async Task CancellingAQueuedCheck_EndsItsWait_AndTheOthersStillGetTheirAnswers()
    {
        using var gate = new CallGate(open: false);
        await using var client = Client(gate, new CheckClientOptions { MaxConcurrentBatches = 1 });
        var held = client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask();
        await gate.WaitForCallsAsync(1);
        using var cancel = new CancellationTokenSource();
        var cancelled = client.CheckUrlAsync("https://cancelled.example/", Pb.UsageCategory.TrainAi, cancel.Token).AsTask();
        var kept = client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));
        gate.Open();
        Assert.Equal(Pb.Verdict.Disallowed, (await held.WaitAsync(Patience)).Verdict);
        Assert.Equal(Pb.Verdict.Disallowed, (await kept.WaitAsync(Patience)).Verdict);
    }

    [Fact]
    public async Task ACheckCancelledWhileQueued_IsNeverSent()
    {
        using var gate = new CallGate(open: false);
        var client = Client(gate, new CheckClientOptions { MaxConcurrentBatches = 1 });
        var held = client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask();
        await gate.WaitForCallsAsync(1);
        using var cancel = new CancellationTokenSource();
        var cancelled = client.CheckUrlAsync("https://given-up.example/", Pb.UsageCategory.TrainAi, cancel.Token).AsTask();
        await cancel.CancelAsync();

        gate.Open();
        Assert.Equal(Pb.Verdict.Disallowed, (await held.WaitAsync(Patience)).Verdict);
        await client.DisposeAsync().AsTask().WaitAsync(Patience);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        // The slot found only a cancelled check in the queue: no second call went out.
        Assert.Equal(1, gate.Calls);
    }

    [Fact]
    public async Task CancellingALoneCheck_CancelsItsCall()
    {
        using var gate = new CallGate(open: false);
        await using var client = Client(gate, new CheckClientOptions());
        using var cancel = new CancellationTokenSource();
        var lone = client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi, cancel.Token).AsTask();
        await gate.WaitForCallsAsync(1);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lone.WaitAsync(Patience));
        // The call itself saw the caller's token: the gate's wait for it ended with the cancellation.
        await gate.CancelledCall.WaitAsync(Patience);
    }

    [Fact]
    public async Task Dispose_AnswersTheQueuedChecksFirst_ThenRefusesNewOnes()
    {
        using var gate = new CallGate(open: false);
        var client = Client(gate, new CheckClientOptions { MaxConcurrentBatches = 1 });
        var held = client.CheckUrlAsync("https://held.example/", Pb.UsageCategory.TrainAi).AsTask();
        await gate.WaitForCallsAsync(1);
        var queued = client.CheckUrlAsync(Book, Pb.UsageCategory.TrainAi).AsTask();

        var disposing = client.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        // Refused at once, synchronously: the client no longer takes checks.
        Assert.Throws<ObjectDisposedException>(() => { _ = client.CheckAsync(new Pb.Subject { Url = Book }, Pb.UsageCategory.TrainAi); });
        gate.Open();
        await disposing.WaitAsync(Patience);

        Assert.Equal(Pb.Verdict.Unknown, (await held).Verdict);
        Assert.Equal(Pb.Verdict.Disallowed, (await queued).Verdict);
        Assert.Equal(2, gate.Calls);
    }

    private CheckClient Client(CallGate gate, CheckClientOptions options)
    {
        var channel = GrpcChannel.ForAddress(fixture.Server.GrpcAddress, new GrpcChannelOptions { HttpHandler = gate, DisposeHttpHandler = false });
        return new CheckClient(channel, options);
    }

    /// <summary>Counts the calls going out and holds them until opened.</summary>
    private sealed class CallGate : DelegatingHandler
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public CallGate(bool open)
            : base(new SocketsHttpHandler())
        {
            if (open)
            {
                _open.SetResult();
            }
        }

        public int Calls => Volatile.Read(ref _calls);

        public Task CancelledCall => _cancelled.Task;

        public void Open() => _open.TrySetResult();

        public async Task WaitForCallsAsync(int count)
        {
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Calls < count)
            {
                Assert.True(waited.Elapsed < Patience, $"{Calls} calls went out, expected {count}");
                await Task.Delay(1);
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            try
            {
                await _open.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _cancelled.TrySetResult();
                throw;
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
