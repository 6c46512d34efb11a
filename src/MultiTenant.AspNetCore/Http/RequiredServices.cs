using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Hosting;

namespace MultiTenant.AspNetCore.Http;

/// <summary>Fails the mapping of an endpoint, with a helpful message, when the services it needs were not added.</summary>
internal static class RequiredServices
{
    public static void ThrowIfTenantsMissing(IEndpointRouteBuilder endpoints, string method)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var services = endpoints.ServiceProvider;
        bool registered = services.GetService<IServiceProviderIsService>() is { } isService
            ? isService.IsService(typeof(ITenantCoordinator))
            : services.GetService<ITenantCoordinator>() is not null;
        if (!registered)
        {
            throw new InvalidOperationException(
                $"{method}() needs the tenant coordinator, which is not registered. Call builder.Services.AddWhatsAppTenants() " +
                "(and .UseClientFactory<TFactory>()) when configuring services, before building the application.");
        }
    }
}
