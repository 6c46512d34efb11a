using MultiTenant.Clients;

namespace MultiTenant.Hosting;

/// <summary>
/// The seam between the coordinator and a fleet: decides which tenants run on this host when several hosts share one store.
/// Registered by a store package (for example <c>UseFleet()</c> of MultiTenant.PostgreSql). Without one the coordinator runs in
/// single-host mode: it resumes the registry's tenants itself and starts and stops them locally.
/// </summary>
/// <remarks>
/// With a placement the coordinator forwards API starts and stops to it (any host accepts any call), does not resume tenants on its own,
/// and lets the placement run and stop tenants on this host through <see cref="TenantCoordinator.ActivateLocal"/> and
/// <see cref="TenantCoordinator.DeactivateLocalAsync"/>.
/// </remarks>
internal interface ITenantPlacement
{
    /// <summary>Joins the fleet (membership, leases, notifications). Called by the coordinator when the host starts.</summary>
    Task StartAsync(TenantCoordinator coordinator, CancellationToken cancellationToken);

    /// <summary>Records a start request fleet-wide; the tenant then runs on the host placement chooses.</summary>
    /// <exception cref="TenantAlreadyRunningException">The tenant already runs somewhere in the fleet.</exception>
    ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken);

    /// <summary>Records a stop request fleet-wide; the owning host stops the tenant.</summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a message through the tenant's owner host when the tenant does not run on this host (any host accepts any API call), and
    /// answers as a local send would: the owner's message id or the same typed exceptions.
    /// </summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    /// <exception cref="TenantNotConnectedException">No host runs the tenant, or its owner's client is not connected.</exception>
    /// <exception cref="TenantSendException">The backend refused the message, or the owner did not answer in time (transient).</exception>
    Task<SendMessageResult> RelaySendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Leaves the fleet: called by the coordinator after it stopped this host's tenants and flushed their statuses. Releases the leases
    /// and tells the other hosts, so they take the tenants over at once.
    /// </summary>
    Task StopAsync(CancellationToken cancellationToken);
}
