using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OptOutRegistry.Filtering.Tests;

[CollectionDefinition(nameof(MemoryBound), DisableParallelization = true)]
public sealed class MemoryBound;

/// <summary>The pipeline's promises: input order kept under parallel checking, and memory bounded whatever the input size.</summary>
[Collection(nameof(MemoryBound))]
public sealed class PipelineTests(SnapshotFixture fixture) : IClassFixture<SnapshotFixture>
{
    [Fact]
    public async Task A_large_input_streams_through_in_bounded_memory_and_in_order()
    {
        const long InputBytes = 160L << 20;
        var input = new GeneratedJsonl(InputBytes);
        using var kept = new HashingSink();
        using var removed = new HashingSink();
        long peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                // Live objects only: without a collection the figure includes whatever garbage the generator left since
                // the last GC (gen0 budgets differ between machines), which made the bound flaky.
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                await Task.Delay(20);
            }
        });
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var report = await DatasetFilter.RunAsync(input, kept, removed, fixture.Checker, new FilterOptions { InputName = "big.jsonl", Workers = 2, BatchRecords = 512 });
        sampling.Cancel();
        await sampler;

        Assert.Equal(input.Records, report.InputRecords);
        Assert.Equal(input.ExpectedRemoved, report.Removed);
        Assert.Equal(0, report.Rejected);
        // Byte-identical and in input order: the outputs hash to the generator's own kept/removed streams.
        Assert.Equal(input.KeptHash(), kept.Hash());
        Assert.Equal(input.RemovedHash(), removed.Hash());
        // Bounded: a pool of (2 × workers + 2) batches of ~1 MiB, far below the 160 MiB that went through.
        var growth = peak - before;
        Assert.True(growth < 48L << 20, $"heap grew by {growth >> 20} MiB while filtering {InputBytes >> 20} MiB");
    }

    /// <summary>JSON Lines generated on the fly (never held in memory); every 7th record is on a blocked domain.</summary>
    private sealed class GeneratedJsonl(long totalBytes) : Stream
    {
        private readonly IncrementalHash _kept = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly IncrementalHash _removed = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly string _padding = new('p', 2000);
        private byte[] _line = [];
        private int _linePos;
        private long _produced;

        public long Records { get; private set; }

        public long ExpectedRemoved { get; private set; }

        public byte[] KeptHash() => _kept.GetHashAndReset();

        public byte[] RemovedHash() => _removed.GetHashAndReset();

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_linePos == _line.Length)
            {
                if (_produced >= totalBytes)
                {
                    return 0;
                }

                var blocked = Records % 7 == 3;
                var url = blocked ? $"https://blocked.example/r{Records}" : $"https://fine.example/r{Records}";
                _line = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"id\":{Records},\"url\":\"{url}\",\"pad\":\"{_padding}\"}}\n"));
                (blocked ? _removed : _kept).AppendData(_line);
                if (blocked) { ExpectedRemoved++; }
                Records++;
                _produced += _line.Length;
                _linePos = 0;
            }

            var n = Math.Min(buffer.Length, _line.Length - _linePos);
            _line.AsSpan(_linePos, n).CopyTo(buffer);
            _linePos += n;
            return n;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _kept.Dispose();
            _removed.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>An output that keeps only a running SHA-256 of what was written.</summary>
    private sealed class HashingSink : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public byte[] Hash() => _hash.GetHashAndReset();

        public override void Write(byte[] buffer, int offset, int count) => _hash.AppendData(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _hash.AppendData(buffer);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
