using System.Text.Json;
using OptOutRegistry.Transparency;
using static OptOutRegistry.Storage.Tests.Transparency.MerkleCorpus;

namespace OptOutRegistry.Storage.Tests.Transparency;

public sealed class MerkleVectorTests
{
    public static TheoryData<int> RootCases => Indexes(VectorsRoot, "roots");

    public static TheoryData<int> InclusionCases => Indexes(VectorsRoot, "inclusion");

    public static TheoryData<int> ConsistencyCases => Indexes(VectorsRoot, "consistency");

    public static TheoryData<int> InclusionProbes => Indexes(ProbesRoot, "inclusion");

    public static TheoryData<int> ConsistencyProbes => Indexes(ProbesRoot, "consistency");

    public static TheoryData<int> DerivedInclusion => Indexes(DerivedRoot, "inclusion");

    public static TheoryData<int> DerivedConsistency => Indexes(DerivedRoot, "consistency");

    private static InMemoryMerkleTree BuildTree(int size)
    {
        var tree = new InMemoryMerkleTree();
        var leaves = Leaves;
        for (var i = 0; i < size; i++)
        {
            tree.AppendLeaf(leaves[i]);
        }

        return tree;
    }

    [Fact]
    public void LeafHashes_MatchUpstream()
    {
        var leaves = Leaves;
        var expected = VectorsRoot.GetProperty("leaf_hashes_hex").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(expected, leaves.Select(l => ToHex(MerkleHash.HashLeaf(l))).ToArray());
    }

    [Fact]
    public void CompleteSubtreeNodes_MatchUpstreamLevelByLevel()
    {
        var levels = VectorsRoot.GetProperty("node_hashes_hex_by_level").EnumerateArray().ToArray();
        for (var level = 0; level < levels.Length; level++)
        {
            var nodes = levels[level].EnumerateArray().ToArray();
            for (var index = 0; index < nodes.Length; index++)
            {
                // A node at (level, index) is the root of the leaves it covers.
                var begin = index << level;
                Assert.Equal(nodes[index].GetString(), ToHex(RootOfRange(begin, begin + (1 << level))));
            }
        }
    }

    private static byte[] RootOfRange(int begin, int end)
    {
        var sub = new InMemoryMerkleTree();
        var leaves = Leaves;
        for (var i = begin; i < end; i++)
        {
            sub.AppendLeaf(leaves[i]);
        }

        return sub.Root;
    }

