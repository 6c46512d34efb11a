namespace MultiTenant.Hosting;

/// <summary>
/// The ownership epoch of the tenants running on this host, for event handlers (clients get theirs as
/// <see cref="Clients.TenantClientContext.OwnershipEpoch"/>). Registered by <c>AddWhatsAppTenants()</c>; implemented by the coordinator.
/// </summary>
/// <remarks>
/// A handler that causes side effects outside the library's database (a remote API that accepts a monotonic token, its own storage) reads
/// the epoch while it handles an event of the tenant and passes it along: a later owner of the tenant always has a higher epoch, so
/// the side effect can be fenced. Lock-free apart from one short per-tenant lock; cheap enough to call for every event.
/// </remarks>
public interface ITenantOwnershipReader
{
    /// <summary>
    /// The epoch under which <paramref name="tenant"/> runs here now: <see cref="TenantOwnership.SingleHostEpoch"/> on a single host, the
    /// lease's fencing epoch in a fleet.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="epoch">The epoch, when the method returns <see langword="true"/>.</param>
    /// <returns>
    /// <see langword="false"/> when the tenant does not run here (stopped, never started here, or this host lost its ownership: the
    /// handlers of a run that lost its lease see <see langword="false"/> from then on, while they drain).
    /// </returns>
    bool TryGetOwnershipEpoch(TenantId tenant, out long epoch);
}
