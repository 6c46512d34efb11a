using MultiTenant.Storage;

namespace MultiTenant.Hosting;

/// <summary>The coordinator's part of a purge (<see cref="ITenantPurgeable"/>).</summary>
public sealed partial class TenantCoordinator : ITenantPurgeable
{
    /// <summary>
    /// Forgets a stopped <paramref name="tenant"/> on this host, as a purge (<c>DELETE /api/tenants/{business_id}?purge=true</c>) needs
    /// before the stores erase it: waits until its last status is written (so it cannot land after the erase), then drops its stopped
    /// supervisor, so nothing of it stays in memory. A tenant that runs is left alone: stop it first.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="cancellationToken">Cancels the wait for the status write.</param>
    public async ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await _statusWriter.FlushAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (_supervisors.TryGetValue(tenant, out var supervisor) && supervisor.TryRetire(supervisor.Status))
        {
            Forget(tenant, supervisor);
        }
    }
}
