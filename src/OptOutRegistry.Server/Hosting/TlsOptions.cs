using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace OptOutRegistry.Server.Hosting;

/// <summary>
/// The certificate of <c>https://</c> addresses. Configuration keys: <c>tls-cert</c> (a PEM certificate, optionally
/// followed by its chain, or a PKCS#12 <c>.pfx</c>/<c>.p12</c> file), <c>tls-key</c> (the PEM private key; not needed for
/// PKCS#12 or when the key is in the <c>tls-cert</c> file) and <c>tls-password</c> (for an encrypted key or PKCS#12 file).
/// Without <c>tls-cert</c>, Kestrel's own configuration applies (<c>Kestrel:Certificates:Default:Path</c>, or the
/// ASP.NET Core development certificate). Whatever the certificate's source, only TLS 1.2 and 1.3 are offered
/// (RFC 8996 deprecates 1.0 and 1.1; gRPC requires TLS 1.2+, PROTOCOL-HTTP2.md "TLS") and ALPN offers h2 and http/1.1.
/// </summary>
public sealed record TlsOptions(string? CertificatePath, string? KeyPath, string? Password)
{
    /// <summary>The protocols offered on every TLS endpoint.</summary>
    public const SslProtocols Protocols = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>Reads <c>tls-cert</c>, <c>tls-key</c> and <c>tls-password</c>.</summary>
    public static TlsOptions FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new TlsOptions(configuration["tls-cert"], configuration["tls-key"], configuration["tls-password"]);
    }

    /// <summary>Loads the certificate named by <see cref="CertificatePath"/>, or null when none is configured.</summary>
    /// <exception cref="FormatException">The file is missing, unreadable or holds no usable certificate and private key (names the option and the reason).</exception>
    public X509Certificate2? LoadCertificate()
    {
        if (string.IsNullOrEmpty(CertificatePath))
        {
            if (!string.IsNullOrEmpty(KeyPath))
            {
                throw new FormatException("--tls-key: given without --tls-cert");
            }

            return null;
        }

        try
        {
            var extension = Path.GetExtension(CertificatePath).ToLowerInvariant();
            var certificate = extension is ".pfx" or ".p12"
                ? X509CertificateLoader.LoadPkcs12FromFile(CertificatePath, Password)
                : string.IsNullOrEmpty(Password)
                    ? X509Certificate2.CreateFromPemFile(CertificatePath, KeyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(CertificatePath, Password, KeyPath);
            if (!certificate.HasPrivateKey)
            {
                throw new FormatException($"--tls-cert: '{CertificatePath}' has no private key; give it with --tls-key");
            }

            return certificate;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new FormatException($"--tls-cert/--tls-key: cannot load a certificate and private key from '{CertificatePath}'{(KeyPath is null ? string.Empty : $" and '{KeyPath}'")}: {ex.Message}", ex);
        }
    }

    /// <summary>Applies the protocol floor and, when given, the certificate to one HTTPS endpoint.</summary>
    public void Configure(HttpsConnectionAdapterOptions https, X509Certificate2? certificate)
    {
        ArgumentNullException.ThrowIfNull(https);
        https.SslProtocols = Protocols;
        if (certificate is not null)
        {
            https.ServerCertificate = certificate;
        }
    }
}
