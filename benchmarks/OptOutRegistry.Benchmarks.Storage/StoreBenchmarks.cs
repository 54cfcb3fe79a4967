using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptOutRegistry.Storage;
using OptOutRegistry.Storage.Postgres;
using OptOutRegistry.Storage.Sqlite;
using OptOutRegistry.Storage.Tests.Infrastructure;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// Per-operation costs on a store holding 5,000 reservations, SQLite and PostgreSQL side by side in one run.
/// AppendDurable is one acknowledged (fsynced) registration per call.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class StoreBenchmarks
{
    private const int Preloaded = 5_000;
    private IRegistryStore _store = null!;
    private PostgresServerFixture? _server;
    private DirectoryInfo? _dir;
    private long _next;
    private long _treeSize;
    private string _selectiveQuery = "";

    [Params("sqlite", "postgres")]
    public string Store { get; set; } = "sqlite";

    // Synchronous wrappers: BenchmarkDotNet's in-process toolchain does not await an async [GlobalSetup].
    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => CleanupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        if (Store == "sqlite")
        {
            _dir = Directory.CreateTempSubdirectory("optout-bdn-");
            _store = await SqliteRegistryStore.OpenAsync(_dir.FullName);
        }
        else
        {
            (_server, var connectionString) = await BenchmarkPostgres.StartAsync();
            _store = PostgresRegistryStore.Create(connectionString);
        }

        await _store.MigrateAsync();
        await _store.AppendBatchAsync(DataGenerator.Holders().ToList());
        for (var start = 0; start < Preloaded; start += 5000)
        {
            await _store.AppendBatchAsync(Enumerable.Range(start, 5000).Select(i => DataGenerator.Reservation(i)).ToList());
        }

        _treeSize = (await _store.GetTreeHeadAsync()).TreeSize;
        var (w1, w2, _) = DataGenerator.TitleWords(1234);
        _selectiveQuery = w1 + " " + w2;
    }

    private async Task CleanupAsync()
    {
        await _store.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _dir?.Delete(recursive: true);
    }

    [Benchmark]
    public Task<CommittedEvent> AppendDurable() => _store.AppendAsync(DataGenerator.Reservation(Interlocked.Increment(ref _next), "bdn-"));

    [Benchmark]
    public Task<ReservationRecord?> GetReservation() => _store.GetReservationAsync("r" + (_next++ % Preloaded));

    [Benchmark]
    public Task<byte[][]> InclusionProof() => _store.GetInclusionProofAsync(_next++ % _treeSize, _treeSize);

    [Benchmark]
    public Task<byte[][]> ConsistencyProof() => _store.GetConsistencyProofAsync(1 + (_next++ % (_treeSize - 1)), _treeSize);

    [Benchmark]
    public Task<IReadOnlyList<SearchHit>> SearchSelective() => _store.SearchWorksAsync(_selectiveQuery, 20);
}
