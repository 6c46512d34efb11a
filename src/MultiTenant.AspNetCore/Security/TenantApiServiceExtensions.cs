using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the tenant API's security: the API key scheme and its policies.</summary>
public static class TenantApiServiceExtensions
{
    /// <summary>
    /// Registers the API key authentication scheme (<see cref="TenantApiAuthentication.Scheme"/>, admin key from
    /// <c>WhatsAppTenants:Api:AdminKey</c> unless <paramref name="configure"/> sets it) and the policies
    /// <see cref="TenantApiAuthentication.TenantScopePolicy"/> and <see cref="TenantApiAuthentication.AdminPolicy"/>.
    /// <c>MapTenantApi()</c> refuses to map without it, so the API is never open. Also adds the delivery of outbound webhooks
    /// (<see cref="TenantWebhookServiceExtensions.AddTenantWebhooks"/>), whose subscriptions the API manages. Idempotent.
    /// </summary>
    public static WhatsAppTenantsBuilder AddTenantApi(this WhatsAppTenantsBuilder builder, Action<TenantApiKeyAuthenticationOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(static d => d.ServiceType == typeof(TenantApiSecurityMarker)))
        {
            if (configure is not null)
            {
                services.Configure(TenantApiAuthentication.Scheme, configure);
            }

            return builder;
        }

        services.AddSingleton<TenantApiSecurityMarker>();
        services.AddOptions<TenantApiKeyAuthenticationOptions>(TenantApiAuthentication.Scheme)
            .Configure<IServiceProvider>(static (o, sp) =>
                o.AdminKey ??= sp.GetService<IConfiguration>()?[TenantApiKeyAuthenticationOptions.AdminKeyConfigurationKey]);
        services.AddAuthentication()
            .AddScheme<TenantApiKeyAuthenticationOptions, TenantApiKeyAuthenticationHandler>(TenantApiAuthentication.Scheme, configure);
        services.AddAuthorizationBuilder()
            .AddPolicy(TenantApiAuthentication.TenantScopePolicy, static p => p
                .AddAuthenticationSchemes(TenantApiAuthentication.Scheme)
                .RequireAuthenticatedUser()
                .AddRequirements(new TenantScopeRequirement()))
            .AddPolicy(TenantApiAuthentication.AdminPolicy, static p => p
                .AddAuthenticationSchemes(TenantApiAuthentication.Scheme)
                .RequireAuthenticatedUser()
                .AddRequirements(new AdminRequirement()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, TenantScopeAuthorizationHandler>());

        // The API manages webhook subscriptions (PUT /api/tenants/{id}/webhooks): their delivery comes with it.
        builder.AddTenantWebhooks();
        return builder;
    }
}

/// <summary>Marks that <see cref="TenantApiServiceExtensions.AddTenantApi"/> ran.</summary>
internal sealed class TenantApiSecurityMarker;
