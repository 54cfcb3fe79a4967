using OptOutRegistry.Client.Checking;
using OptOutRegistry.Testing;
using static OptOutRegistry.Security.Tests.TestHelpers;

namespace OptOutRegistry.Security.Tests;

/// <summary>Runs alone: it parks pool threads on purpose, which would slow every server other tests start meanwhile.</summary>
[CollectionDefinition(nameof(ThreadPoolHeadroomCollection), DisableParallelization = true)]
public sealed class ThreadPoolHeadroomCollection;

/// <summary>
/// The in-process server right after start (the idle-stream test's flakiness): a test host parks pool threads in waits the
/// pool does not count as blocking (VSTest's socket loop, xunit's runner), and on 2 cores those were the pool's whole
/// minimum, so a stream's next message waited 0.5-1 s for the pool's starvation check to add a thread.
/// <c>TemporaryServer</c> now raises the minimum by the threads already blocked; this asserts the mechanism, not a latency.
/// </summary>
[Collection(nameof(ThreadPoolHeadroomCollection))]
public sealed class ThreadPoolHeadroomTests
{
    [Fact]
    public async Task InProcessServer_WithPoolThreadsParked_ServesItsFirstCallsWithoutStarvationInjection()
    {
        // One parked thread per core, as a host does it: a WaitHandle wait, which the pool does not see as blocking.
        using (var parked = new ParkedPoolThreads(Environment.ProcessorCount))
        {
            Assert.True(parked.WaitStarted(TimeSpan.FromSeconds(60)), "the parking work items did not all start");
            using var adjustments = new PoolAdjustmentListener();
            await using var server = await SecurityServer.StartAsync();
            await using var client = CheckClient.Create(server.GrpcAddress);
            using var stream = client.OpenStream();
            for (var i = 0; i < 6; i++)
            {
                await client.CheckBatchAsync(Batch(1));
                await stream.RequestStream.WriteAsync(Batch(1));
                Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None));
                await Task.Delay(100);
            }

            // Reason 6 = Starvation (ThreadPoolWorkerThreadAdjustmentAdjustment): no free worker took queued work for a whole
            // check interval, so the pool's gate thread added one.
            Assert.True(adjustments.Starvations == 0, $"the pool had to add threads for starvation {adjustments.Starvations} time(s): {adjustments.Describe()}");
        }
    }
}
