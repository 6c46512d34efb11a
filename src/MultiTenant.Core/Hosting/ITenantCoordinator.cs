using MultiTenant.Clients;
using MultiTenant.Diagnostics;

namespace MultiTenant.Hosting;

/// <summary>Starts, stops, lists and sends through tenants. Thread-safe; no call waits on another tenant's I/O.</summary>
public interface ITenantCoordinator
{
    /// <summary>The id of this host.</summary>
    string HostId { get; }

    /// <summary>Whether the host is shutting down (starts are refused and readiness is false).</summary>
    bool IsStopping { get; }

    /// <summary>How many tenants are in each state on this host. Lock-free.</summary>
    TenantCounts Counts { get; }

    /// <summary>
    /// Starts <paramref name="tenant"/> and records it as desired-running, so it runs again after a restart until it is stopped.
    /// Returns once the tenant is <see cref="TenantState.Starting"/>; it connects in the background.
    /// </summary>
    /// <exception cref="TenantAlreadyRunningException">The tenant already runs (a tenant in <see cref="TenantState.Error"/> may be started again).</exception>
    /// <exception cref="TenantCoordinatorStoppingException">The host is shutting down.</exception>
    ValueTask<TenantStatus> StartAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops <paramref name="tenant"/> and records it as desired-stopped. Cancels a pending connect or backoff, disconnects the client,
    /// and completes once queued events were handled. Stopping a stopped tenant is a no-op that returns its status.
    /// </summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    ValueTask<TenantStatus> StopAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Reads a tenant's status, or <see langword="null"/> when the tenant is not known.</summary>
    ValueTask<TenantStatus?> GetStatusAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Lists the statuses of all known tenants, in ordinal order of their ids.</summary>
    ValueTask<IReadOnlyList<TenantStatus>> ListStatusesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks <paramref name="tenant"/>'s client to log its device out (the optional <see cref="ITenantClientLogout"/>); the client then
    /// reports <see cref="TenantFatalReason.LoggedOut"/> and the tenant goes to <see cref="TenantState.Error"/>. Works on the host that
    /// runs the tenant.
    /// </summary>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    /// <exception cref="TenantNotConnectedException">The tenant has no client on this host (stopped, or run by another host).</exception>
    /// <exception cref="TenantLogoutNotSupportedException">The tenant's client cannot log out.</exception>
    Task LogoutAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists one page of statuses (issue 12): at most <see cref="TenantStatusQuery.Limit"/> after the query's cursor, in ordinal order of
    /// the ids, of the query's state when it has one. Read on with <see cref="TenantStatusPage.Next"/> until it is <see langword="null"/>;
    /// a page may hold fewer statuses than the limit while more follow. This default implementation pages the whole list.
    /// </summary>
    async ValueTask<TenantStatusPage> ListStatusPageAsync(TenantStatusQuery query, CancellationToken cancellationToken = default) =>
        TenantStatusPage.FromSorted(await ListStatusesAsync(cancellationToken).ConfigureAwait(false), query);

    /// <summary>
    /// Sends a message of any kind the backend sends through a connected tenant. The kind and the backend's limits are checked first,
    /// before any client or relay is involved (<see cref="ITenantClientMessageKinds"/>; a backend without it sends text only).
    /// </summary>
    /// <exception cref="MessageKindNotSupportedException">The tenant's backend cannot send the message's kind; nothing was sent.</exception>
    /// <exception cref="InvalidMessageException">The message breaks one of the backend's limits; nothing was sent.</exception>
    /// <exception cref="TenantNotFoundException">The tenant is not known.</exception>
    /// <exception cref="TenantNotConnectedException">The tenant is not connected.</exception>
    /// <exception cref="TenantSendException">The backend refused the message.</exception>
    Task<SendMessageResult> SendMessageAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken = default);
}
