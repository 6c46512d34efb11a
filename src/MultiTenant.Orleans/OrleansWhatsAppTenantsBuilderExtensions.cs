using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MultiTenant.Hosting;
using MultiTenant.Orleans;
using MultiTenant.Orleans.Membership;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.Storage;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs the fleet on Microsoft Orleans (MultiTenant.Orleans).</summary>
public static class OrleansWhatsAppTenantsBuilderExtensions
{
    /// <summary>
    /// Places the tenants with Orleans instead of the fleet's own reconciler: an Orleans silo runs inside this host, each tenant is a grain
    /// (key: its business id) whose activation runs the tenant on its silo, and starts, stops and sends are grain calls. Safety stays the
    /// PostgreSQL fleet's: an activation runs its tenant only under the tenant's lease (epoch-fenced writes, renewals in one statement per
    /// host, a watchdog), and one that cannot get the lease stays passive. Orleans' cluster membership lives in the same database
    /// (the migration *_orleans_membership.sql of MultiTenant.PostgreSql), so the fleet still needs only PostgreSQL. After a silo dies, its tenants run again on the survivors once it is
    /// declared dead (<see cref="OrleansFleetOptions.FailureDetectionTime"/>) and their leases expired (<see cref="FleetOptions.LeaseTtl"/>);
    /// a silo that stops gracefully releases its tenants' leases as its grains deactivate, and the others take them at once. Options bind
    /// from <c>WhatsAppTenants:Fleet:Orleans</c> (and the leases' from <c>WhatsAppTenants:Fleet</c>), then <paramref name="configure"/>
    /// runs; every host needs its own <c>WhatsAppTenants:HostId</c>, and silos on one machine their own ports. Call it after
    /// <c>UsePostgreSql(...)</c>, once.
    /// </summary>
    /// <param name="builder">The builder, with the PostgreSQL store already configured.</param>
    /// <param name="configure">Configures the Orleans fleet options; optional.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><c>UsePostgreSql(...)</c> was not called before, or this was called twice.</exception>
    public static WhatsAppTenantsBuilder UseOrleansFleet(this WhatsAppTenantsBuilder builder, Action<OrleansFleetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(static d => d.ServiceType == typeof(OrleansTenantPlacement)))
        {
            throw new InvalidOperationException("UseOrleansFleet() was called twice: the silo is configured once.");
        }

        builder.UseFleetLeases();
        services.AddOptions<OrleansFleetOptions>().Validate(static o =>
        {
            o.ThrowIfInvalid();
            return true;
        }).ValidateOnStart();
        services.AddSingleton<IConfigureOptions<OrleansFleetOptions>>(static sp => new BindFromConfiguration(sp.GetService<IConfiguration>()));
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.AddSingleton(static sp => new OrleansTenantPlacement(
            sp.GetRequiredService<FleetLeases>(),
            sp.GetRequiredService<IGrainFactory>(),
            sp.GetRequiredService<IClusterMembershipService>(),
            sp.GetRequiredService<ILocalSiloDetails>(),
            sp.GetRequiredService<ITenantStatusStore>(),
            sp.GetRequiredService<IOptions<OrleansFleetOptions>>(),
            sp.GetService<TimeProvider>(),
            sp.GetRequiredService<ILogger<OrleansTenantPlacement>>()));
        services.RemoveAll<ITenantPlacement>();
        services.AddSingleton<ITenantPlacement>(static sp => sp.GetRequiredService<OrleansTenantPlacement>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static sp => sp.GetRequiredService<OrleansTenantPlacement>());

        services.AddOrleans(static silo =>
        {
            silo.Services.AddSingleton<IMembershipTable>(static sp => new PostgreSqlMembershipTable(
                sp.GetRequiredService<FleetLeases>(), sp.GetRequiredService<IOptions<ClusterOptions>>()));
            silo.Services.AddOptions<ClusterOptions>().Configure<IOptions<OrleansFleetOptions>>(static (cluster, fleet) =>
            {
                cluster.ClusterId = fleet.Value.ClusterId;
                cluster.ServiceId = fleet.Value.ServiceId;
            });
            silo.Services.AddOptions<EndpointOptions>().Configure<IOptions<OrleansFleetOptions>>(static (endpoints, fleet) =>
            {
                var o = fleet.Value;
                endpoints.AdvertisedIPAddress = o.GetAddress();
                endpoints.SiloPort = o.SiloPort;
                endpoints.GatewayPort = o.GatewayPort;
                endpoints.SiloListeningEndpoint = new IPEndPoint(IPAddress.Any, o.SiloPort);
                endpoints.GatewayListeningEndpoint = new IPEndPoint(IPAddress.Any, o.GatewayPort);
            });

            // Failure detection in seconds, not Orleans' default of about half a minute: a dead silo's tenants wait for it.
            silo.Services.AddOptions<ClusterMembershipOptions>().Configure<IOptions<OrleansFleetOptions>>(static (membership, fleet) =>
            {
                const int missedProbes = 4;
                membership.NumMissedProbesLimit = missedProbes;
                membership.ProbeTimeout = fleet.Value.FailureDetectionTime / missedProbes;
                membership.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                membership.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(5);
            });
        });
        return builder;
    }

    private sealed class BindFromConfiguration(IConfiguration? configuration) : IConfigureOptions<OrleansFleetOptions>
    {
        public void Configure(OrleansFleetOptions options) => configuration?.GetSection(OrleansFleetOptions.SectionName).Bind(options);
    }
}
