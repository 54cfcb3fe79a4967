using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using OptOutRegistry.Transparency;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Client.Receipts;

/// <summary>The outcome of verifying a receipt; <see cref="Errors"/> says every check that failed.</summary>
/// <param name="Errors">Empty when the receipt is valid.</param>
/// <param name="KeyFingerprint">SHA-256 fingerprint of the public key the receipt was checked against.</param>
public sealed record ReceiptVerification(IReadOnlyList<string> Errors, string KeyFingerprint)
{
    /// <summary>True when every check passed.</summary>
    public bool IsValid => Errors.Count == 0;
}

/// <summary>
/// Verifies a registry receipt OFFLINE with nothing but the registry's public key (DESIGN.md "Evidence"; docs/receipts.md):
/// <list type="number">
/// <item>the signed tree head's ECDSA P-256 signature and key fingerprint;</item>
/// <item>the inclusion proof (RFC 9162 §2.1.3.2) of SHA-256(0x00 ‖ leaf_data) at leaf_index in that tree;</item>
/// <item>that leaf_data (Storage's EventLeaf layout) says exactly what <c>event</c> says: sequence = leaf index, time,
/// actor, type, and the serialized event;</item>
/// <item>that <c>reservation_id</c> is the reservation the event is about.</item>
/// </list>
/// The JSON form must be exactly what the registry printed (<see cref="ToJson"/>): a receipt whose text was changed in any
/// way fails, even where the change would decode to the same bytes (e.g. the unused bits of a base64 character).
/// </summary>
public static class ReceiptVerifier
{
    private static readonly JsonFormatter s_formatter = new(JsonFormatter.Settings.Default);
    private static readonly JsonParser s_parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    /// <summary>The canonical JSON document of a receipt (one line): what <c>optout register --json</c> prints.</summary>
    public static string ToJson(Pb.Receipt receipt) => s_formatter.Format(receipt);

    /// <summary>Verifies a receipt given as the JSON document the registry printed.</summary>
    public static ReceiptVerification VerifyJson(string json, string publicKeyPem)
    {
        ArgumentNullException.ThrowIfNull(json);
        var fingerprint = Fingerprint(publicKeyPem);
        Pb.Receipt receipt;
        try
        {
            receipt = s_parser.Parse<Pb.Receipt>(json);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            return new ReceiptVerification([$"the receipt is not a valid receipt JSON document: {ex.Message}"], fingerprint);
        }

        var errors = new List<string>();
        if (!string.Equals(ToJson(receipt), json.Trim(), StringComparison.Ordinal))
        {
            errors.Add("the receipt's text is not exactly as the registry printed it (it was edited or reformatted)");
        }

        errors.AddRange(Verify(receipt, publicKeyPem).Errors);
        return new ReceiptVerification(errors, fingerprint);
    }

    /// <summary>Verifies a receipt against the registry's public key (SubjectPublicKeyInfo PEM).</summary>
    public static ReceiptVerification Verify(Pb.Receipt receipt, string publicKeyPem)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(publicKeyPem);
        var errors = new List<string>();
        var fingerprint = Fingerprint(publicKeyPem);
        if (fingerprint.Length == 0)
        {
            errors.Add("the public key is not a PEM SubjectPublicKeyInfo ECDSA key");
            return new ReceiptVerification(errors, fingerprint);
        }

        if (receipt.Event is null || receipt.TreeHead is null || receipt.InclusionProof is null || receipt.LeafData.IsEmpty)
        {
            errors.Add("the receipt lacks its event, leaf_data, tree_head or inclusion_proof");
            return new ReceiptVerification(errors, fingerprint);
        }

        // 1. The tree head is signed by this key.
        var head = receipt.TreeHead;
        if (!string.Equals(head.KeyFingerprint, fingerprint, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"tree_head.key_fingerprint {head.KeyFingerprint} is not the fingerprint of the given public key ({fingerprint})");
        }

