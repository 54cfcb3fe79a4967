using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OptOutRegistry.Signals.Tests;

/// <summary>A real Kestrel site on 127.0.0.1 (port 0) whose routes each test sets.</summary>
internal sealed class TestSite : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);

    private TestSite(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    public static async Task<TestSite> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        // The test host parks pool threads for the whole run (VSTest's socket loop, xunit's runner) and the pool does not
        // count them as blocked: on 2 cores that leaves Kestrel no free worker once hill climbing settles, and a request
        // waits 0.5-1 s for the pool's starvation check (ThreadPoolHeadroom's remarks; TemporaryServer does the same).
        OptOutRegistry.Grpc.ThreadPoolHeadroom.Ensure();
        var site = new TestSite(app);
        app.Run(async context =>
        {
            var key = context.Request.Path.Value + context.Request.QueryString.Value;
            site._hits.AddOrUpdate(context.Request.Path.Value ?? "", 1, (_, n) => n + 1);
            if (site._routes.TryGetValue(key, out var handler) || site._routes.TryGetValue(context.Request.Path.Value ?? "", out handler))
            {
                await handler(context);
            }
            else
            {
                context.Response.StatusCode = 404;
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        site.BaseUri = new Uri(address.TrimEnd('/') + "/");
        return site;
    }

    public Uri Url(string path) => new(BaseUri, path);

    public int Hits(string path) => _hits.TryGetValue(path, out var n) ? n : 0;

    public void Map(string path, Func<HttpContext, Task> handler) => _routes[path] = handler;

    public void Text(string path, string body, string contentType = "text/plain", params (string Name, string Value)[] headers) =>
        Map(path, async ctx =>
        {
            ctx.Response.ContentType = contentType;
            foreach (var (name, value) in headers)
            {
                ctx.Response.Headers.Append(name, value);
            }

            await ctx.Response.WriteAsync(body);
        });

    public void Bytes(string path, byte[] body, string contentType) =>
        Map(path, async ctx =>
        {
            ctx.Response.ContentType = contentType;
            await ctx.Response.Body.WriteAsync(body);
        });

    public void Status(string path, int status) => Map(path, ctx =>
    {
        ctx.Response.StatusCode = status;
        return Task.CompletedTask;
    });

    public void Redirect(string path, string location, int status = 302) => Map(path, ctx =>
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers.Location = location;
        return Task.CompletedTask;
    });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
