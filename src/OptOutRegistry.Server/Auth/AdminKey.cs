using System.Security.Cryptography;

namespace OptOutRegistry.Server.Auth;

/// <summary>
/// The operator's admin key: <c>OPTOUT_ADMIN_KEY</c>, or generated on first start into <c>{data-dir}/admin-key</c>
/// (mode 0600, written once, never logged). Only its SHA-256 is kept in memory.
/// </summary>
public sealed class AdminKey
{
    /// <summary>The environment variable that supplies the key.</summary>
    public const string EnvironmentVariable = "OPTOUT_ADMIN_KEY";

    /// <summary>File name inside the data directory.</summary>
    public const string FileName = "admin-key";

    private readonly byte[] _hash;

    private AdminKey(byte[] hash, string? path)
    {
        _hash = hash;
        FilePath = path;
    }

    /// <summary>The file the key was read from or written to; null when it came from the environment.</summary>
    public string? FilePath { get; }

    /// <summary>True when <paramref name="keyHash"/> is the admin key's hash (constant-time comparison).</summary>
    public bool Matches(ReadOnlySpan<byte> keyHash) => CryptographicOperations.FixedTimeEquals(_hash, keyHash);

    /// <summary>Loads the key from <paramref name="environmentValue"/> or the data directory, creating the file on first start.</summary>
    /// <exception cref="UnauthorizedAccessException">The key file is accessible to group or others.</exception>
    /// <exception cref="FormatException">The key file is empty.</exception>
    /// <remarks>Both are exceptions the host turns into a one-line message and exit code 2 (ServerHost.RunAsync).</remarks>
    public static AdminKey Load(string dataDirectory, string? environmentValue)
    {
        if (!string.IsNullOrEmpty(environmentValue))
        {
            return new AdminKey(ApiKeys.Hash(environmentValue.Trim()), null);
        }

        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using var stream = new FileStream(path, options);
                using var writer = new StreamWriter(stream);
                writer.Write(ApiKeys.Generate() + "\n");
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use that one (written once).
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            const UnixFileMode groupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            if ((File.GetUnixFileMode(path) & groupOrOther) != 0)
            {
                throw new UnauthorizedAccessException($"The admin key file '{path}' is accessible to group or others; run chmod 600 on it.");
            }
        }

        var key = File.ReadAllText(path).Trim();
        if (key.Length == 0)
        {
            throw new FormatException($"The admin key file '{path}' is empty; delete it to have a new key generated.");
        }

        return new AdminKey(ApiKeys.Hash(key), path);
    }
}
