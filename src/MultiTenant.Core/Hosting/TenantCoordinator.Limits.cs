using MultiTenant.Diagnostics;
using MultiTenant.Storage;

namespace MultiTenant.Hosting;

/// <summary>The coordinator's limit on running tenants (<see cref="TenantCoordinatorOptions.MaxTenants"/>).</summary>
public sealed partial class TenantCoordinator
{
    private readonly ITenantRegistry _registry;

    // One start at a time under a limit on this host, so this host's starts cannot overshoot it together. Not disposed with the
    // coordinator: a SemaphoreSlim holds no wait handle unless AvailableWaitHandle is read, which nothing does.
    private readonly SemaphoreSlim _limitGate = new(1, 1);

    /// <summary>Asks the placement to start <paramref name="tenant"/>, within <see cref="TenantCoordinatorOptions.MaxTenants"/> when set.</summary>
    private ValueTask<TenantStatus> StartPlacedAsync(TenantId tenant, CancellationToken cancellationToken) =>
        Options.MaxTenants > 0
            ? StartWithinLimitAsync(_registry, tenant, Options.MaxTenants, cancellationToken)
            : _placement.RequestStartAsync(tenant, cancellationToken);

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
