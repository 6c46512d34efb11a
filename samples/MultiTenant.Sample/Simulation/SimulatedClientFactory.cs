using System.Text;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;

namespace MultiTenant.Sample.Simulation;

/// <summary>Creates <see cref="SimulatedClient"/>s, so the sample runs anywhere without WhatsApp.</summary>
public sealed class SimulatedClientFactory(IOptionsMonitor<SimulatorOptions> options) : ITenantClientFactory
{
    public async ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (Array.IndexOf(settings.UnpairedTenants, context.BusinessId.Value) >= 0)
        {
            throw new TenantFatalException(TenantFatalReason.NotPaired, "No paired device for this tenant (simulated). Pair a device first.");
        }

        // A real client loads its paired device from the tenant's state store; the simulator "pairs" on first use.
        var device = await context.State.GetAsync("device", "id", cancellationToken).ConfigureAwait(false);
        if (device is null)
        {
            var id = Encoding.UTF8.GetBytes($"sim-device-{context.BusinessId}-{Random.Shared.Next():x8}");
            await context.State.SetAsync("device", "id", id, cancellationToken).ConfigureAwait(false);
        }

        return new SimulatedClient(context, settings);
    }
}
