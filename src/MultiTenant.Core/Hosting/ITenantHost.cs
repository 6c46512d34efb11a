using MultiTenant.Clients;

namespace MultiTenant.Hosting;

/// <summary>
/// This host as an <see cref="ITenantPlacement"/> sees it: runs and stops tenants here, without touching the registry (the placement
/// records desired state and ownership itself). Implemented by the coordinator; every member is thread-safe and lock-free or bounded.
/// </summary>
public interface ITenantHost
{
    /// <summary>This host's id (<see cref="TenantCoordinatorOptions.HostId"/>).</summary>
    string HostId { get; }

    /// <summary>Whether the host is shutting down: <see cref="Activate"/> refuses then.</summary>
    bool IsStopping { get; }

    /// <summary>
    /// Runs <paramref name="tenant"/> here: its client is created and connects in the background. <paramref name="ownershipEpoch"/> is
    /// given to the client (<see cref="TenantClientContext.OwnershipEpoch"/>) and to the state store of the run, so that side effects can
    /// be fenced: a higher epoch means a newer owner.
    /// </summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="ownershipEpoch">The epoch under which this run owns the tenant; <see cref="TenantOwnership.SingleHostEpoch"/> on a single host.</param>
    /// <returns><see langword="false"/> when the tenant already runs here or the host is stopping.</returns>
    bool Activate(TenantId tenant, long ownershipEpoch);

    /// <summary>
    /// Stops <paramref name="tenant"/> here: cancels a connect or a backoff, disconnects the client and drains the event queue. With
    /// <see cref="TenantDeactivationReason.OwnershipLost"/> the tenant reports <see cref="TenantState.Error"/> with the reason
    /// <see cref="TenantFatalReason.OwnershipLost"/>, and event handlers still running after
    /// <see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/> are cancelled, so the returned task completes within a bounded time
    /// unless a handler ignores its cancellation token.
    /// </summary>
    /// <returns>The tenant's final local status, or <see langword="null"/> when it never ran here.</returns>
    Task<TenantStatus?> DeactivateAsync(TenantId tenant, TenantDeactivationReason reason);

    /// <summary>This host's own view of <paramref name="tenant"/>, or <see langword="null"/> when it does not run and never ran here.</summary>
    TenantStatus? GetLocalStatus(TenantId tenant);

    /// <summary>Sends through the tenant's client on this host only; a tenant that does not run here counts as stopped.</summary>
    /// <exception cref="TenantNotConnectedException">The tenant does not run here or is not connected.</exception>
    /// <exception cref="TenantSendException">The backend refused the message.</exception>
    Task<SendMessageResult> SendLocalAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken);
}

/// <summary>Why <see cref="ITenantHost.DeactivateAsync"/> stops a tenant here.</summary>
public enum TenantDeactivationReason
{
    /// <summary>The tenant was stopped, or handed over to another host, in order: it ends <see cref="TenantState.Stopped"/>.</summary>
    Released = 0,

    /// <summary>
    /// This host lost the tenant (its lease expired or was taken over): the tenant ends in <see cref="TenantState.Error"/> with the reason
    /// <see cref="TenantFatalReason.OwnershipLost"/>, and its drain is bounded by <see cref="TenantCoordinatorOptions.OwnershipLostDrainTimeout"/>.
    /// </summary>
    OwnershipLost = 1,
}

/// <summary>Constants of tenant ownership.</summary>
public static class TenantOwnership
{
    /// <summary>The ownership epoch of every run on a single host (<see cref="SingleHostPlacement"/>): there is no other owner to fence.</summary>
    public const long SingleHostEpoch = 0;
}
