using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OptOutRegistry.Grpc.Tests.TestAssets;
using OptOutRegistry.Interop.V1;

namespace OptOutRegistry.Grpc.Tests;

/// <summary>https:// negotiates HTTP/2 through ALPN (Kestrel Http1AndHttp2 over TLS, a throwaway self-signed certificate).</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private WebApplication? _app;
    private X509Certificate2? _certificate;
    private string _address = "";

    public async Task InitializeAsync()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Re-import so the private key is usable by SslStream on every platform.
        _certificate = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), null);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, o =>
        {
            o.Protocols = HttpProtocols.Http1AndHttp2;
            o.UseHttps(_certificate);
        }));
        builder.Services.AddGrpcTransport();
        _app = builder.Build();
        InteropTestService.Map(_app, new InteropTestService());
        // VSTest and xunit park pool threads in this process: give the in-process server the free workers a server process has.
        ThreadPoolHeadroom.Ensure();
        await _app.StartAsync();
        _address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
        _certificate?.Dispose();
    }

    [Fact]
    public async Task Https_NegotiatesHttp2ThroughAlpn_AndCallsSucceed()
    {
        Assert.StartsWith("https://", _address);
        var thumbprint = _certificate!.Thumbprint;
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert is X509Certificate2 c && c.Thumbprint == thumbprint;
        using var channel = GrpcChannel.ForAddress(_address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpHandler = true });
        var response = await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "over tls" });
        Assert.Equal("over tls", response.Message);
        using var call = channel.DuplexStreaming(Methods.Bidi);
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "b" });
        Assert.True(await call.ResponseStream.MoveNext());
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task Https_OwnHttp2Transport_NegotiatesAlpnAndHonoursCertificateValidation()
    {
        var thumbprint = _certificate!.Thumbprint;
        using var channel = GrpcChannel.ForAddress(_address, new GrpcChannelOptions
        {
            Transport = GrpcTransport.Http2,
            ServerCertificateValidation = (_, cert, _, _) => cert is X509Certificate2 c && c.Thumbprint == thumbprint,
        });
        var response = await channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "own h2 over tls" });
        Assert.Equal("own h2 over tls", response.Message);
        using var call = channel.DuplexStreaming(Methods.Bidi);
        await call.RequestStream.WriteAsync(new EchoRequest { Message = "b" });
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("b", call.ResponseStream.Current.Message);
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext());
    }

    [Fact]
    public async Task Https_OwnHttp2Transport_UntrustedCertificate_IsUnavailable()
    {
        // No validation callback: the platform rejects the self-signed certificate.
        using var channel = GrpcChannel.ForAddress(_address, new GrpcChannelOptions { Transport = GrpcTransport.Http2 });
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(Methods.UnaryEcho, new EchoRequest { Message = "x" }));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Contains("TLS", ex.Status.Detail);
    }
}