    [Theory]
    [MemberData(nameof(RootCases))]
    public void Root_AtEachSize_MatchesUpstream(int caseIndex)
    {
        var c = VectorsRoot.GetProperty("roots")[caseIndex];
        var size = c.GetProperty("size").GetInt32();
        var expected = c.GetProperty("root_hex").GetString();

        Assert.Equal(expected, ToHex(BuildTree(size).Root));
        Assert.Equal(expected, ToHex(BuildTree(8).RootAt(size)));
        var frontier = new MerkleFrontier();
        foreach (var leaf in Leaves.Take(size))
        {
            frontier.Append(MerkleHash.HashLeaf(leaf));
        }

        Assert.Equal(expected, ToHex(MerkleFrontier.Deserialize(size, frontier.Serialize()).ComputeRoot()));
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionProof_GoldenCase_IsGeneratedExactlyAndVerifies(int caseIndex) =>
        CheckInclusion(VectorsRoot.GetProperty("inclusion")[caseIndex]);

    [Theory]
    [MemberData(nameof(DerivedInclusion))]
    public void InclusionProof_EveryDerivedCase_IsGeneratedExactlyAndVerifies(int caseIndex) =>
        CheckInclusion(DerivedRoot.GetProperty("inclusion")[caseIndex]);

    private static void CheckInclusion(JsonElement c)
    {
        var index = c.GetProperty("leaf_index").GetInt64();
        var size = c.GetProperty("tree_size").GetInt64();
        var leafHash = Hex(c.GetProperty("leaf_hash_hex"));
        var root = Hex(c.GetProperty("root_hex"));
        var expected = HexList(c.GetProperty("proof_hex"));

        var proof = BuildTree(8).InclusionProof(index, size);

        Assert.Equal(expected.Select(ToHex), proof.Select(ToHex));
        Assert.True(MerkleVerifier.VerifyInclusion(index, size, leafHash, proof, root));
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyProof_GoldenCase_IsGeneratedExactlyAndVerifies(int caseIndex) =>
        CheckConsistency(VectorsRoot.GetProperty("consistency")[caseIndex]);

    [Theory]
    [MemberData(nameof(DerivedConsistency))]
    public void ConsistencyProof_EveryDerivedCase_IsGeneratedExactlyAndVerifies(int caseIndex) =>
        CheckConsistency(DerivedRoot.GetProperty("consistency")[caseIndex]);

    private static void CheckConsistency(JsonElement c)
    {
        var size1 = c.GetProperty("size1").GetInt64();
        var size2 = c.GetProperty("size2").GetInt64();
        var root1 = Hex(c.GetProperty("root1_hex"));
        var root2 = Hex(c.GetProperty("root2_hex"));
        var expected = HexList(c.GetProperty("proof_hex"));

        var proof = BuildTree(8).ConsistencyProof(size1, size2);

        Assert.Equal(expected.Select(ToHex), proof.Select(ToHex));
        Assert.True(MerkleVerifier.VerifyConsistency(size1, size2, root1, root2, proof));
    }

    [Theory]
    [MemberData(nameof(InclusionProbes))]
    public void VerifyInclusion_UpstreamProbe_RejectsExactlyWhenExpected(int caseIndex)
    {
        var c = ProbesRoot.GetProperty("inclusion")[caseIndex];
        var ok = MerkleVerifier.VerifyInclusion(
            UInt64AsInt64(c.GetProperty("leaf_index")), UInt64AsInt64(c.GetProperty("tree_size")),
            Hex(c.GetProperty("leaf_hash_hex")), HexList(c.GetProperty("proof_hex")), Hex(c.GetProperty("root_hex")));
        Assert.True(ok != c.GetProperty("want_error").GetBoolean(), $"{c.GetProperty("source_file").GetString()}: verifier said {ok}");
    }

    [Theory]
    [MemberData(nameof(ConsistencyProbes))]
    public void VerifyConsistency_UpstreamProbe_RejectsExactlyWhenExpected(int caseIndex)
    {
        var c = ProbesRoot.GetProperty("consistency")[caseIndex];
        var ok = MerkleVerifier.VerifyConsistency(
            UInt64AsInt64(c.GetProperty("size1")), UInt64AsInt64(c.GetProperty("size2")),
            Hex(c.GetProperty("root1_hex")), Hex(c.GetProperty("root2_hex")), HexList(c.GetProperty("proof_hex")));
        Assert.True(ok != c.GetProperty("want_error").GetBoolean(), $"{c.GetProperty("source_file").GetString()}: verifier said {ok}");
    }

    [Fact]
    public void Proofs_OnLargerRandomTree_VerifyAgainstRootsAtEverySize()
    {
        var random = new Random(42);
        var tree = new InMemoryMerkleTree();
        var leafHashes = new List<byte[]>();
        var roots = new List<byte[]> { tree.Root };
        for (var i = 0; i < 300; i++)
        {
            var leaf = new byte[random.Next(0, 40)];
            random.NextBytes(leaf);
            leafHashes.Add(MerkleHash.HashLeaf(leaf));
            tree.AppendLeaf(leaf);
            roots.Add(tree.Root);
        }

        for (var trial = 0; trial < 500; trial++)
        {
            var size = random.Next(1, 301);
            var index = random.Next(0, size);
            Assert.True(MerkleVerifier.VerifyInclusion(index, size, leafHashes[index], tree.InclusionProof(index, size), roots[size]));
            Assert.Equal(ToHex(roots[size]), ToHex(tree.RootAt(size)));
            var size1 = random.Next(1, size + 1);
            var consistency = tree.ConsistencyProof(size1, size);
            Assert.True(MerkleVerifier.VerifyConsistency(size1, size, roots[size1], roots[size], consistency));
            if (size1 < size)
            {
                // A root that differs anywhere breaks the proof.
                Assert.False(MerkleVerifier.VerifyConsistency(size1, size, FlipFirstBit(roots[size1]), roots[size], consistency));
                Assert.False(MerkleVerifier.VerifyConsistency(size1, size, roots[size1], FlipFirstBit(roots[size]), consistency));
            }
        }
    }

    // Upstream indices are uint64 (some probes use 2^64-1); ours are long. Values above long.MaxValue wrap to
    // negative numbers, which are outside every tree, exactly as they are upstream.
    private static long UInt64AsInt64(JsonElement element) => unchecked((long)element.GetUInt64());

    private static byte[] FlipFirstBit(byte[] hash)
    {
        var copy = (byte[])hash.Clone();
        copy[0] ^= 0x80;
        return copy;
    }

    [Theory]
    [InlineData(-1, 5)]
    [InlineData(5, 5)]
    [InlineData(0, 0)]
    public void ForInclusion_IndexOutsideTree_Throws(long index, long size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleProofPlan.ForInclusion(index, size));

    [Theory]
    [InlineData(0, 5)]
    [InlineData(6, 5)]
    public void ForConsistency_InvalidSizes_Throws(long size1, long size2) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MerkleProofPlan.ForConsistency(size1, size2));

    [Fact]
    public void ProofPlan_AtTenMillionLeaves_ReadsLogarithmicallyManyNodes()
    {
        // The store answers from stored nodes: a plan never needs more than ~2·log2(n) of them.
        const long size = 10_000_003;
        Assert.InRange(MerkleProofPlan.ForInclusion(size / 3, size).RequiredNodes.Count, 1, 2 * 24);
        Assert.InRange(MerkleProofPlan.ForConsistency(size / 3, size).RequiredNodes.Count, 1, 2 * 24);
        Assert.InRange(MerkleProofPlan.ForRoot(size).RequiredNodes.Count, 1, 24);
    }
}
