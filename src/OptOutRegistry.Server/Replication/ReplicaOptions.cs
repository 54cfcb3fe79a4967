namespace OptOutRegistry.Server.Replication;

/// <summary>
/// Replica mode: <c>--follow URL</c> (configuration key <c>follow</c>) makes this server a read-only replica of the
/// primary at URL (its gRPC address). <c>--follow-key FILE</c> (key <c>follow-key</c>) pins the primary's public key
/// (the SPKI PEM that <c>Feed.GetPublicKey</c> publishes): without it the replica trusts the key the primary
/// presents on first contact and refuses a different one later only by starting over; with it, a primary — or anyone
/// answering at its address — that signs with another key is never followed.
/// </summary>
public sealed record ReplicaOptions(string? FollowUrl, byte[]? PinnedKeySpki = null)
{
    /// <summary>True when this server follows a primary.</summary>
    public bool IsReplica => FollowUrl is not null;
}
