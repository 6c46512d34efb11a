using MultiTenant.Diagnostics;
using MultiTenant.Storage;

namespace MultiTenant.Hosting;

/// <summary>The coordinator's limit on running tenants (<see cref="TenantCoordinatorOptions.MaxTenants"/>).</summary>
public sealed partial class TenantCoordinator
{
    // One start at a time under a limit on this host, so this host's starts cannot overshoot it together.
    private readonly SemaphoreSlim _limitGate = new(1, 1);

    /// <summary>
    /// Starts <paramref name="tenant"/> unless the registry (the store: every host of a fleet) already records
    /// <see cref="TenantCoordinatorOptions.MaxTenants"/> other tenants as running. Starts on other hosts at the same moment may overshoot
    /// the limit by their number; the next start sees it.
    /// </summary>
    private async ValueTask<TenantStatus> StartWithinLimitAsync(ITenantRegistry registry, TenantId tenant, int maxTenants, CancellationToken cancellationToken)
    {
        await _limitGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var running = await registry.ListDesiredRunningAsync(cancellationToken).ConfigureAwait(false);
            if (running.Count >= maxTenants && !running.Contains(tenant))
            {
                Log.TenantLimitReached(Logger, tenant.Value, maxTenants);
                throw new TenantLimitReachedException(maxTenants);
            }

            return await _placement.RequestStartAsync(tenant, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _limitGate.Release();
        }
    }
}
