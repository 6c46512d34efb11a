using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.Inbox;
using MultiTenant.PostgreSql;
using MultiTenant.Storage;
using Npgsql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Puts the tenant coordinator's stores on PostgreSQL.</summary>
public static class PostgreSqlWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Stores the registry, the statuses, the per-tenant client state, the inbox, the address index, the API keys, the tenant labels and the webhook subscriptions and outbox in PostgreSQL, connecting with a <c>DATABASE_URL</c>
    /// (<c>postgres://user:password@host:port/database?sslmode=require&amp;pool_max_conns=20</c>, see <see cref="DatabaseUrl"/>) or an
    /// Npgsql connection string. Registers one <see cref="NpgsqlDataSource"/> built from it (with <c>TryAdd</c>: a data source the host
    /// registers itself is used instead, and a warning is logged at start). The schema is migrated when the host starts, before tenants
    /// are resumed; an unreachable server fails start-up with a <see cref="PostgreSqlStoreStartupException"/>. Replaces the embedded
    /// store whatever the order of the calls. Options bind from the <c>WhatsAppTenants:PostgreSql</c> section, then
    /// <paramref name="configure"/> runs; they are validated when the host starts. The key ring of secrets at rest is stored in the
    /// database too (table <c>secret_key_ring</c>), so a key-encryption key must be configured
    /// (<c>WhatsAppTenants:Secrets:KeyEncryptionKey</c>): without one start-up fails with a
    /// <see cref="MultiTenant.Secrets.TenantSecretsConfigurationException"/>. Every host on PostgreSQL runs in fleet mode (one host is a
    /// fleet of one; options in <c>WhatsAppTenants:Fleet</c> or <c>UseFleet(...)</c>): a tenant runs only on the host that holds its
    /// lease, so two processes on one database never run one tenant twice; give each process its own <c>WhatsAppTenants:HostId</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="databaseUrlOrConnectionString">A <c>postgres://</c> or <c>postgresql://</c> URI, or an Npgsql connection string.</param>
    /// <param name="configure">Configures the store's options (schema, row-level security, timeouts); optional.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidDatabaseUrlException">The URL or connection string is malformed (the message never contains the password).</exception>
    public static WhatsAppTenantsBuilder UsePostgreSql(
        this WhatsAppTenantsBuilder builder, string databaseUrlOrConnectionString, Action<PostgreSqlStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(databaseUrlOrConnectionString);
        var settings = DatabaseUrl.Parse(databaseUrlOrConnectionString);

        // The latest call's connection string wins; a data source registered by the host wins over all of them.
        builder.Services.RemoveAll<OwnedDataSource>();
        builder.Services.AddSingleton(new OwnedDataSource(settings));
        builder.Services.TryAddSingleton<NpgsqlDataSource>(static sp => sp.GetRequiredService<OwnedDataSource>().Create(sp));
        return UsePostgreSqlCore(builder, configure);
    }

    /// <summary>
    /// Stores the registry, the statuses and the per-tenant client state in PostgreSQL through the <see cref="NpgsqlDataSource"/> that
    /// the host registered (for example with Npgsql's <c>services.AddNpgsqlDataSource(...)</c>). Otherwise as
    /// <see cref="UsePostgreSql(WhatsAppTenantsBuilder, string, Action{PostgreSqlStoreOptions}?)"/>. If the data source has a custom
    /// name, set <see cref="PostgreSqlStoreOptions.DataSourceName"/> to it so the health report finds its pool figures.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddWhatsAppTenants()</c>.</param>
    /// <param name="configure">Configures the store's options; optional.</param>
    /// <returns>The builder.</returns>
    public static WhatsAppTenantsBuilder UsePostgreSql(this WhatsAppTenantsBuilder builder, Action<PostgreSqlStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return UsePostgreSqlCore(builder, configure);
    }

    private static WhatsAppTenantsBuilder UsePostgreSqlCore(WhatsAppTenantsBuilder builder, Action<PostgreSqlStoreOptions>? configure)
    {
        var services = builder.Services;
        if (!services.Any(static d => d.ServiceType == typeof(PostgreSqlStoreMarker)))
        {
            services.AddSingleton<PostgreSqlStoreMarker>();
            services.AddOptions<PostgreSqlStoreOptions>().ValidateOnStart();

            // Configuration first, so that code (configure) has the last word.
            services.AddSingleton<IConfigureOptions<PostgreSqlStoreOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlStoreOptions>, PostgreSqlStoreOptionsValidator>());

            services.TryAddSingleton(static sp => new PostgreSqlTenantStore(
                sp.GetService<NpgsqlDataSource>() ?? throw new InvalidOperationException(
                    "UsePostgreSql() without a connection string uses the NpgsqlDataSource registered in the services, and none is registered. " +
                    "Register one (for example services.AddNpgsqlDataSource(connectionString)) or call UsePostgreSql(databaseUrl)."),
                sp.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value,
                sp.GetService<TimeProvider>(),
                sp.GetService<ILogger<PostgreSqlTenantStore>>()));

            // Core registers the embedded store with TryAdd; replace it whatever the order of the calls.
            services.RemoveAll<ITenantRegistry>();
            services.RemoveAll<ITenantStatusStore>();
            services.RemoveAll<ITenantStateStoreProvider>();
            services.RemoveAll<ITenantStoreHealth>();
            services.AddSingleton<ITenantRegistry>(static sp => sp.GetRequiredService<PostgreSqlTenantStore>());
            services.AddSingleton<ITenantStatusStore>(static sp => sp.GetRequiredService<PostgreSqlTenantStore>());
            services.AddSingleton<ITenantStateStoreProvider>(static sp => sp.GetRequiredService<PostgreSqlTenantStore>());
            services.AddSingleton<ITenantStoreHealth>(static sp => sp.GetRequiredService<PostgreSqlTenantStore>());

            // The durable inbox and address index, in the store's schema.
            services.RemoveAll<ITenantAddressIndex>();
            services.RemoveAll<ITenantInbox>();
            services.AddSingleton<ITenantAddressIndex>(static sp => new PostgreSqlTenantAddressIndex(sp.GetRequiredService<PostgreSqlTenantStore>()));
            services.RemoveAll<MultiTenant.Security.ITenantApiKeyStore>();
            services.AddSingleton<MultiTenant.Security.ITenantApiKeyStore>(static sp => new PostgreSqlTenantApiKeyStore(
                sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetService<TimeProvider>()));
            services.RemoveAll<MultiTenant.Idempotency.ITenantIdempotencyStore>();
            services.AddSingleton<MultiTenant.Idempotency.ITenantIdempotencyStore>(static sp => new PostgreSqlTenantIdempotencyStore(
                sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetService<TimeProvider>()));
            services.RemoveAll<ITenantLabelStore>();
            services.AddSingleton<ITenantLabelStore>(static sp => new PostgreSqlTenantLabelStore(
                sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetService<TimeProvider>()));
            services.AddSingleton<ITenantInbox>(static sp => new PostgreSqlTenantInbox(
                sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetService<TimeProvider>(), sp.GetService<ILogger<PostgreSqlTenantInbox>>()));

            // Webhook subscriptions and the outbox, durable in the store's schema.
            services.RemoveAll<MultiTenant.Webhooks.ITenantWebhookSubscriptionStore>();
            services.RemoveAll<MultiTenant.Webhooks.ITenantWebhookOutbox>();
            services.RemoveAll<MultiTenant.Webhooks.IWebhookSubscriptionChanges>();
            services.AddSingleton(static sp => new PostgreSqlTenantWebhookStore(
                sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetService<TimeProvider>(), sp.GetService<ILogger<PostgreSqlTenantWebhookStore>>()));
            services.AddSingleton<MultiTenant.Webhooks.IWebhookSubscriptionChanges>(static sp => sp.GetRequiredService<PostgreSqlTenantWebhookStore>());
            services.AddSingleton<MultiTenant.Webhooks.ITenantWebhookSubscriptionStore>(static sp => sp.GetRequiredService<PostgreSqlTenantWebhookStore>());
            services.AddSingleton<MultiTenant.Webhooks.ITenantWebhookOutbox>(static sp => sp.GetRequiredService<PostgreSqlTenantWebhookStore>());

            // Secrets at rest: the key ring in the database, shared by every host (a key-encryption key is then required at start).
            builder.UseSecretKeyRepository(static sp =>
            {
                var store = sp.GetRequiredService<PostgreSqlTenantStore>();
                return new PostgreSqlSecretKeyRepository(
                    sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value.Schema, store.CommandTimeoutSeconds);
            });

            services.AddSingleton<IHostedService>(static sp => new PostgreSqlStoreInitializer(
                sp.GetRequiredService<PostgreSqlTenantStore>(),
                sp.GetRequiredService<IOptions<PostgreSqlStoreOptions>>(),
                sp.GetRequiredService<NpgsqlDataSource>(),
                sp.GetService<ILogger<PostgreSqlStoreInitializer>>(),
                sp.GetService<OwnedDataSource>()));

            // One runner per tenant: on PostgreSQL every host is a fleet member (a fleet of one when alone), so a second process on the
            // same database (a rolling deploy, two replicas) never runs a tenant another live process holds the lease of.
            FleetWhatsAppTenantsBuilderExtensions.AddFleetServices(services);
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private sealed class PostgreSqlStoreMarker;

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<PostgreSqlStoreOptions>
    {
        public void Configure(PostgreSqlStoreOptions options) =>
            configuration?.GetSection(PostgreSqlStoreOptions.SectionName).Bind(options);
    }
}
