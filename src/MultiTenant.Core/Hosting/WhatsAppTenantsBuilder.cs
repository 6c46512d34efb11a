using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.Hosting;

/// <summary>Configures the tenant coordinator; returned by <c>services.AddWhatsAppTenants()</c>.</summary>
public sealed class WhatsAppTenantsBuilder
{
    internal WhatsAppTenantsBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Adds an event handler (a singleton shared by all tenants). Adding the same type twice adds it once.</summary>
    public WhatsAppTenantsBuilder AddEventHandler<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where THandler : class, ITenantEventHandler
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ITenantEventHandler, THandler>());
        return this;
    }

    /// <summary>Adds an event handler instance. Each call adds the instance it is given (unlike <see cref="AddEventHandler{THandler}"/>).</summary>
    public WhatsAppTenantsBuilder AddEventHandler(ITenantEventHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Services.AddSingleton(handler);
        return this;
    }

    /// <summary>Sets the factory that creates each tenant's client (a singleton), replacing any set before.</summary>
    public WhatsAppTenantsBuilder UseClientFactory<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TFactory>()
        where TFactory : class, ITenantClientFactory
    {
        Services.Replace(ServiceDescriptor.Singleton<ITenantClientFactory, TFactory>());
        return this;
    }

    /// <summary>Sets the client factory instance, replacing any set before.</summary>
    public WhatsAppTenantsBuilder UseClientFactory(ITenantClientFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        Services.Replace(ServiceDescriptor.Singleton(factory));
        return this;
    }

    /// <summary>Configures the coordinator's options (applied after configuration binding).</summary>
    public WhatsAppTenantsBuilder Configure(Action<TenantCoordinatorOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(configure);
        return this;
    }
}
