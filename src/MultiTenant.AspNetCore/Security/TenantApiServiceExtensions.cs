using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MultiTenant.AspNetCore.Dashboard;
using MultiTenant.AspNetCore.Security;
using MultiTenant.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the tenant API's security: the API key scheme and its policies.</summary>
public static class TenantApiServiceExtensions
{
    /// <summary>
    /// Registers the API key authentication scheme (<see cref="TenantApiAuthentication.Scheme"/>, admin key from
    /// <c>WhatsAppTenants:Api:AdminKey</c> unless <paramref name="configure"/> sets it) and the policies
    /// <see cref="TenantApiAuthentication.TenantScopePolicy"/> and <see cref="TenantApiAuthentication.AdminPolicy"/>; for
    /// <c>MapTenantDashboard()</c>, the browser sign-in's cookie scheme (<see cref="TenantApiAuthentication.DashboardCookieScheme"/>,
    /// which needs the host's Data Protection key ring shared by every host behind one address), its forwarding scheme and policy
    /// (<see cref="TenantApiAuthentication.DashboardPolicy"/>) and antiforgery.
    /// <c>MapTenantApi()</c> refuses to map without it, so the API is never open. Also registers the API's rate limiter policy
    /// (<see cref="TenantApiRateLimitOptions"/>, from <c>WhatsAppTenants:Api:RateLimits</c>; the host calls <c>app.UseRateLimiter()</c>),
    /// and the delivery of outbound webhooks (<see cref="TenantWebhookServiceExtensions.AddTenantWebhooks"/>), whose subscriptions the
    /// API manages. Idempotent.
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
        var authentication = services.AddAuthentication()
            .AddScheme<TenantApiKeyAuthenticationOptions, TenantApiKeyAuthenticationHandler>(TenantApiAuthentication.Scheme, configure);
        DashboardAuthentication.Register(services, authentication);

        // With several schemes ASP.NET Core picks no default, so UseAuthentication() would leave every request anonymous and the rate
        // limiter (which runs before the endpoint's policy) would count API calls by client address instead of by key. Unless the host
        // chose a default itself, requests are authenticated by the API key header when there is one, else by the dashboard's cookie.
        services.PostConfigure<AuthenticationOptions>(static o =>
        {
            if (o.DefaultScheme is null && o.DefaultAuthenticateScheme is null)
            {
                o.DefaultAuthenticateScheme = TenantApiAuthentication.DashboardScheme;
            }
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(TenantApiAuthentication.TenantScopePolicy, static p => p
                .AddAuthenticationSchemes(TenantApiAuthentication.Scheme)
                .RequireAuthenticatedUser()
                .AddRequirements(new TenantScopeRequirement()))
            .AddPolicy(TenantApiAuthentication.AdminPolicy, static p => p
                .AddAuthenticationSchemes(TenantApiAuthentication.Scheme)
                .RequireAuthenticatedUser()
                .AddRequirements(new AdminRequirement()))
            .AddPolicy(TenantApiAuthentication.DashboardPolicy, static p => p
                .AddAuthenticationSchemes(TenantApiAuthentication.DashboardScheme)
                .RequireAuthenticatedUser());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, TenantScopeAuthorizationHandler>());
        TenantApiLimitServices.Add(services);

        // The API manages webhook subscriptions (PUT /api/tenants/{id}/webhooks): their delivery comes with it.
        builder.AddTenantWebhooks();
        return builder;
    }
}

/// <summary>Marks that <see cref="TenantApiServiceExtensions.AddTenantApi"/> ran.</summary>
internal sealed class TenantApiSecurityMarker;
