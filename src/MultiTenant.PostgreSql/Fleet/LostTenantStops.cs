using System.Collections.Concurrent;
using MultiTenant.Hosting;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Stops, in the background, the tenants whose leases were lost: the caller (the renewals, the watchdog) never waits for a tenant's
/// drain, so one slow handler cannot delay the renewal of the other leases. Each stop is bounded
/// (<see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/>, the disconnect by the connect timeout); the tenant reports the
/// ownership-lost error at once. The stops still winding down are awaited by <see cref="WhenAllAsync"/> (when the host stops).
/// </summary>
internal sealed class LostTenantStops
{
    private readonly ConcurrentDictionary<Task, byte> _losing = new();

    /// <summary>Begins stopping <paramref name="tenants"/> on <paramref name="host"/> with the ownership-lost reason.</summary>
    public void Stop(ITenantHost host, IReadOnlyList<TenantId> tenants)
    {
        foreach (var tenant in tenants)
        {
            var stop = host.DeactivateAsync(tenant, TenantDeactivationReason.OwnershipLost);
            if (!stop.IsCompleted)
            {
                _losing[stop] = 0;
                _ = stop.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _losing, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Waits for the stops still winding down (their failures are the tenants' own, already reported).</summary>
    public Task WhenAllAsync() => Task.WhenAll(_losing.Keys);
}
