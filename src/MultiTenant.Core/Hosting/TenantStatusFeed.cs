using MultiTenant.Clients;

namespace MultiTenant.Hosting;

/// <summary>
/// The status changes of the tenants running on this host, live, for views such as the dashboard: every status the coordinator
/// publishes is offered to each current reader. Registered as a singleton by <c>AddWhatsAppTenants()</c>. Changes made by other hosts
/// of a fleet are not seen here; read <see cref="ITenantCoordinator.ListStatusesAsync"/> for the whole fleet.
/// </summary>
public sealed class TenantStatusFeed
{
    private readonly Broadcast<TenantStatus> _changes = new();

    /// <summary>Offers <paramref name="status"/> to every reader. Called by the coordinator on each transition; never blocks.</summary>
    internal void Publish(TenantStatus status)
    {
        if (_changes.HasReaders)
        {
            _changes.Publish(status);
        }
    }

    /// <summary>
    /// Reads every status change from this call on until <paramref name="cancellationToken"/> is cancelled, in order per tenant. A reader that
    /// falls more than 256 changes behind loses the oldest (read the statuses again to resynchronise).
    /// </summary>
    public IAsyncEnumerable<TenantStatus> ReadChangesAsync(CancellationToken cancellationToken) => _changes.ReadAllAsync(cancellationToken);
}
