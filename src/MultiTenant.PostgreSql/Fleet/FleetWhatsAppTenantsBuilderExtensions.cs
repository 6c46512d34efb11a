using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.Storage;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs the tenants over several hosts that share one PostgreSQL database (a fleet, SPEC §8).</summary>
public static class FleetWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Configures fleet mode, which <c>UsePostgreSql(...)</c> turns on for every host (call that first; one host is a fleet of one, and
    /// this call is only needed to set options in code): every running tenant is owned by exactly one host through
    /// a lease in the database (TTL 8 s by default, judged by the database clock, renewed in one statement per host every 3 s, fenced by an
    /// epoch that every status and client-state write carries); hosts heartbeat every 2 s and count as dead after 3 missed heartbeats; the
    /// desired tenants are spread over the live hosts by rendezvous hashing (with an optional per-host capacity); a dead host's tenants
    /// run again on the survivors once its leases expire (5–8 s after its death with the defaults, plus the connect time); a host that stops
    /// gracefully hands its tenants over at once; a start or stop on any host takes effect on the owner within a second (LISTEN/NOTIFY on
    /// one dedicated connection per host, with a reconcile every second as a fallback). Every host needs its own
    /// <c>WhatsAppTenants:HostId</c>. Options bind from <c>WhatsAppTenants:Fleet</c>, then <paramref name="configure"/> runs; they are
    /// validated when the host starts. Calling it again only adds <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The builder, with the PostgreSQL store already configured.</param>
    /// <param name="configure">Configures the fleet options; optional.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><c>UsePostgreSql(...)</c> was not called before.</exception>
    public static WhatsAppTenantsBuilder UseFleet(this WhatsAppTenantsBuilder builder, Action<FleetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(static d => d.ServiceType == typeof(PostgreSqlTenantStore)))
        {
            throw new InvalidOperationException("UseFleet() needs the PostgreSQL store: call UsePostgreSql(...) before UseFleet().");
        }

        AddFleetServices(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    /// <summary>
    /// For a placement engine of its own (for example <c>UseOrleansFleet()</c> of MultiTenant.Orleans, which calls this): keeps the fleet's
    /// leases, heartbeats and fenced status and client-state stores, driven through the <see cref="FleetLeases"/> singleton this
    /// registers, and removes the fleet's own placement (its reconciler and send relay), so the engine registers its own
    /// <see cref="ITenantPlacement"/> after this call. Options bind from <c>WhatsAppTenants:Fleet</c> as with <see cref="UseFleet"/>
    /// (the placement options, such as the reconcile interval and the capacity, are not used). Calling it again changes nothing.
    /// </summary>
    /// <param name="builder">The builder, with the PostgreSQL store already configured.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><c>UsePostgreSql(...)</c> was not called before.</exception>
    public static WhatsAppTenantsBuilder UseFleetLeases(this WhatsAppTenantsBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (!services.Any(static d => d.ServiceType == typeof(PostgreSqlTenantStore)))
        {
            throw new InvalidOperationException("UseFleetLeases() needs the PostgreSQL store: call UsePostgreSql(...) first.");
        }

        if (services.Any(static d => d.ServiceType == typeof(FleetLeases)))
        {
            return builder;
        }

        AddFleetServices(services);
        services.RemoveAll<FleetMember>();
        services.RemoveAll<ITenantPlacement>();
        services.AddSingleton(static sp => new FleetLeases(
            sp.GetRequiredService<PostgreSqlTenantStore>(),
            sp.GetRequiredService<CoordinationDataSource>().DataSource,
            sp.GetRequiredService<IOptions<FleetOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<FleetLeases>>()));
        AddFencedStores<FleetLeases>(services);
        return builder;
    }

    /// <summary>
    /// Registers the fleet engine (placement, leases, fenced status and client-state stores) once. <c>UsePostgreSql()</c> calls it, so
    /// every host on PostgreSQL is a member of a fleet (one host is a fleet of one) and no two processes on one database run a tenant at
    /// the same time.
    /// </summary>
    internal static void AddFleetServices(IServiceCollection services)
    {
        if (services.Any(static d => d.ServiceType == typeof(FleetMember) || d.ServiceType == typeof(FleetLeases)))
        {
            return;
        }

        services.AddOptions<FleetOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<FleetOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FleetOptions>, FleetOptionsValidator>());
        services.AddSingleton(static sp => new CoordinationDataSource(sp));
        services.AddSingleton(static sp =>
        {
            var coordination = sp.GetRequiredService<CoordinationDataSource>();
            var logger = sp.GetService<ILogger<FleetMember>>();
            if (coordination.Shared && logger is not null)
            {
                FleetLog.CoordinationPoolShared(logger, FleetOptions.CoordinationDataSourceKey);
            }

            return new FleetMember(
                sp.GetRequiredService<PostgreSqlTenantStore>(),
                coordination.DataSource,
                sp.GetRequiredService<IOptions<FleetOptions>>().Value,
                sp.GetService<TimeProvider>(),
                logger,
                sp.GetService<IHostApplicationLifetime>());
        });
        services.AddSingleton<ITenantPlacement>(static sp => sp.GetRequiredService<FleetMember>());

        // Status writes and running clients' state writes carry the lease epoch. ITenantStateStoreProvider stays the unfenced
        // administrative access (credentials set through the API before a tenant runs anywhere).
        AddFencedStores<FleetMember>(services);
    }

    private static void AddFencedStores<TFence>(IServiceCollection services)
        where TFence : class, ILeaseFence
    {
        services.RemoveAll<ITenantStatusStore>();
        services.RemoveAll<ITenantRunStateStoreProvider>();
        services.AddSingleton<ITenantStatusStore>(static sp => new FencedStatusStore(
            sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetRequiredService<TFence>()));
        services.AddSingleton<ITenantRunStateStoreProvider>(static sp => new FencedStateStoreProvider(
            sp.GetRequiredService<PostgreSqlTenantStore>(), sp.GetRequiredService<TFence>()));
    }

    /// <summary>
    /// The fleet's coordination data source: the host's keyed one, else one with its own pool next to the data source
    /// <c>UsePostgreSql(url)</c> built (disposed with the services), else the store's own (shared; <see cref="Shared"/>).
    /// </summary>
    internal sealed class CoordinationDataSource : IAsyncDisposable
    {
        private readonly bool _owned;

        public CoordinationDataSource(IServiceProvider services)
        {
            var store = services.GetRequiredService<PostgreSqlTenantStore>();
            if (services.GetKeyedService<Npgsql.NpgsqlDataSource>(FleetOptions.CoordinationDataSourceKey) is { } keyed)
            {
                DataSource = keyed;
            }
            else if (services.GetService<OwnedDataSource>() is { } owned && ReferenceEquals(services.GetService<Npgsql.NpgsqlDataSource>(), store.DataSource) && owned.Created)
            {
                DataSource = owned.CreateCoordination(services, services.GetRequiredService<IOptions<FleetOptions>>().Value.CoordinationPoolSize);
                _owned = true;
            }
            else
            {
                DataSource = store.DataSource;
                Shared = true;
            }
        }

        public Npgsql.NpgsqlDataSource DataSource { get; }

        /// <summary>Whether coordination shares the store's pool (a data source the host registered, and no keyed one).</summary>
        public bool Shared { get; }

        public async ValueTask DisposeAsync()
        {
            if (_owned)
            {
                await DataSource.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<FleetOptions>
    {
        public void Configure(FleetOptions options) => configuration?.GetSection(FleetOptions.SectionName).Bind(options);
    }
}
