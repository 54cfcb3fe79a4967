using BenchmarkDotNet.Attributes;
using OptOutRegistry.Server.Hosting;

namespace OptOutRegistry.Benchmarks.Hosting;

/// <summary>
/// What <c>--keep-cpus-awake</c> adds to every check: <see cref="CheckActivity.OnCheck"/> (a counter increment and a
/// branch), against a bare increment of a field, with the option off (no reader) and with a keep-awake-like thread
/// reading the counter between <c>Thread.SpinWait(1024)</c> slices, as the real threads do (the counter's cache line then
/// moves between cores).
/// </summary>
[MemoryDiagnoser]
public class CheckActivityBenchmarks
{
    private const int Calls = 1000;
    private readonly CheckActivity _activity = new();
    private long _bare;
    private Thread? _reader;
    private volatile bool _stop;

    [Params(false, true)]
    public bool SpinningReader { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (!SpinningReader)
        {
            return;
        }

        _reader = new Thread(() =>
        {
            long seen = 0;
            while (!_stop)
            {
                Thread.SpinWait(1024);
                seen ^= _activity.Checks;
            }

            GC.KeepAlive(seen);
        })
        { IsBackground = true };
        _reader.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _reader?.Join();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public long BareIncrement()
    {
        for (var i = 0; i < Calls; i++)
        {
            _bare++;
        }

        return _bare;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public long OnCheck()
    {
        for (var i = 0; i < Calls; i++)
        {
            _activity.OnCheck();
        }

        return _activity.Checks;
    }
}
