using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OptOutRegistry.Grpc.Tests.TestAssets;

/// <summary>A real Kestrel server on 127.0.0.1, port 0: h2c on one endpoint, HTTP/1.1 on another (for the 426 test).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public string Address { get; private set; } = "";

    public string Http1Address { get; private set; } = "";

    public InteropTestService Service { get; } = new();

    public HealthStatusRegistry Health => _app!.Services.GetRequiredService<HealthStatusRegistry>();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(System.Net.IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddGrpcTransport(o =>
        {
            o.ResponseCompressionAlgorithm = null;
        });
        _app = builder.Build();
        InteropTestService.Map(_app, Service);
        _app.MapGrpcHealthService();
        _app.MapGrpcReflectionService();
        // A 307 that keeps the method: HttpClient would re-POST the call to UnaryEcho if it followed redirects.
        _app.MapPost("/redirect.Test/Call", context =>
        {
            context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            context.Response.Headers.Location = "/optout.interop.v1.InteropTest/UnaryEcho";
            return Task.CompletedTask;
        });
        // VSTest and xunit park pool threads in this process: give the in-process server the free workers a server process has.
        ThreadPoolHeadroom.Ensure();
        await _app.StartAsync();
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        Address = addresses[0];
        Http1Address = addresses[1];
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