        if (head.Timestamp is null || head.RootHash.Length != MerkleHash.Size || head.TreeSize <= 0)
        {
            errors.Add("tree_head has no timestamp, a root hash that is not 32 bytes, or no leaves");
        }
        else
        {
            var ms = head.Timestamp.Seconds * 1000 + (head.Timestamp.Nanos / 1_000_000);
            var exactMilliseconds = head.Timestamp.Nanos % 1_000_000 == 0 && ms >= 0;
            var signed = new SignedTreeHead(head.TreeSize, head.RootHash.ToByteArray(), DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(ms, 0)),
                head.Signature.ToByteArray(), head.KeyFingerprint);
            if (!exactMilliseconds || !TreeHeadSigner.Verify(signed, publicKeyPem))
            {
                errors.Add("tree_head.signature does not verify with the given public key (size, root or timestamp changed, or another key)");
            }
        }

        // 2. The leaf is in that tree.
        var proof = receipt.InclusionProof;
        if (proof.TreeSize != head.TreeSize)
        {
            errors.Add($"inclusion_proof.tree_size {proof.TreeSize} differs from tree_head.tree_size {head.TreeSize}");
        }

        var leafBytes = receipt.LeafData.ToByteArray();
        var leafHash = MerkleHash.HashLeaf(leafBytes);
        var hashes = new byte[proof.Hashes.Count][];
        for (var i = 0; i < hashes.Length; i++)
        {
            hashes[i] = proof.Hashes[i].ToByteArray();
        }

        if (!MerkleVerifier.VerifyInclusion(proof.LeafIndex, head.TreeSize, leafHash, hashes, head.RootHash.Span))
        {
            errors.Add($"inclusion_proof does not prove leaf {proof.LeafIndex} in the tree of {head.TreeSize} with tree_head.root_hash");
        }

        // 3. The leaf says what the event says.
        if (!TryDecodeLeaf(leafBytes, out var leaf, out var leafError))
        {
            errors.Add("leaf_data: " + leafError);
            return new ReceiptVerification(errors, fingerprint);
        }

        var @event = receipt.Event;
        if (leaf.Sequence != proof.LeafIndex || @event.Sequence != leaf.Sequence)
        {
            errors.Add($"event.sequence {@event.Sequence}, inclusion_proof.leaf_index {proof.LeafIndex} and the leaf's sequence {leaf.Sequence} differ");
        }

        if (@event.Time is null || ToMicroseconds(@event.Time) is not { } micros || micros != leaf.TimeMicroseconds)
        {
            errors.Add("event.time is not the time recorded in the leaf");
        }

        if (!string.Equals(@event.Actor, leaf.Actor, StringComparison.Ordinal))
        {
            errors.Add($"event.actor '{@event.Actor}' is not the leaf's actor '{leaf.Actor}'");
        }

        Pb.Event payload;
        try
        {
            payload = Pb.Event.Parser.ParseFrom(leaf.Payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            errors.Add("leaf_data: the payload is not an optout.v1.Event: " + ex.Message);
            return new ReceiptVerification(errors, fingerprint);
        }

        var expected = @event.Clone();
        expected.Sequence = 0;
        expected.Time = null;
        if (!payload.Equals(expected))
        {
            errors.Add("event differs from the event hashed into the leaf (a field of the event was changed)");
        }

        if (!string.Equals(leaf.Type, TypeName(payload.ChangeCase), StringComparison.Ordinal))
        {
            errors.Add($"the leaf's type '{leaf.Type}' does not match its event");
        }

        // 4. The reservation id is the one the event is about.
        var about = payload.ChangeCase switch
        {
            Pb.Event.ChangeOneofCase.ReservationCreated => payload.ReservationCreated.Id,
            Pb.Event.ChangeOneofCase.ReservationSuperseded => payload.ReservationSuperseded.ReservationId,
            Pb.Event.ChangeOneofCase.ReservationRevoked => payload.ReservationRevoked.ReservationId,
            _ => string.Empty,
        };
        if (!string.Equals(receipt.ReservationId, about, StringComparison.Ordinal))
        {
            errors.Add($"reservation_id '{receipt.ReservationId}' is not the reservation of the event ('{about}')");
        }

        return new ReceiptVerification(errors, fingerprint);
    }

    /// <summary>Lower-case hex SHA-256 of the key's SubjectPublicKeyInfo, or empty when the PEM is not a key.</summary>
    public static string Fingerprint(string publicKeyPem)
    {
        try
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(publicKeyPem);
            return TreeHeadSigner.ComputeFingerprint(key.ExportSubjectPublicKeyInfo());
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return string.Empty;
        }
    }

    /// <summary>The fields of a leaf (Storage EventLeaf layout v1).</summary>
    public readonly record struct Leaf(long Sequence, long TimeMicroseconds, string Actor, string Type, byte[] Payload);

    /// <summary>Decodes leaf bytes: u8 version=1, u64 sequence, i64 time µs, u16+actor, u16+type, u32+payload (big-endian), nothing after.</summary>
    public static bool TryDecodeLeaf(ReadOnlySpan<byte> bytes, out Leaf leaf, out string? error)
    {
        leaf = default;
        if (bytes.Length < 1 + 8 + 8 + 2 + 2 + 4 || bytes[0] != EventLeaf.Version)
        {
            error = "not a version-1 event leaf";
            return false;
        }

        var sequence = BinaryPrimitives.ReadInt64BigEndian(bytes[1..]);
        var time = BinaryPrimitives.ReadInt64BigEndian(bytes[9..]);
        var offset = 17;
        if (!TryReadString(bytes, ref offset, out var actor) || !TryReadString(bytes, ref offset, out var type) || offset + 4 > bytes.Length)
        {
            error = "truncated";
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(bytes[offset..]);
        offset += 4;
        if (length != (uint)(bytes.Length - offset))
        {
            error = "the payload length does not match the leaf's size";
            return false;
        }

        leaf = new Leaf(sequence, time, actor, type, bytes[offset..].ToArray());
        error = null;
        return true;
    }

    private static bool TryReadString(ReadOnlySpan<byte> bytes, ref int offset, out string value)
    {
        value = string.Empty;
        if (offset + 2 > bytes.Length)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(bytes[offset..]);
        offset += 2;
        if (offset + length > bytes.Length)
        {
            return false;
        }

        value = Encoding.UTF8.GetString(bytes.Slice(offset, length));
        offset += length;
        return true;
    }

    private static long? ToMicroseconds(Google.Protobuf.WellKnownTypes.Timestamp time)
    {
        if (time.Nanos % 1000 != 0)
        {
            return null;
        }

        return (time.Seconds * 1_000_000) + (time.Nanos / 1000);
    }

    private static string TypeName(Pb.Event.ChangeOneofCase change) => change switch
    {
        Pb.Event.ChangeOneofCase.ReservationCreated => "reservation.created",
        Pb.Event.ChangeOneofCase.ReservationSuperseded => "reservation.superseded",
        Pb.Event.ChangeOneofCase.ReservationRevoked => "reservation.revoked",
        Pb.Event.ChangeOneofCase.HolderCreated => "holder.created",
        Pb.Event.ChangeOneofCase.HostVerified => "host.verified",
        Pb.Event.ChangeOneofCase.ApiKeyCreated => "api-key.created",
        Pb.Event.ChangeOneofCase.ApiKeyRevoked => "api-key.revoked",
        _ => "unknown",
    };
}
