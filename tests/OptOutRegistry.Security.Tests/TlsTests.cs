using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using OptOutRegistry.Client.Checking;
using OptOutRegistry.Grpc;
using OptOutRegistry.Server.Hosting;
using static OptOutRegistry.Security.Tests.TestHelpers;
using Pb = OptOutRegistry.Api.V1;

namespace OptOutRegistry.Security.Tests;

/// <summary>
/// Issue 9 item 4, "TLS configuration documented and tested with a self-signed certificate": the server started with
/// <c>--urls https://127.0.0.1:0 --tls-cert cert.pem --tls-key key.pem</c>, called by our client trusting only that
/// certificate, by python3-grpcio with <c>ssl_channel_credentials(root_certificates=...)</c>, and probed for TLS 1.2+ and
/// ALPN h2; HTTP/1.1 gateways share the port through ALPN.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "optout-sec-tls-" + Guid.NewGuid().ToString("N"));
    private X509Certificate2 _certificate = null!;
    private SecurityServer _server = null!;

    private string CertPath => Path.Combine(_directory, "cert.pem");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=optout-registry test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllTextAsync(CertPath, _certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(Path.Combine(_directory, "key.pem"), key.ExportPkcs8PrivateKeyPem());
        _server = await SecurityServer.StartWithAsync(["--urls", "https://127.0.0.1:0", "--http-urls", "none",
            "--tls-cert", CertPath, "--tls-key", Path.Combine(_directory, "key.pem")]);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task OurClient_TrustingTheCertificate_ChecksOverTls()
    {
        Assert.StartsWith("https://", _server.GrpcAddress, StringComparison.Ordinal);
        using var channel = GrpcChannel.ForAddress(_server.GrpcAddress, new GrpcChannelOptions { HttpHandler = TrustingHandler(), DisposeHttpHandler = true });
        await using var client = new CheckClient(channel);
        var response = await client.CheckBatchAsync(Batch(3, "tls.example"));
        Assert.Equal(3, response.Results.Count);
    }

    [Fact]
    public async Task ClientWithoutTheCertificate_IsRefused()
    {
        await using var client = CheckClient.Create(_server.GrpcAddress);
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => client.CheckBatchAsync(Batch(1)));
        Assert.True(ex is RpcException { StatusCode: StatusCode.Unavailable or StatusCode.Internal } or HttpRequestException or AuthenticationException, ex.ToString());
    }

    [Fact]
    public async Task Gateways_ShareTheTlsPort_ThroughAlpnHttp11()
    {
        using var http = new HttpClient(TrustingHandler()) { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.PostAsync(_server.GrpcAddress + "/api/v2/query/urls", new StringContent("https://tls.example/a\n"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
    }

    [Fact]
    public async Task Handshake_NegotiatesTls12OrNewer_AndAlpnH2()
    {
        var uri = new Uri(_server.GrpcAddress);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && Trusted(certificate),
        });
        Assert.Equal(SslApplicationProtocol.Http2, tls.NegotiatedApplicationProtocol);
        Assert.True(tls.SslProtocol is SslProtocols.Tls12 or SslProtocols.Tls13, tls.SslProtocol.ToString());
    }

    [Fact]
    public void TlsOptions_OfferOnlyTls12And13_WithTheConfiguredCertificate()
    {
        var https = new HttpsConnectionAdapterOptions();
        var options = new TlsOptions(CertPath, Path.Combine(_directory, "key.pem"), null);
        using var loaded = options.LoadCertificate();
        options.Configure(https, loaded);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, https.SslProtocols);
        Assert.Equal(_certificate.Thumbprint, https.ServerCertificate!.Thumbprint);
    }

    [Theory]
    [InlineData("missing.pem", null, "cannot load")]
    [InlineData(null, "key.pem", "--tls-key: given without --tls-cert")]
    [InlineData("cert.pem", null, "cannot load")] // a certificate without its key
    public void TlsOptions_BadFiles_FailWithTheOptionName(string? cert, string? key, string expected)
    {
        var options = new TlsOptions(cert is null ? null : Path.Combine(_directory, cert), key is null ? null : Path.Combine(_directory, key), null);
        var ex = Assert.Throws<FormatException>(() => options.LoadCertificate());
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PythonGrpcio_WithRootCertificates_ChecksOverTls()
    {
        const string script = """
            import sys, grpc
            address, root, request = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
            credentials = grpc.ssl_channel_credentials(root_certificates=open(root, 'rb').read())
            with grpc.secure_channel(address, credentials) as channel:
                call = channel.unary_unary('/optout.v1.Check/CheckBatch')
                sys.stdout.write(call(request, timeout=60).hex())
            """;
        var scriptPath = Path.Combine(_directory, "tls_check.py");
        await File.WriteAllTextAsync(scriptPath, script);
        var python = Environment.GetEnvironmentVariable("OPTOUT_TEST_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(scriptPath);
        start.ArgumentList.Add("localhost:" + new Uri(_server.GrpcAddress).Port);
        start.ArgumentList.Add(CertPath);
        start.ArgumentList.Add(Convert.ToHexString(Batch(2, "python-tls.example").ToByteArray()));
        // The server listens on 127.0.0.1 only; "localhost" must not be tried as ::1 first by grpc's resolver.
        start.Environment["GRPC_DNS_RESOLVER"] = "native";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr);
        var response = Pb.CheckBatchResponse.Parser.ParseFrom(Convert.FromHexString(await stdout));
        Assert.Equal(2, response.Results.Count);
    }

    private bool Trusted(X509Certificate certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(presented);
    }

    private SocketsHttpHandler TrustingHandler() => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            // Trust exactly the test's certificate, with the host-name check intact (SAN 127.0.0.1).
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                certificate is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && Trusted(certificate),
        },
    };
}
