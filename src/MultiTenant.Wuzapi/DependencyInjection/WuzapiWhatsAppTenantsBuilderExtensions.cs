using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.Wuzapi;
using MultiTenant.Wuzapi.Client;
using MultiTenant.Wuzapi.Endpoints;
using MultiTenant.Wuzapi.Engine;
using MultiTenant.Wuzapi.Users;
using MultiTenant.Wuzapi.Webhooks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Selects wuzapi engines (WhatsApp Web through whatsmeow) as the tenants' client.</summary>
public static class WuzapiWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Uses wuzapi engines for every tenant: registers the client factory (replacing any set before), the engine HTTP client (named
    /// <see cref="WuzapiOptions.HttpClientName"/>), the webhook's services and the decoder of its inbox items (source <c>wuzapi</c>),
    /// and contributes <c>PUT|DELETE /api/tenants/{business_id}/wuzapi/pair-phone</c> to the tenant API's protected group. Each
    /// tenant gets an engine user on one engine, with its token and webhook HMAC key encrypted in its state store; pairing challenges
    /// go to the <see cref="MultiTenant.Clients.TenantPairingBoard"/>. Media ids are read from the <see cref="MultiTenant.Media.IMediaStore"/>
    /// when one is registered. <see cref="WuzapiOptions"/> bind from <c>WhatsAppTenants:Wuzapi</c>, then <paramref name="configure"/>
    /// runs; they are validated when the host starts. Calling it again registers nothing twice (a new <paramref name="configure"/> is added).
    /// </summary>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UseWuzapi(this WhatsAppTenantsBuilder builder, Action<WuzapiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.UseClientFactory<WuzapiClientFactory>();
        if (!services.Any(static d => d.ServiceType == typeof(WuzapiMarker)))
        {
            AddServices(services);
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<WuzapiMarker>();
        services.AddOptions<WuzapiOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<WuzapiOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WuzapiOptions>, WuzapiOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WuzapiOptions>, WuzapiOptionsCrossValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(WuzapiOptions.HttpClientName, static client =>
            {
                // Timeouts run on the injected TimeProvider (WuzapiOptions.RequestTimeout), not on HttpClient's own clock.
                client.Timeout = Timeout.InfiniteTimeSpan;
                client.DefaultRequestHeaders.UserAgent.ParseAdd("MultiTenant.Wuzapi/1.0");
            })
            // No Information log per engine request (the health check polls); the token headers stay redacted if logs are added back.
            .RemoveAllLoggers()
            .RedactLoggedHeaders(["Authorization", "Token"]);
        services.TryAddSingleton<WuzapiEngines>();
        services.TryAddSingleton<EngineUserStorage>();
        services.TryAddSingleton<EngineUsers>();
        services.TryAddSingleton(static sp => new WuzapiServices(
            sp.GetRequiredService<EngineUsers>(),
            sp.GetRequiredService<MultiTenant.Clients.TenantPairingBoard>(),
            sp.GetRequiredService<MultiTenant.Inbox.ITenantInbox>(),
            sp.GetServices<MultiTenant.Inbox.IInboxEventDecoder>(),
            sp.GetRequiredService<IOptions<MultiTenant.Inbox.InboxDeliveryOptions>>(),
            sp.GetRequiredService<MultiTenant.Inbox.InboxMetrics>(),
            sp.GetRequiredService<IOptions<WuzapiOptions>>(),
            sp.GetService<MultiTenant.Media.IMediaStore>()));
        services.TryAddSingleton<WuzapiClientFactory>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MultiTenant.Inbox.IInboxEventDecoder, WuzapiInboxDecoder>());
        services.TryAddSingleton<WuzapiWebhookEndpoint>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MultiTenant.AspNetCore.Security.ITenantApiEndpointContributor, PairPhoneEndpointContributor>());
    }

    private sealed class WuzapiMarker;

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<WuzapiOptions>
    {
        public void Configure(WuzapiOptions options) =>
            configuration?.GetSection(WuzapiOptions.SectionName).Bind(options);
    }
}
