using MultiTenant.Clients;

namespace MultiTenant.Hosting;

/// <summary>
/// Decides where tenants run: the coordinator asks it to start, stop and send, and it runs and stops tenants on this host through the
/// <see cref="ITenantHost"/> it is given. <see cref="SingleHostPlacement"/> (the default) runs every tenant here; a fleet
/// (<c>UseFleet()</c> of MultiTenant.PostgreSql) places them over several hosts that share one database.
/// </summary>
/// <remarks>
/// Register one implementation as a singleton <see cref="ITenantPlacement"/> in the service collection (it replaces the default). The
/// coordinator calls <see cref="StartAsync"/> once when the host starts and <see cref="StopAsync"/> once after it stopped every local
/// tenant and flushed their statuses. All other members may be called concurrently from any thread.
/// </remarks>
public interface ITenantPlacement
{
    /// <summary>
    /// Called once when the host starts: the placement keeps <paramref name="host"/> and runs the tenants it places here (for example the
    /// tenants the registry records as running).
    /// </summary>
    /// <param name="host">This host: runs and stops tenants locally.</param>
    /// <param name="cancellationToken">Cancelled when the host's start is aborted.</param>
    Task StartAsync(ITenantHost host, CancellationToken cancellationToken);

    /// <summary>Records a start request (desired-running); the tenant then runs on the host the placement chooses.</summary>
    /// <returns>The tenant's status right after the request (<see cref="TenantState.Starting"/>).</returns>
    /// <exception cref="TenantAlreadyRunningException">The tenant already runs (on any host the placement knows).</exception>
    /// <exception cref="TenantCoordinatorStoppingException">This host is shutting down.</exception>
    ValueTask<TenantStatus> RequestStartAsync(TenantId tenant, CancellationToken cancellationToken);

    /// <summary>Records a stop request (desired-stopped); the host running the tenant stops it.</summary>
    /// <returns>The tenant's status after the request (<see cref="TenantState.Stopped"/>, or its stored error).</returns>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    ValueTask<TenantStatus> RequestStopAsync(TenantId tenant, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a message through the tenant's client, wherever it runs (locally through <see cref="ITenantHost.SendLocalAsync"/>, or through
    /// the host that runs it), and answers as a local send would.
    /// </summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    /// <exception cref="TenantNotConnectedException">No host runs the tenant, or its client is not connected.</exception>
    /// <exception cref="TenantSendException">The backend refused the message.</exception>
    /// <exception cref="TenantUnavailableException">The host running the tenant did not take the send in time; it was not sent and may be retried.</exception>
    Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Whether <paramref name="tenant"/> is placed on this host now, so this host's own status of it is the freshest one. Always
    /// <see langword="true"/> on a single host; in a fleet, while this host holds the tenant's lease. Cheap and lock-free.
    /// </summary>
    bool IsPlacedHere(TenantId tenant);

    /// <summary>
    /// Called once after the coordinator stopped this host's tenants and flushed their statuses: a fleet hands the tenants over (releases
    /// their leases) so the other hosts run them at once.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the host's shutdown timeout runs out.</param>
    Task StopAsync(CancellationToken cancellationToken);
}
