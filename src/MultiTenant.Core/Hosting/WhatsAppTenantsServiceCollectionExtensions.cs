using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;
using MultiTenant.Inbox;
using MultiTenant.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the WhatsApp tenant coordinator.</summary>
public static class WhatsAppTenantsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the tenant coordinator (a hosted service, also <see cref="ITenantCoordinator"/>), the embedded store (unless another store
    /// was registered), the secret protector (<see cref="MultiTenant.Secrets.ITenantSecretProtector"/>, options from
    /// <c>WhatsAppTenants:Secrets</c>), metrics and health checks. Options bind from the <c>WhatsAppTenants</c> configuration section when an
    /// <see cref="IConfiguration"/> is registered, and are validated when the host starts. Calling it again registers nothing twice.
    /// </summary>
    /// <returns>A builder to add event handlers and set the client factory.</returns>
    public static WhatsAppTenantsBuilder AddWhatsAppTenants(this IServiceCollection services) => AddWhatsAppTenants(services, configure: null);

    /// <summary>Adds the coordinator and configures its options after configuration binding.</summary>
    /// <inheritdoc cref="AddWhatsAppTenants(IServiceCollection)" path="/returns"/>
    public static WhatsAppTenantsBuilder AddWhatsAppTenants(this IServiceCollection services, Action<TenantCoordinatorOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new WhatsAppTenantsBuilder(services);
        if (services.Any(static d => d.ServiceType == typeof(WhatsAppTenantsMarker)))
        {
            if (configure is not null)
            {
                services.Configure(configure);
            }

            return builder;
        }

        services.AddSingleton<WhatsAppTenantsMarker>();
        services.AddOptions<TenantCoordinatorOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<TenantCoordinatorOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenantCoordinatorOptions>, TenantCoordinatorOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TenantCoordinatorOptions>, TenantCoordinatorOptionsCrossValidator>());

        services.TryAddSingleton(TimeProvider.System);

        // The embedded default store; a PostgreSQL store registered before or after replaces these through its own registrations.
        services.TryAddSingleton(static sp => new InMemoryTenantStore(sp.GetService<TimeProvider>()));
        services.TryAddSingleton<ITenantRegistry>(static sp => sp.GetRequiredService<InMemoryTenantStore>());
        services.TryAddSingleton<ITenantStatusStore>(static sp => sp.GetRequiredService<InMemoryTenantStore>());
        services.TryAddSingleton<ITenantStateStoreProvider>(static sp => sp.GetRequiredService<InMemoryTenantStore>());
        services.TryAddSingleton<ITenantStoreHealth>(static sp => sp.GetRequiredService<InMemoryTenantStore>());

        // The embedded inbox and address index (in memory, not durable); UsePostgreSql() replaces them.
        services.TryAddSingleton<ITenantAddressIndex, InMemoryTenantAddressIndex>();
        services.TryAddSingleton<ITenantInbox>(static sp => new InMemoryTenantInbox(sp.GetService<TimeProvider>()));
        services.TryAddSingleton(static sp => new InboxMetrics(sp.GetService<IMeterFactory>()));
        services.AddOptions<InboxDeliveryOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InboxDeliveryOptions>, InboxDeliveryOptionsValidator>());
        services.AddSingleton<IConfigureOptions<InboxDeliveryOptions>>(static sp => new BindInboxFromConfiguration(sp.GetService<IConfiguration>()));

        // The embedded webhook subscriptions and outbox (in memory, not durable); UsePostgreSql() replaces them.
        services.TryAddSingleton(static sp => new MultiTenant.Webhooks.InMemoryTenantWebhookStore(sp.GetService<TimeProvider>()));
        services.TryAddSingleton<MultiTenant.Webhooks.ITenantWebhookSubscriptionStore>(
            static sp => sp.GetRequiredService<MultiTenant.Webhooks.InMemoryTenantWebhookStore>());
        services.TryAddSingleton<MultiTenant.Webhooks.ITenantWebhookOutbox>(
            static sp => sp.GetRequiredService<MultiTenant.Webhooks.InMemoryTenantWebhookStore>());
        services.TryAddSingleton<MultiTenant.Webhooks.IWebhookSubscriptionChanges>(
            static sp => sp.GetRequiredService<MultiTenant.Webhooks.InMemoryTenantWebhookStore>());
        services.TryAddSingleton(static sp => new MultiTenant.Webhooks.WebhookMetrics(sp.GetService<IMeterFactory>()));
        services.AddOptions<MultiTenant.Webhooks.WebhookDeliveryOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<
            IValidateOptions<MultiTenant.Webhooks.WebhookDeliveryOptions>, MultiTenant.Webhooks.WebhookDeliveryOptionsValidator>());
        services.AddSingleton<IConfigureOptions<MultiTenant.Webhooks.WebhookDeliveryOptions>>(
            static sp => new BindWebhooksFromConfiguration(sp.GetService<IConfiguration>()));

        // The embedded label store (in memory, not durable); UsePostgreSql() replaces it.
        services.TryAddSingleton<ITenantLabelStore, InMemoryTenantLabelStore>();

        // The embedded API key store (in memory, not durable); UsePostgreSql() replaces it.
        services.TryAddSingleton<MultiTenant.Security.ITenantApiKeyStore>(
            static sp => new MultiTenant.Security.InMemoryTenantApiKeyStore(sp.GetService<TimeProvider>()));
        // The embedded idempotency keys of sends (bounded, in memory); UsePostgreSql() replaces it.
        services.TryAddSingleton<MultiTenant.Idempotency.ITenantIdempotencyStore>(
            static sp => new MultiTenant.Idempotency.InMemoryTenantIdempotencyStore(sp.GetService<TimeProvider>()));

        services.TryAddSingleton(static sp => new TenantMetrics(
            sp.GetService<IMeterFactory>(),
            sp.GetRequiredService<IOptions<TenantCoordinatorOptions>>().Value.MaxTenantMetricLabels));
        // Secrets at rest (ITenantSecretProtector) and their start-up check, which runs before the coordinator's hosted service.
        TenantSecretsWhatsAppTenantsBuilderExtensions.AddTenantSecrets(services);
        services.TryAddSingleton<TenantStatusFeed>();
        services.TryAddSingleton<MultiTenant.Clients.TenantPairingBoard>();
        services.TryAddSingleton<TenantCoordinator>();
        services.TryAddSingleton<ITenantCoordinator>(static sp => sp.GetRequiredService<TenantCoordinator>());
        services.TryAddSingleton<ITenantOwnershipReader>(static sp => sp.GetRequiredService<TenantCoordinator>());
        services.TryAddSingleton<MultiTenant.Diagnostics.ITenantTrafficReader>(static sp => sp.GetRequiredService<TenantCoordinator>());
        services.AddSingleton<IHostedService>(static sp => sp.GetRequiredService<TenantCoordinator>());

        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>(TenantHealthChecks.DatabaseCheckName, tags: [TenantHealthChecks.HealthTag])
            .AddCheck<LivenessHealthCheck>(TenantHealthChecks.LivenessCheckName, tags: [TenantHealthChecks.HealthTag])
            .AddCheck<TenantReadinessHealthCheck>(TenantHealthChecks.ReadinessCheckName, tags: [TenantHealthChecks.ReadyTag]);

        // After the configuration binding, so code wins over configuration.
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private sealed class WhatsAppTenantsMarker;

    private sealed class BindInboxFromConfiguration(IConfiguration? configuration) : IConfigureOptions<InboxDeliveryOptions>
    {
        public void Configure(InboxDeliveryOptions options) =>
            configuration?.GetSection(InboxDeliveryOptions.SectionName).Bind(options);
    }

    private sealed class BindWebhooksFromConfiguration(IConfiguration? configuration) : IConfigureOptions<MultiTenant.Webhooks.WebhookDeliveryOptions>
    {
        public void Configure(MultiTenant.Webhooks.WebhookDeliveryOptions options) =>
            configuration?.GetSection(MultiTenant.Webhooks.WebhookDeliveryOptions.SectionName).Bind(options);
    }

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<TenantCoordinatorOptions>
    {
        public void Configure(TenantCoordinatorOptions options) =>
            configuration?.GetSection(TenantCoordinatorOptions.SectionName).Bind(options);
    }
}
