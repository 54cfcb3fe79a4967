using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OptOutRegistry.Grpc.Internal;
using OptOutRegistry.Grpc.Services;

namespace OptOutRegistry.Grpc;

/// <summary>Maps gRPC services onto ASP.NET Core endpoints.</summary>
public static class GrpcEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Binds the methods of a protobuf service (e.g. <c>FooReflection.Descriptor.Services[0]</c>) to
    /// <c>POST /{package.Service}/{Method}</c>. Each bound method is checked against the descriptor (existence, kind,
    /// message types); methods left unbound answer UNIMPLEMENTED "Method is unimplemented.". The descriptor is recorded
    /// for reflection and the service is reported SERVING by health. Also maps, once, the catch-all that answers
    /// UNIMPLEMENTED for unknown services and methods.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcService(this IEndpointRouteBuilder endpoints, ServiceDescriptor service, Action<GrpcServiceBinder> bind)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(bind);
        var registry = endpoints.ServiceProvider.GetService<GrpcServiceRegistry>()
            ?? throw new InvalidOperationException("Call services.AddGrpcTransport() before mapping gRPC services.");
        var options = endpoints.ServiceProvider.GetRequiredService<IOptions<GrpcServerOptions>>().Value;
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("OptOutRegistry.Grpc.Server");

        var binder = new GrpcServiceBinder(service, options, logger);
        bind(binder);
        registry.Add(service);
        endpoints.ServiceProvider.GetRequiredService<HealthStatusRegistry>().SetStatusIfUnset(service.FullName, ServingStatus.Serving);

        var builders = new List<IEndpointConventionBuilder>(service.Methods.Count + 1);
        foreach (var method in service.Methods)
        {
            var pattern = "/" + service.FullName + "/" + method.Name;
            RequestDelegate handler;
            if (binder.Bound.TryGetValue(method.Name, out var bound))
            {
                handler = bound;
            }
            else
            {
                handler = ctx => ServerProtocol.WriteUnimplemented(ctx, "Method is unimplemented.", logger);
            }
            builders.Add(endpoints.MapMethods(pattern, s_post, handler).WithDisplayName("gRPC " + pattern));
        }
        MapUnimplementedOnce(endpoints, registry, logger);
        return new CompositeEndpointConventionBuilder(builders);
    }

    /// <summary>Maps <c>grpc.health.v1.Health</c> (Check and Watch), backed by <see cref="HealthStatusRegistry"/>.</summary>
    public static IEndpointConventionBuilder MapGrpcHealthService(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var health = endpoints.ServiceProvider.GetService<HealthStatusRegistry>()
            ?? throw new InvalidOperationException("Call services.AddGrpcTransport() before mapping gRPC services.");
        var service = new HealthServiceImpl(health);
        return endpoints.MapGrpcService(global::Grpc.Health.V1.HealthReflection.Descriptor.Services[0], b => b
            .Unary<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>("Check", service.Check)
            .ServerStreaming<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>("Watch", service.Watch));
    }

    /// <summary>
    /// Maps server reflection, <c>grpc.reflection.v1.ServerReflection</c> and <c>grpc.reflection.v1alpha.ServerReflection</c>,
    /// describing every service mapped on this server with its files and their dependencies.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcReflectionService(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var registry = endpoints.ServiceProvider.GetService<GrpcServiceRegistry>()
            ?? throw new InvalidOperationException("Call services.AddGrpcTransport() before mapping gRPC services.");
        var service = new ReflectionServiceImpl(registry);
        var v1 = endpoints.MapGrpcService(global::Grpc.Reflection.V1.ReflectionReflection.Descriptor.Services[0], b => b
            .DuplexStreaming<global::Grpc.Reflection.V1.ServerReflectionRequest, global::Grpc.Reflection.V1.ServerReflectionResponse>("ServerReflectionInfo", service.ServerReflectionInfo));
        var v1Alpha = endpoints.MapGrpcService(global::Grpc.Reflection.V1Alpha.ReflectionReflection.Descriptor.Services[0], b => b
            .DuplexStreaming<global::Grpc.Reflection.V1Alpha.ServerReflectionRequest, global::Grpc.Reflection.V1Alpha.ServerReflectionResponse>("ServerReflectionInfo", service.ServerReflectionInfoV1Alpha));
        return new CompositeEndpointConventionBuilder([v1, v1Alpha]);
    }

    private static readonly string[] s_post = ["POST"];

    private static void MapUnimplementedOnce(IEndpointRouteBuilder endpoints, GrpcServiceRegistry registry, ILogger logger)
    {
        if (!registry.TryClaimUnimplementedEndpoint(endpoints))
        {
            return;
        }
        // Matches only POST with a gRPC content-type, so other requests to unknown paths still get a plain 404
        // (grpc-dotnet GrpcUnimplementedConstraint). Literal routes of mapped methods always win over parameters.
        var pattern = RoutePatternFactory.Parse(
            "{unimplementedService}/{unimplementedMethod}",
            defaults: null,
            parameterPolicies: new RouteValueDictionary { ["unimplementedService"] = new GrpcUnimplementedConstraint() });
        endpoints.Map(pattern, ctx =>
        {
            var serviceName = ctx.Request.RouteValues["unimplementedService"] as string;
            var detail = serviceName is not null && registry.IsKnownService(serviceName) ? "Method is unimplemented." : "Service is unimplemented.";
            return ServerProtocol.WriteUnimplemented(ctx, detail, logger);
        })
        .WithMetadata(new HttpMethodMetadata(s_post))
        .WithDisplayName("gRPC - Unimplemented")
        .Add(b => ((RouteEndpointBuilder)b).Order = int.MaxValue);
    }

    private sealed class GrpcUnimplementedConstraint : IRouteConstraint
    {
        public bool Match(HttpContext? httpContext, IRouter? route, string routeKey, RouteValueDictionary values, RouteDirection routeDirection)
            => httpContext is not null
               && HttpMethods.IsPost(httpContext.Request.Method)
               && GrpcProtocolHelpers.IsGrpcContentType(httpContext.Request.ContentType);
    }

    private sealed class CompositeEndpointConventionBuilder(List<IEndpointConventionBuilder> builders) : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
            foreach (var b in builders)
            {
                b.Add(convention);
            }
        }

        public void Finally(Action<EndpointBuilder> finallyConvention)
        {
            foreach (var b in builders)
            {
                b.Finally(finallyConvention);
            }
        }
    }
}

/// <summary>Registers the gRPC transport's services.</summary>
public static class GrpcServiceCollectionExtensions
{
    /// <summary>
    /// Adds the gRPC transport: <see cref="GrpcServerOptions"/>, the <see cref="HealthStatusRegistry"/> and the service
    /// registry used by reflection. Call before <c>MapGrpcService</c>.
    /// </summary>
    public static IServiceCollection AddGrpcTransport(this IServiceCollection services, Action<GrpcServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddRouting();
        services.AddOptions<GrpcServerOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.AddSingleton<GrpcServiceRegistry>();
        services.AddSingleton<HealthStatusRegistry>();
        return services;
    }
}
