using System.Security.Cryptography;

namespace OptOutRegistry.Transparency;

/// <summary>
/// Signs tree heads with the log's ECDSA P-256 key, and verifies them offline with the public half.
/// The private key lives in the data directory as PKCS#8 PEM with mode 0600; it is created on first start.
/// </summary>
public sealed class TreeHeadSigner : IDisposable
{
    /// <summary>File name of the private key inside the data directory.</summary>
    public const string KeyFileName = "transparency-signing-key.pem";

    private readonly ECDsa _key;

    private TreeHeadSigner(ECDsa key, string keyFilePath)
    {
        _key = key;
        KeyFilePath = keyFilePath;
        PublicKeySpki = key.ExportSubjectPublicKeyInfo();
        KeyFingerprint = ComputeFingerprint(PublicKeySpki);
    }

    /// <summary>The file the private key was loaded from.</summary>
    public string KeyFilePath { get; }

    /// <summary>The public key as DER SubjectPublicKeyInfo.</summary>
    public byte[] PublicKeySpki { get; }

    /// <summary>Lower-case hex SHA-256 of <see cref="PublicKeySpki"/>: the key's name in receipts.</summary>
    public string KeyFingerprint { get; }

    /// <summary>The public key as SPKI PEM ("-----BEGIN PUBLIC KEY-----"), for publishing.</summary>
    public string ExportPublicKeyPem() => PemEncoding.WriteString("PUBLIC KEY", PublicKeySpki);

    /// <summary>
    /// Loads the key from <paramref name="dataDirectory"/>, creating it (mode 0600) on first start.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others, or is not a P-256 key.</exception>
    public static TreeHeadSigner LoadOrCreate(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        return LoadOrCreateFile(Path.Combine(dataDirectory, KeyFileName));
    }

    /// <summary>
    /// Loads the key from the file at <paramref name="path"/>, creating it (mode 0600) when it does not exist. Servers that
    /// share one PostgreSQL database share one log, so they must sign with one key: each is given the same file.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others, or is not a P-256 key.</exception>
    public static TreeHeadSigner LoadOrCreateFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (!File.Exists(path))
        {
            using var created = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var pem = created.ExportPkcs8PrivateKeyPem();
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }

                using (var stream = new FileStream(path, options))
                using (var writer = new StreamWriter(stream))
                {
                    writer.Write(pem);
                    writer.Flush();
                    stream.Flush(flushToDisk: true);
                }
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            const UnixFileMode groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((mode & groupOrOther) != 0)
            {
                throw new InvalidOperationException(
                    $"The transparency signing key '{path}' is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); run chmod 600 on it.");
            }
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new InvalidOperationException($"The transparency signing key '{path}' is not an ECDSA P-256 key.");
            }
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new InvalidOperationException($"The transparency signing key '{path}' cannot be read: {ex.Message}", ex);
        }
        catch
        {
            key.Dispose();
            throw;
        }

        return new TreeHeadSigner(key, Path.GetFullPath(path));
    }

    /// <summary>Signs the head (size, root, timestamp truncated to milliseconds).</summary>
    public SignedTreeHead Sign(long treeSize, ReadOnlySpan<byte> rootHash, DateTimeOffset timestamp)
    {
        var ms = timestamp.ToUnixTimeMilliseconds();
        var encoded = SignedTreeHead.Encode(treeSize, rootHash, ms);
        var signature = _key.SignData(encoded, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return new SignedTreeHead(treeSize, rootHash.ToArray(), DateTimeOffset.FromUnixTimeMilliseconds(ms), signature, KeyFingerprint);
    }

    /// <summary>
    /// Signs <paramref name="prefix"/> ‖ <paramref name="digest"/> with the log key (ECDSA P-256, SHA-256, DER): the
    /// other artefacts the registry signs with the one key it publishes (snapshot files, docs/snapshot-format.md).
    /// <paramref name="prefix"/> is that artefact's own domain-separation string, so its signature can never be
    /// taken for a tree head's; a prefix overlapping <see cref="SignedTreeHead.Prefix"/> is refused.
    /// </summary>
    /// <exception cref="ArgumentException">An empty prefix, or one that a tree head's encoding could start with.</exception>
    public byte[] SignDigest(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> digest)
    {
        var treeHead = SignedTreeHead.Prefix;
        if (prefix.IsEmpty || prefix.StartsWith(treeHead) || treeHead.StartsWith(prefix))
        {
            throw new ArgumentException("The prefix must be a domain-separation string of its own, not the tree head's.", nameof(prefix));
        }

        var message = new byte[prefix.Length + digest.Length];
        prefix.CopyTo(message);
        digest.CopyTo(message.AsSpan(prefix.Length));
        return _key.SignData(message, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>Verifies a signed head against a public key given as SPKI PEM. Needs no store and no private key.</summary>
    public static bool Verify(SignedTreeHead head, string publicKeyPem)
    {
        ArgumentNullException.ThrowIfNull(publicKeyPem);
        using var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(publicKeyPem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return false;
        }

        return Verify(head, key);
    }

    /// <summary>Verifies a signed head against a public key given as DER SubjectPublicKeyInfo.</summary>
    public static bool Verify(SignedTreeHead head, ReadOnlySpan<byte> publicKeySpki)
    {
        using var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(publicKeySpki, out _);
        }
        catch (CryptographicException)
        {
            return false;
        }

        return Verify(head, key);
    }

    /// <summary>Lower-case hex SHA-256 of a DER SubjectPublicKeyInfo.</summary>
    public static string ComputeFingerprint(ReadOnlySpan<byte> publicKeySpki) => Convert.ToHexStringLower(SHA256.HashData(publicKeySpki));

    private static bool Verify(SignedTreeHead head, ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (head.RootHash is null || head.RootHash.Length != MerkleHash.Size || head.TreeSize < 0 || head.Signature is null)
        {
            return false;
        }

        var spki = key.ExportSubjectPublicKeyInfo();
        if (!string.Equals(ComputeFingerprint(spki), head.KeyFingerprint, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return key.VerifyData(head.Encode(), head.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <inheritdoc/>
    public void Dispose() => _key.Dispose();
}
