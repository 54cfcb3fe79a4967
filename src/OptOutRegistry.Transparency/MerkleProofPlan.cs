using System.Numerics;

namespace OptOutRegistry.Transparency;

/// <summary>
/// Which stored complete-subtree nodes make up a root or a proof, following the recursive definitions of
/// RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF). Each proof element is the MTH of a
/// sub-range of leaves; such a range is always aligned so that it splits into at most log2(n) complete
/// subtrees, whose hashes are folded right to left. The whole plan therefore reads O(log n) nodes, and a store
/// can fetch them all in one query instead of rehashing the log.
/// </summary>
public sealed class MerkleProofPlan
{
    private readonly List<MerkleNodeId[]> _elements;

    private MerkleProofPlan(List<MerkleNodeId[]> elements) => _elements = elements;

    /// <summary>The proof elements, in proof order, each as the complete subtrees to fold.</summary>
    public IReadOnlyList<MerkleNodeId[]> Elements => _elements;

    /// <summary>Every node the plan needs, without duplicates.</summary>
    public IReadOnlyCollection<MerkleNodeId> RequiredNodes
    {
        get
        {
            var set = new HashSet<MerkleNodeId>();
            foreach (var element in _elements)
            {
                foreach (var node in element)
                {
                    set.Add(node);
                }
            }

            return set;
        }
    }

    /// <summary>Plan for the root hash of a tree of <paramref name="treeSize"/> leaves (empty plan for size 0).</summary>
    public static MerkleProofPlan ForRoot(long treeSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(treeSize);
        var elements = new List<MerkleNodeId[]>(1);
        if (treeSize > 0)
        {
            elements.Add(Range(0, treeSize));
        }

        return new MerkleProofPlan(elements);
    }

    /// <summary>Plan for the inclusion proof (audit path) of leaf <paramref name="leafIndex"/> in a tree of <paramref name="treeSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is not below the size.</exception>
    public static MerkleProofPlan ForInclusion(long leafIndex, long treeSize)
    {
        if (leafIndex < 0 || leafIndex >= treeSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(leafIndex), $"Leaf index {leafIndex} is not inside a tree of size {treeSize}.");
        }

        var elements = new List<MerkleNodeId[]>();
        AddPath(leafIndex, 0, treeSize, elements);
        return new MerkleProofPlan(elements);
    }

    /// <summary>Plan for the consistency proof between tree sizes <paramref name="size1"/> and <paramref name="size2"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Unless 0 &lt; size1 ≤ size2 (RFC 9162 §2.1.4 defines no proof from the empty tree).</exception>
    public static MerkleProofPlan ForConsistency(long size1, long size2)
    {
        if (size1 <= 0 || size1 > size2)
        {
            throw new ArgumentOutOfRangeException(
                nameof(size1), $"A consistency proof needs 0 < size1 ≤ size2, got size1={size1}, size2={size2}.");
        }

        var elements = new List<MerkleNodeId[]>();
        AddSubproof(size1, 0, size2, true, elements);
        return new MerkleProofPlan(elements);
    }

    /// <summary>
    /// The complete subtrees whose right fold is MTH(D[begin:end]); <paramref name="begin"/> must be a multiple of a
    /// power of two ≥ end − begin, which holds for every range the RFC 9162 recursions produce.
    /// </summary>
    public static MerkleNodeId[] Range(long begin, long end)
    {
        var count = end - begin;
        var nodes = new MerkleNodeId[BitOperations.PopCount((ulong)count)];
        var position = begin;
        var i = 0;
        for (var level = 63 - BitOperations.LeadingZeroCount((ulong)count); level >= 0; level--)
        {
            if ((count & (1L << level)) != 0)
            {
                nodes[i++] = new MerkleNodeId(level, position >> level);
                position += 1L << level;
            }
        }

        return nodes;
    }

    /// <summary>
    /// Computes the proof (or the root, for <see cref="ForRoot"/>) from node hashes looked up by
    /// <paramref name="lookup"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A needed node is missing from the store.</exception>
    public byte[][] Resolve(Func<MerkleNodeId, byte[]?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var result = new byte[_elements.Count][];
        for (var e = 0; e < _elements.Count; e++)
        {
            var nodes = _elements[e];
            var acc = Get(lookup, nodes[^1]);
            for (var i = nodes.Length - 2; i >= 0; i--)
            {
                acc = MerkleHash.HashChildren(Get(lookup, nodes[i]), acc);
            }

            result[e] = acc;
        }

        return result;
    }

    private static byte[] Get(Func<MerkleNodeId, byte[]?> lookup, MerkleNodeId id) =>
        lookup(id) ?? throw new InvalidDataException(
            $"Merkle node at level {id.Level}, index {id.Index} is missing from the store.");

    private static long LargestPowerOfTwoBelow(long n) => 1L << (63 - BitOperations.LeadingZeroCount((ulong)(n - 1)));

    // RFC 9162 §2.1.3.1: PATH(m, D[n]).
    private static void AddPath(long m, long begin, long end, List<MerkleNodeId[]> output)
    {
        var n = end - begin;
        if (n == 1)
        {
            return;
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m < k)
        {
            AddPath(m, begin, begin + k, output);
            output.Add(Range(begin + k, end));
        }
        else
        {
            AddPath(m - k, begin + k, end, output);
            output.Add(Range(begin, begin + k));
        }
    }

    // RFC 9162 §2.1.4.1: SUBPROOF(m, D[n], b).
    private static void AddSubproof(long m, long begin, long end, bool complete, List<MerkleNodeId[]> output)
    {
        var n = end - begin;
        if (m == n)
        {
            if (!complete)
            {
                output.Add(Range(begin, end));
            }

            return;
        }

        var k = LargestPowerOfTwoBelow(n);
        if (m <= k)
        {
            AddSubproof(m, begin, begin + k, complete, output);
            output.Add(Range(begin + k, end));
        }
        else
        {
            AddSubproof(m - k, begin + k, end, false, output);
            output.Add(Range(begin, begin + k));
        }
    }
}
