using OptOutRegistry.Transparency;

namespace OptOutRegistry.Storage.Tests.Infrastructure;

/// <summary>What an auditor does with a store: re-derive the whole log from its events and compare.</summary>
internal static class LogAudit
{
    /// <summary>
    /// Reads every event, checks sequences are gapless from 0, every leaf hash matches its event, and the root
    /// recomputed from the leaves equals the stored head's root and the root computed from stored nodes.
    /// </summary>
    public static async Task<(long Size, byte[] Root, List<CommittedEvent> Events)> VerifyAsync(IRegistryStore store)
    {
        var events = new List<CommittedEvent>();
        var tree = new InMemoryMerkleTree();
        long next = 0;
        while (true)
        {
            var batch = await store.ReadEventsAsync(next, 5000);
            if (batch.Count == 0)
            {
                break;
            }

            foreach (var e in batch)
            {
                Assert.Equal(next, e.Sequence);
                Assert.True(e.HasValidLeafHash(), $"event {e.Sequence}: stored leaf hash does not match its fields");
                tree.AppendLeafHash(e.LeafHash);
                events.Add(e);
                next++;
            }
        }

        var head = await store.GetTreeHeadAsync();
        Assert.Equal(tree.Size, head.TreeSize);
        Assert.Equal(Convert.ToHexStringLower(tree.Root), Convert.ToHexStringLower(head.RootHash));
        Assert.Equal(Convert.ToHexStringLower(tree.Root), Convert.ToHexStringLower(await store.GetRootAsync(tree.Size)));
        Assert.Equal(tree.Size - 1, await store.GetLatestSequenceAsync());
        return (tree.Size, tree.Root, events);
    }
}
