using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using OptOutRegistry.Transparency;

namespace OptOutRegistry.Benchmarks.Storage;

/// <summary>
/// The Merkle log's CPU work without the database: planning and folding a proof at 10 million leaves (node hashes
/// come from a dictionary standing in for the store's one batched read), appending a leaf, verifying proofs.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 2, iterationCount: 5)]
public class MerkleBenchmarks
{
    private const long TenMillion = 10_000_000;
    private readonly Dictionary<MerkleNodeId, byte[]> _nodes = [];
    private Func<MerkleNodeId, byte[]?> _lookup = null!;
    private MerkleFrontier _frontier = null!;
    private readonly byte[] _leafHash = SHA256.HashData("leaf"u8);
    private InMemoryMerkleTree _tree = null!;
    private byte[][] _proof = null!;
    private byte[] _root = null!;
    private byte[] _provenLeaf = null!;

    [GlobalSetup]
    public void Setup()
    {
        // Every node any plan at 10M could ask for, with arbitrary (but fixed) hashes.
        var random = new Random(3);
        for (long leaf = 0; leaf < TenMillion; leaf += 997)
        {
            AddPlan(MerkleProofPlan.ForInclusion(leaf, TenMillion));
            AddPlan(MerkleProofPlan.ForConsistency(leaf + 1, TenMillion));
        }

        _lookup = _nodes.GetValueOrDefault;
        _frontier = new MerkleFrontier();
        _tree = new InMemoryMerkleTree();
        for (var i = 0; i < 1 << 16; i++)
        {
            _tree.AppendLeaf(BitConverter.GetBytes(i));
        }

        _provenLeaf = MerkleHash.HashLeaf(BitConverter.GetBytes(12345));
        _proof = _tree.InclusionProof(12345, _tree.Size);
        _root = _tree.Root;

        void AddPlan(MerkleProofPlan plan)
        {
            foreach (var id in plan.RequiredNodes)
            {
                if (!_nodes.ContainsKey(id))
                {
                    var hash = new byte[32];
                    random.NextBytes(hash);
                    _nodes[id] = hash;
                }
            }
        }
    }

    [Benchmark]
    public byte[][] InclusionProofAt10M() => MerkleProofPlan.ForInclusion(997 * 5003, TenMillion).Resolve(_lookup);

    [Benchmark]
    public byte[][] ConsistencyProofAt10M() => MerkleProofPlan.ForConsistency(997 * 5003 + 1, TenMillion).Resolve(_lookup);

    [Benchmark]
    public long AppendLeaf() => _frontier.Append(_leafHash);

    [Benchmark]
    public bool VerifyInclusionAt64K() => MerkleVerifier.VerifyInclusion(12345, _tree.Size, _provenLeaf, _proof, _root);
}
