namespace OptOutRegistry.Server.Replication;

/// <summary>
/// Replica mode: <c>--follow URL</c> (configuration key <c>follow</c>) makes this server a read-only replica of the
/// primary at URL (its gRPC address).
/// </summary>
public sealed record ReplicaOptions(string? FollowUrl)
{
    /// <summary>True when this server follows a primary.</summary>
    public bool IsReplica => FollowUrl is not null;
}
